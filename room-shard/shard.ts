/**
 * A room shard owns a set of rooms. For each it keeps the members, the
 * priority engine and the position in the reliable log, and once per tick
 * turns what arrived into at most one batch frame, encoded once here and
 * forwarded untouched by every edge (plus a reliable-only copy for viewers
 * that are shedding the lossy lane).
 *
 * Idle rooms cost one check per tick: the engine says when it has nothing
 * pending and the member list says when the count did not move.
 *
 * Frames leave through a RoomOutlet: the bus in one process, a fenced
 * publish in a fleet (only the lease holder may publish, and each frame's
 * reliable seqs must follow the last published ones). When the outlet
 * refuses a frame the room is abandoned and claimed again from the last
 * published seq, so viewers never see a gap or a repeat.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { channels, type Bus, type BusHandler } from '../bus/index.js';
import { encodeFrame, type BatchItem } from '../protocol/index.js';
import {
  RoomEngine,
  addAccounting,
  emptyAccounting,
  type EngineInput,
  type EngineSettings,
  type RoomAccounting,
} from '../priority/index.js';
import type { ReliableLog } from '../reliable-log/index.js';
import type { RoomDirectory, RoomSettings } from '../room-directory/index.js';
import { splitRoomKey } from '../room-directory/index.js';
import type { Registry } from '../metrics/index.js';
import {
  decodeInbound,
  encodeEnvelope,
  kickEnvelope,
  roomClosedEnvelope,
  type InboundEnvelope,
  type MemberJoin,
} from './envelopes.js';
import { MemberList } from './members.js';
import {
  RoomRestrictions,
  type RestrictionSource,
} from './room-restrictions.js';
import { answerQuery, encodeAnswer, type RoomStats } from './queries.js';
import { ShardMetrics } from './shard-metrics.js';

export interface RoomShardOptions {
  bus: Bus;
  log: ReliableLog;
  directory: RoomDirectory;
  registry: Registry;
  logger: Logger;
  /** Default engine settings; rooms override some of them. */
  engineDefaults: Partial<EngineSettings>;
  tickMs: number;
  clock?: () => number;
  /** Where frames go; default: straight onto the bus. */
  outlet?: RoomOutlet;
  /**
   * The stored mutes and bans, read when a room is claimed (see
   * room-restrictions.ts). Default: none stored; the shard knows only the
   * ones it is sent.
   */
  restrictions?: RestrictionSource;
}

export interface ClaimOptions {
  /**
   * True when no shard owned the room before (its first claim since it was
   * created): users the edges report in answer to the claim's `resync` are
   * announced as joins, since nobody heard their joins.
   */
  firstOwner?: boolean;
}

/** Where a shard's outbound envelopes for a room go. */
export interface RoomOutlet {
  /**
   * Publishes one outbound envelope. `firstSeq` and `maxSeq` bound the
   * reliable seqs it carries (both 0 when it carries none).
   */
  publish(
    roomKey: string,
    payload: Buffer,
    firstSeq: number,
    maxSeq: number,
  ): void;
}

/** The outlet of one process: the bus, unconditionally. */
export function busOutlet(bus: Bus): RoomOutlet {
  return {
    publish: (roomKey, payload) =>
      bus.publish(channels.roomOut(roomKey), payload),
  };
}

interface OwnedRoom {
  key: string;
  roomId: string;
  engine: RoomEngine;
  members: MemberList;
  viewersReported: number;
  /**
   * The highest reliable seq published for the room (the cursor it was
   * claimed from, then each frame's): every frame names it as `prevSeq`.
   */
  publishedSeq: number;
  /**
   * No shard owned the room before this one: the users edges report in
   * answer to its `resync` joined while nobody listened, and their joins are
   * announced then.
   */
  firstOwner: boolean;
  /** The latest backpressure share each edge reported for this room. */
  backpressure: Map<string, number>;
  closing: boolean;
  restrictions: RoomRestrictions;
  onInbound: BusHandler;
  stopFollowing: () => void;
}

/** How often the shard measures its event-loop lag and tells the engines. */
const LAG_REPORT_MS = 1000;
/** Item types an edge may hold and merge when a frame carries nothing else. */
const PRESENCE_TYPES: ReadonlySet<string> = new Set(['viewers', 'joins']);
/** Sampling resolution of the lag histogram; subtracted from what it reads. */
const LAG_RESOLUTION_MS = 20;

export class RoomShard {
  #options: RoomShardOptions;
  #clock: () => number;
  #rooms = new Map<string, OwnedRoom>();
  #claiming = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #lagTimer: NodeJS.Timeout | undefined;
  #lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  #metrics: ShardMetrics;
  #outlet: RoomOutlet;
  /** Accounting of rooms this shard no longer owns, so totals never go back. */
  #retired = emptyAccounting();

  constructor(options: RoomShardOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#outlet = options.outlet ?? busOutlet(options.bus);
    this.#metrics = new ShardMetrics(options.registry, () => this.totals());
  }

  /** Accounting summed over every room this shard owns or owned. */
  totals(): RoomAccounting {
    const sum = addAccounting(emptyAccounting(), this.#retired);
    for (const room of this.#rooms.values()) {
      room.engine.addAccountingTo(sum);
    }

    return sum;
  }

  get roomCount(): number {
    return this.#rooms.size;
  }

  owns(key: string): boolean {
    return this.#rooms.has(key);
  }

  /** Keys of the rooms this shard owns. */
  ownedKeys(): string[] {
    return [...this.#rooms.keys()];
  }

  /** Starts the tick. Rooms may be claimed before or after. */
  start(): void {
    this.#timer ??= setInterval(() => this.tick(), this.#options.tickMs);
    if (this.#lagTimer === undefined) {
      this.#lag.enable();
      this.#lagTimer = setInterval(() => this.#reportLag(), LAG_REPORT_MS);
    }
  }

  /**
   * Tells every room's engine how late this process runs, so lossy budgets
   * shrink while the shard is overloaded and recover when it is not.
   */
  #reportLag(): void {
    const loopLagMs = Math.max(
      0,
      this.#lag.percentile(99) / 1e6 - LAG_RESOLUTION_MS,
    );
    this.#lag.reset();
    for (const room of this.#rooms.values()) {
      room.engine.setLoad({ loopLagMs });
    }
  }

  /**
   * Takes ownership of a room: follows its reliable log from `afterSeq`,
   * listens to its inbound channel and asks the edges for their members.
   * Throws (owning nothing) when the bus or the log cannot be reached.
   */
  async claim(
    key: string,
    settings: RoomSettings = {},
    afterSeq?: number,
    { firstOwner = false }: ClaimOptions = {},
  ): Promise<void> {
    if (this.#rooms.has(key) || this.#claiming.has(key)) {
      return;
    }

    const { bus, log } = this.#options;
    this.#claiming.add(key);
    let from: number;
    try {
      from = afterSeq ?? (await log.lastSeq(key));
    } finally {
      this.#claiming.delete(key);
    }

    const room: OwnedRoom = {
      key,
      roomId: splitRoomKey(key).id,
      engine: new RoomEngine(
        {
          ...this.#options.engineDefaults,
          ...engineSettingsOf(settings),
          tickMs: this.#options.tickMs,
        },
        { clock: this.#clock, lastSeq: from },
      ),
      members: new MemberList(),
      viewersReported: -1,
      publishedSeq: from,
      firstOwner,
      backpressure: new Map(),
      closing: false,
      restrictions: new RoomRestrictions(),
      onInbound: (payload) => this.#onInbound(room, payload),
      stopFollowing: () => undefined,
    };
    this.#rooms.set(key, room);
    try {
      await bus.subscribe(channels.roomIn(key), room.onInbound);
      if (this.#options.restrictions !== undefined) {
        await room.restrictions.load(this.#options.restrictions, key);
      }

      this.#outlet.publish(key, encodeEnvelope(['resync']), 0, 0);
      room.stopFollowing = await log.follow(key, from, (item) => {
        this.#offer(room, {
          type: item.type,
          id: item.id,
          seq: item.seq,
          ts: item.ts,
          from: item.from,
          data: item.data,
        });
      });
    } catch (error) {
      this.#rooms.delete(key);
      await bus.unsubscribe(channels.roomIn(key), room.onInbound);
      throw error;
    }

    this.#metrics.rooms.set(this.#rooms.size);
    this.#options.logger.info({ roomKey: key, afterSeq: from }, 'room claimed');
  }

  /** Offers a `join` item for each user, now. */
  #announceJoins(room: OwnedRoom, users: MemberJoin[]): void {
    const nowMs = this.#clock();
    for (const [userId, name, role] of users) {
      this.#offer(room, {
        type: 'join',
        ts: nowMs,
        from: { id: userId, name, role },
      });
    }
  }

  /** Offers one input; input the engine refuses is counted, never thrown. */
  #offer(room: OwnedRoom, input: EngineInput): void {
    try {
      room.engine.offer(input);
    } catch (error) {
      this.#metrics.badEnvelopes.inc();
      this.#options.logger.warn(
        { roomKey: room.key, type: input.type, err: error },
        'input refused by the priority engine',
      );
    }
  }

  /**
   * Closes a room this shard owns, as the admin API's `close` message does:
   * flushes it, tells its viewers, forgets its history. For a room the
   * directory no longer lists, whose message may have been missed.
   */
  async close(key: string): Promise<void> {
    const room = this.#rooms.get(key);
    if (room !== undefined) {
      await this.#close(room);
    }
  }

  /** Gives a room up after flushing what is pending. */
  async release(key: string): Promise<void> {
    const room = this.#rooms.get(key);
    if (room === undefined) {
      return;
    }

    this.#flush(room, this.#clock());
    await this.#forget(room);
    this.#options.logger.info({ roomKey: key }, 'room released');
  }

  /**
   * Drops a room without flushing: what is pending is not sent. For a room
   * this shard may no longer publish (lease lost) or whose publishing must
   * restart from the last published seq.
   */
  async abandon(key: string): Promise<void> {
    const room = this.#rooms.get(key);
    if (room !== undefined) {
      await this.#forget(room);
      this.#options.logger.info({ roomKey: key }, 'room abandoned');
    }
  }

  /** Forgets the members reported by edges that are not in `liveEdgeIds`. */
  pruneEdges(liveEdgeIds: ReadonlySet<string>): void {
    for (const room of this.#rooms.values()) {
      for (const edgeId of [...room.members.edgeIds()]) {
        if (!liveEdgeIds.has(edgeId)) {
          room.members.dropEdge(edgeId);
        }
      }

      // A dead edge's last load report must not keep the budget shrunk.
      for (const edgeId of [...room.backpressure.keys()]) {
        if (!liveEdgeIds.has(edgeId)) {
          room.backpressure.delete(edgeId);
          room.engine.setLoad({
            backpressure: Math.max(0, ...room.backpressure.values()),
          });
        }
      }
    }
  }

  /** Engine accounting and member count of a room this shard owns. */
  roomStats(key: string) {
    const room = this.#rooms.get(key);
    if (room === undefined) {
      return undefined;
    }

    return {
      members: room.members.count,
      loadFactor: room.engine.loadFactor,
      accounting: room.engine.accounting(),
    };
  }

  /** The members of a room this shard owns, for the admin API. */
  members(key: string): MemberList | undefined {
    return this.#rooms.get(key)?.members;
  }

  /** Runs one tick over every room; the timer calls it, tests may too. */
  tick(nowMs: number = this.#clock()): void {
    const started = performance.now();
    for (const room of this.#rooms.values()) {
      try {
        this.#flush(room, nowMs);
      } catch (error) {
        // One room's failure (an item that cannot be encoded) must not take
        // every other room, and the process, down with it.
        this.#metrics.failedTicks.inc();
        this.#options.logger.error(
          { roomKey: room.key, err: error },
          'room tick failed',
        );
      }
    }

    this.#metrics.tickSeconds.observe((performance.now() - started) / 1000);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    clearInterval(this.#lagTimer);
    this.#lagTimer = undefined;
    this.#lag.disable();
    for (const room of [...this.#rooms.values()]) {
      await this.release(room.key);
    }
  }

  #flush(room: OwnedRoom, nowMs: number): void {
    const viewers = room.members.count;
    if (viewers !== room.viewersReported) {
      room.viewersReported = viewers;
      room.engine.setViewerCount(viewers);
      this.#options.directory.reportViewers(room.key, viewers).catch(() => {
        // Redis is out of reach or not answering: report on a later tick.
        if (room.viewersReported === viewers) {
          room.viewersReported = -1;
        }
      });
    }

    if (room.engine.idle) {
      return;
    }

    const result = room.engine.tick(nowMs);
    if (result.items.length > 0) {
      this.#publishFrame(room, result.items, viewers);
    }

    for (const echo of result.echoes) {
      const frame = encodeFrame({
        t: 'batch',
        room: room.roomId,
        items: [echo],
      });
      this.#outlet.publish(
        room.key,
        encodeEnvelope(['user', echo.from.id, frame]),
        0,
        0,
      );
    }
  }

  #publishFrame(room: OwnedRoom, items: BatchItem[], viewers: number): void {
    let firstSeq = 0;
    let maxSeq = 0;
    let reliableCount = 0;
    for (const item of items) {
      if ('seq' in item) {
        reliableCount++;
        // A merged gift stands for every seq in `seqs`, the last the highest.
        const last = item.seqs?.at(-1) ?? item.seq;
        firstSeq = firstSeq === 0 ? item.seq : Math.min(firstSeq, item.seq);
        maxSeq = Math.max(maxSeq, last);
      }
    }

    const full = encodeFrame({ t: 'batch', room: room.roomId, items });
    let reliableOnly: Buffer | true | null = null;
    if (reliableCount === items.length) {
      reliableOnly = true;
    } else if (reliableCount > 0) {
      reliableOnly = encodeFrame({
        t: 'batch',
        room: room.roomId,
        items: items.filter((item) => 'seq' in item),
      });
    }

    this.#metrics.frames.inc();
    const envelope = encodeEnvelope([
      'frame',
      maxSeq,
      viewers,
      full,
      reliableOnly,
      items.length - reliableCount,
      items.every((item) => PRESENCE_TYPES.has(item.type)),
      firstSeq,
      room.publishedSeq,
    ]);
    if (maxSeq > 0) {
      room.publishedSeq = maxSeq;
    }

    this.#outlet.publish(room.key, envelope, firstSeq, maxSeq);
  }

  #onInbound(room: OwnedRoom, payload: Buffer): void {
    const envelope = decodeInbound(payload);
    if (envelope === undefined) {
      this.#metrics.badEnvelopes.inc();
      return;
    }

    this.#apply(room, envelope);
  }

  #apply(room: OwnedRoom, envelope: InboundEnvelope): void {
    switch (envelope[0]) {
      case 'input':
        for (const input of envelope[1]) {
          if (!room.restrictions.anyMuted || !this.#mutedChat(room, input)) {
            this.#offer(room, input);
          }
        }

        return;
      case 'kick': {
        // The admin API closes the user's sockets itself, owner or not. The
        // owner keeps a ban, to close the user again if an edge reports
        // them back, and closes a member now in case their socket opened
        // as the admin API's close went out (a second close finds nothing).
        const [, userId, reason, codeName, untilMs] = envelope;
        if (codeName === 'banned') {
          room.restrictions.ban(userId, untilMs ?? null);
          if (room.members.get(userId) !== undefined) {
            this.#kick(room, userId, reason, 'banned');
          }
        }

        return;
      }

      case 'unban':
        room.restrictions.unban(envelope[1]);
        return;

      case 'mute':
        room.restrictions.mute(envelope[1], envelope[2]);
        return;
      case 'unmute':
        room.restrictions.unmute(envelope[1]);
        return;
      case 'settings':
        try {
          room.engine.updateSettings(engineSettingsOf(envelope[1]));
        } catch (error) {
          this.#metrics.badEnvelopes.inc();
          this.#options.logger.warn(
            { roomKey: room.key, err: error },
            'room settings refused by the priority engine',
          );
        }

        return;
      case 'members': {
        const [, edgeId, joins, leaves] = envelope;
        this.#announceJoins(room, room.members.joinAll(edgeId, joins));

        for (const userId of leaves) {
          room.members.leave(edgeId, userId);
        }

        this.#kickBanned(room, joins);
        return;
      }

      case 'snapshot': {
        // Users a snapshot adds are usually members again (a previous owner
        // announced them), not new joins. A room's first owner is the
        // exception: the joins edges sent before it listened went nowhere.
        const [, edgeId, members, answer] = envelope;
        const added = room.members.replaceEdge(edgeId, members);
        if (room.firstOwner && answer === true) {
          this.#announceJoins(room, added);
        }

        this.#kickBanned(room, members);
        return;
      }

      case 'query': {
        const [, replyChannel, requestId, query] = envelope;
        const answer: RoomStats | ReturnType<typeof answerQuery> =
          query[0] === 'stats'
            ? {
                members: room.members.count,
                accounting: room.engine.accounting(),
              }
            : answerQuery(room.members, query);
        this.#options.bus.publish(
          replyChannel,
          encodeAnswer(requestId, answer),
        );
        return;
      }

      case 'close':
        this.#close(room).catch((error: unknown) => {
          this.#options.logger.warn(
            { err: error, roomKey: room.key },
            'room close did not finish',
          );
        });
        return;
      case 'load': {
        const [, edgeId, backpressure] = envelope;
        room.backpressure.set(edgeId, backpressure);
        room.engine.setLoad({
          backpressure: Math.max(...room.backpressure.values()),
        });
        return;
      }
    }
  }

  #kick(
    room: OwnedRoom,
    userId: string,
    reason: string,
    codeName: 'kicked' | 'banned',
  ): void {
    this.#options.bus.publish(
      channels.roomOut(room.key),
      kickEnvelope(userId, reason, codeName),
    );
  }

  /**
   * Kicks reported members with an active ban: banned while the room had
   * no owner, their first kick reached nobody.
   */
  #kickBanned(room: OwnedRoom, members: MemberJoin[]): void {
    const nowMs = this.#clock();
    for (const [userId] of members) {
      if (room.restrictions.isBanned(userId, nowMs)) {
        this.#kick(room, userId, 'banned', 'banned');
      }
    }
  }

  /**
   * True when the input is chat from a muted user: it is dropped, counted and
   * the sender told. A mute whose end has passed is lifted here.
   */
  #mutedChat(room: OwnedRoom, input: EngineInput): boolean {
    const userId = input.from?.id;
    if (input.type !== 'chat' || userId === undefined) {
      return false;
    }

    if (!room.restrictions.isMuted(userId, this.#clock())) {
      return false;
    }

    this.#metrics.mutedChat.inc();
    const frame = encodeFrame({
      t: 'error',
      code: 'muted',
      message: 'you are muted in this room',
    });
    this.#options.bus.publish(
      channels.roomOut(room.key),
      encodeEnvelope(['user', userId, frame]),
    );
    return true;
  }

  async #close(room: OwnedRoom): Promise<void> {
    if (room.closing) {
      return;
    }

    room.closing = true;
    this.#flush(room, this.#clock());
    this.#outlet.publish(room.key, roomClosedEnvelope(), 0, 0);
    await this.#forget(room);
    await this.#options.log.drop(room.key);
    this.#options.logger.info({ roomKey: room.key }, 'room closed');
  }

  async #forget(room: OwnedRoom): Promise<void> {
    this.#rooms.delete(room.key);
    room.engine.addAccountingTo(this.#retired);
    room.stopFollowing();
    await this.#options.bus.unsubscribe(
      channels.roomIn(room.key),
      room.onInbound,
    );
    this.#metrics.rooms.set(this.#rooms.size);
  }
}

/** The engine's part of a room's settings. */
function engineSettingsOf(settings: RoomSettings): Partial<EngineSettings> {
  const out: Partial<EngineSettings> = {};
  if (settings.lossyItemsPerSecond !== undefined) {
    out.lossyItemsPerSecond = settings.lossyItemsPerSecond;
  }

  if (settings.lossyBytesPerSecond !== undefined) {
    out.lossyBytesPerSecond = settings.lossyBytesPerSecond;
  }

  if (settings.customTypes !== undefined) {
    out.customTypes = settings.customTypes;
  }

  return out;
}
