/**
 * Questions about a room that only its owning shard can answer (who is in
 * it, what its priority engine counted), asked over the bus. In one process the admin API reads the shard
 * directly; in a fleet the admin process does not know which shard owns a
 * room, so it sends the question on the room's inbound channel, which only
 * the owner listens to, and waits for the answer on a reply channel of its
 * own.
 *
 * A question nobody answers within the timeout resolves undefined: the room
 * has no owner just now (a failover or hand-off in progress) or the bus is
 * down. During a hand-off two shards may both answer; the first one wins.
 */
import { randomUUID } from 'node:crypto';
import { channels, type Bus, type BusHandler } from '../bus/index.js';
import type { RoomAccounting } from '../priority/index.js';
import { decodeValue, encodeValue } from '../protocol/index.js';
import { encodeEnvelope } from './envelopes.js';
import type { MemberList } from './members.js';

/** `['page', afterUserId, limit]`, `['get', userId]` or `['stats']`. */
export type ShardQuery = ['page', string, number] | ['get', string] | ['stats'];

/** The owner's figures for a room: the answer to `['stats']`. */
export interface RoomStats {
  members: number;
  /** Counted since this shard took the room; see docs/distributed.md. */
  accounting: RoomAccounting;
}

export interface MemberInfo {
  id: string;
  name: string;
  role: string;
  /** Edges holding at least one socket of the user in the room. */
  connections: number;
}

export interface MemberPage {
  count: number;
  members: MemberInfo[];
}

/** Most members one page question may ask for. */
export const MAX_QUERY_PAGE = 1001;

/** The owner's side: answers a member question from its member list. */
export function answerQuery(
  members: MemberList,
  query: Exclude<ShardQuery, ['stats']>,
): MemberPage | MemberInfo | null {
  if (query[0] === 'page') {
    const [, afterUserId, limit] = query;
    return {
      count: members.count,
      members: members
        .page(afterUserId, Math.min(limit, MAX_QUERY_PAGE))
        .map(([id, member]) => ({
          id,
          name: member.name,
          role: member.role,
          connections: member.edges.size,
        })),
    };
  }

  const member = members.get(query[1]);
  return member === undefined
    ? null
    : {
        id: query[1],
        name: member.name,
        role: member.role,
        connections: member.edges.size,
      };
}

/** An answer on the bus: `['answer', requestId, answer]`. */
export function encodeAnswer(requestId: string, answer: unknown): Buffer {
  return encodeValue(['answer', requestId, answer]);
}

export interface ShardQueryClientOptions {
  bus: Bus;
  /** How long to wait for the owner's answer, ms. Default 2,000. */
  timeoutMs?: number;
}

/** The asking side, for an admin process in a fleet. */
export class ShardQueryClient {
  #bus: Bus;
  #timeoutMs: number;
  #replyChannel = `replies:${randomUUID()}`;
  #pending = new Map<string, (answer: unknown) => void>();
  #subscribed: Promise<void> | undefined;
  #onReply: BusHandler = (payload) => {
    let value: unknown;
    try {
      value = decodeValue(payload);
    } catch {
      return;
    }

    if (
      Array.isArray(value) &&
      value[0] === 'answer' &&
      typeof value[1] === 'string'
    ) {
      this.#pending.get(value[1])?.(value[2]);
    }
  };

  constructor(options: ShardQueryClientOptions) {
    this.#bus = options.bus;
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  /** One page of members after `afterUserId` in id order. */
  async page(
    roomKey: string,
    afterUserId: string,
    limit: number,
  ): Promise<MemberPage | undefined> {
    return (await this.#ask(roomKey, ['page', afterUserId, limit])) as
      MemberPage | undefined;
  }

  /** One member; null when not in the room, undefined when unanswered. */
  async get(
    roomKey: string,
    userId: string,
  ): Promise<MemberInfo | null | undefined> {
    return (await this.#ask(roomKey, ['get', userId])) as
      MemberInfo | null | undefined;
  }

  /** The room's members count and engine accounting; undefined when unanswered. */
  async stats(roomKey: string): Promise<RoomStats | undefined> {
    return (await this.#ask(roomKey, ['stats'])) as RoomStats | undefined;
  }

  async close(): Promise<void> {
    for (const resolve of this.#pending.values()) {
      resolve(undefined);
    }

    await this.#bus.unsubscribe(this.#replyChannel, this.#onReply);
  }

  async #ask(roomKey: string, query: ShardQuery): Promise<unknown> {
    this.#subscribed ??= this.#bus
      .subscribe(this.#replyChannel, this.#onReply)
      .catch((error: unknown) => {
        this.#subscribed = undefined;
        throw error;
      });
    const requestId = randomUUID();
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), this.#timeoutMs);
      const finish = (answer: unknown) => {
        clearTimeout(timer);
        this.#pending.delete(requestId);
        resolve(answer);
      };
      this.#pending.set(requestId, finish);
      this.#subscribed?.then(
        () =>
          this.#bus.publish(
            channels.roomIn(roomKey),
            encodeEnvelope(['query', this.#replyChannel, requestId, query]),
          ),
        () => finish(undefined),
      );
    });
  }
}
