/**
 * The reliable log of a standalone process: a bounded array per room. It is
 * as durable as the process; docs/protocol.md says what resume can promise
 * across a restart in this mode (nothing: clients are told to reload).
 */
import type { ReliableItem } from '../protocol/index.js';
import type {
  Appended,
  AppendOptions,
  HistoryLimits,
  ReadResult,
  ReliableDraft,
  ReliableLog,
} from './log.js';

interface RoomHistory {
  lastSeq: number;
  items: ReliableItem[];
  followers: Set<(item: ReliableItem) => void>;
  /** dedupe key -> the item it appended; oldest first, bounded */
  appended: Map<string, ReliableItem>;
}

/**
 * Dedupe keys kept per room. A process-local log only dedupes retries within
 * the process (the jobs of a standalone process without Redis die with it),
 * so a bound sized for a burst of broadcasts is enough.
 */
const MAX_DEDUPE_KEYS = 10_000;

export class MemoryReliableLog implements ReliableLog {
  #rooms = new Map<string, RoomHistory>();
  #limits: HistoryLimits;
  #clock: () => number;

  constructor(limits: HistoryLimits, clock: () => number = Date.now) {
    this.#limits = limits;
    this.#clock = clock;
  }

  async appendOnce(
    roomKey: string,
    draft: ReliableDraft,
    options: AppendOptions,
  ): Promise<Appended> {
    const { dedupeKey } = options;
    const room = this.#room(roomKey);
    const prior =
      dedupeKey === undefined ? undefined : room.appended.get(dedupeKey);
    if (prior !== undefined) {
      return { item: { ...draft, id: prior.id, seq: prior.seq }, fresh: false };
    }

    const item = this.#append(room, draft);
    if (dedupeKey !== undefined) {
      room.appended.set(dedupeKey, item);
      if (room.appended.size > MAX_DEDUPE_KEYS) {
        const oldest = room.appended.keys().next().value as string;
        room.appended.delete(oldest);
      }
    }

    return { item, fresh: true };
  }

  async append(roomKey: string, draft: ReliableDraft): Promise<ReliableItem> {
    return this.#append(this.#room(roomKey), draft);
  }

  #append(room: RoomHistory, draft: ReliableDraft): ReliableItem {
    room.lastSeq++;
    const item: ReliableItem = { ...draft, seq: room.lastSeq };
    room.items.push(item);
    this.#trim(room);
    for (const follower of room.followers) {
      follower(item);
    }

    return item;
  }

  async readAfter(
    roomKey: string,
    afterSeq: number,
    limit: number,
  ): Promise<ReadResult> {
    const room = this.#rooms.get(roomKey);
    const lastSeq = room?.lastSeq ?? 0;
    if (afterSeq > lastSeq) {
      return { kind: 'ahead', lastSeq };
    }

    if (room === undefined || afterSeq === lastSeq) {
      return { kind: 'ok', items: [], lastSeq };
    }

    this.#trim(room);
    const oldestSeq = room.items[0]?.seq ?? lastSeq + 1;
    if (afterSeq + 1 < oldestSeq) {
      return { kind: 'gone', oldestSeq, lastSeq };
    }

    const start = afterSeq + 1 - oldestSeq;
    return {
      kind: 'ok',
      items: room.items.slice(start, start + limit),
      lastSeq,
    };
  }

  async lastSeq(roomKey: string): Promise<number> {
    return this.#rooms.get(roomKey)?.lastSeq ?? 0;
  }

  /**
   * In one process the shard publishes an item within a tick of its append,
   * so the last assigned seq stands in for the published one. Frames of the
   * current tick still on their way carry items up to it; the edge takes
   * them out for viewers that start after it (LocalRoom.staleUpTo).
   */
  async publishedSeq(roomKey: string): Promise<number> {
    return this.lastSeq(roomKey);
  }

  async follow(
    roomKey: string,
    afterSeq: number,
    onItem: (item: ReliableItem) => void,
  ): Promise<() => void> {
    const room = this.#room(roomKey);
    for (const item of room.items) {
      if (item.seq > afterSeq) {
        onItem(item);
      }
    }

    room.followers.add(onItem);
    return () => room.followers.delete(onItem);
  }

  async drop(roomKey: string): Promise<void> {
    this.#rooms.delete(roomKey);
  }

  #room(roomKey: string): RoomHistory {
    let room = this.#rooms.get(roomKey);
    if (room === undefined) {
      room = {
        lastSeq: 0,
        items: [],
        followers: new Set(),
        appended: new Map(),
      };
      this.#rooms.set(roomKey, room);
    }

    return room;
  }

  #trim(room: RoomHistory): void {
    const oldestTs = this.#clock() - this.#limits.maxAgeSeconds * 1000;
    let drop = Math.max(0, room.items.length - this.#limits.maxItems);
    while (drop < room.items.length && (room.items[drop]?.ts ?? 0) < oldestTs) {
      drop++;
    }

    if (drop > 0) {
      room.items.splice(0, drop);
    }
  }
}
