/**
 * An edge's view of one room: its local viewers by user, the bus
 * subscription to the room's frames, and the viewer input and membership
 * changes waiting for the next per-tick batch to the owning shard.
 *
 * Frames from the shard are forwarded to uWS topics untouched: one publish
 * per lane per tick reaches every local viewer, and uWS corks the writes.
 */
import type { WebSocket } from 'uWebSockets.js';
import type { EngineInput } from '../priority/index.js';
import type { Sender } from '../protocol/index.js';
import type { MemberJoin } from '../room-shard/index.js';
import type { ShardFrame } from './frame-pacer.js';
import type { Viewer } from './viewer.js';

/** Names of the two uWS topics of a room. */
export function laneTopic(lane: 'full' | 'reliable', roomKey: string): string {
  return lane === 'full' ? `f:${roomKey}` : `r:${roomKey}`;
}

/** How many liker names one per-tick like batch carries to the shard. */
const LIKER_NAMES_PER_TICK = 5;

export class LocalRoom {
  readonly key: string;
  readonly roomId: string;
  /**
   * The room's close came: its viewers were closed, no viewer joins it any
   * more, and a room made again with its id gets a LocalRoom of its own.
   */
  closed = false;
  /** Highest reliable seq forwarded to this room's topics. */
  lastForwardedSeq = 0;
  /**
   * Set when the room's position was read from the log's published cursor
   * rather than seen in a frame: frames still in flight on the bus may carry
   * reliable items up to it, which every viewer here already counts as had.
   */
  staleUpTo = 0;
  /**
   * Highest reliable seq that came from the shard over the bus (forwarded
   * or held), and whether it is the room's position: from then on every
   * frame is checked for seqs the bus lost (stream-gaps.ts).
   */
  receivedSeq = 0;
  positionKnown = false;
  /** When the room's published cursor was last compared with `receivedSeq`. */
  gapCheckedMs = 0;
  /** The one read of the room's published position, shared by admissions. */
  positionRead: Promise<void> | undefined;
  /** Envelopes waiting while missing reliable items are read from the log. */
  waiting: Buffer[] | undefined;
  /** A recheck came while a repair ran: done again when it ends. */
  recheckAfterRepair = false;
  /** Frames from the shard not forwarded yet: the edge is pacing (frame-pacer.ts). */
  heldFrames: ShardFrame[] = [];
  /** When the edge last forwarded a frame of this room. */
  lastFrameMs = -Infinity;
  /** The last viewer count the shard reported. */
  viewers = 0;
  /** The backpressure share last reported to the shard, and when. */
  loadReported = 0;
  loadReportedMs = 0;
  /**
   * Local sockets by user: the socket itself, or a set for a user with
   * several (most have one, and a set per viewer costs memory at scale).
   */
  readonly #users = new Map<
    string,
    WebSocket<Viewer> | Set<WebSocket<Viewer>>
  >();
  #socketCount = 0;
  /** Viewers getting frames one by one until they are on a topic. */
  readonly catchingUp = new Set<WebSocket<Viewer>>();
  /** Resolves once the bus subscription is live. */
  subscribed: Promise<void> | undefined;
  /** The bus handler of this room's frames, set by the edge. */
  onEnvelope: (payload: Buffer) => void = () => undefined;
  #inputs: EngineInput[] = [];
  #likeCount = 0;
  #likers: Sender[] = [];
  /** Users whose presence changed this tick -> present when the tick began. */
  #changed = new Map<string, boolean>();

  constructor(key: string, roomId: string) {
    this.key = key;
    this.roomId = roomId;
  }

  get socketCount(): number {
    return this.#socketCount;
  }

  /** Users with a socket here. */
  get userCount(): number {
    return this.#users.size;
  }

  /** A user's sockets here (a copy: closing them is safe). */
  socketsOf(userId: string): WebSocket<Viewer>[] {
    const held = this.#users.get(userId);
    if (held === undefined) {
      return [];
    }

    return held instanceof Set ? [...held] : [held];
  }

  /** Every socket here (a copy). */
  allSockets(): WebSocket<Viewer>[] {
    const all: WebSocket<Viewer>[] = [];
    for (const held of this.#users.values()) {
      if (held instanceof Set) {
        all.push(...held);
      } else {
        all.push(held);
      }
    }

    return all;
  }

  /** Returns true when this socket is the user's first on this edge. */
  addSocket(ws: WebSocket<Viewer>): boolean {
    const { claims } = ws.getUserData();
    const held = this.#users.get(claims.user);
    if (held === ws || (held instanceof Set && held.has(ws))) {
      return false;
    }

    this.#socketCount++;
    if (held === undefined) {
      this.#users.set(claims.user, ws);
      if (!this.#changed.has(claims.user)) {
        this.#changed.set(claims.user, false);
      }

      return true;
    }

    if (held instanceof Set) {
      held.add(ws);
    } else {
      this.#users.set(claims.user, new Set([held, ws]));
    }

    return false;
  }

  removeSocket(ws: WebSocket<Viewer>): void {
    const { claims } = ws.getUserData();
    const held = this.#users.get(claims.user);
    this.catchingUp.delete(ws);
    if (held === ws) {
      this.#socketCount--;
      this.#users.delete(claims.user);
      if (!this.#changed.has(claims.user)) {
        this.#changed.set(claims.user, true);
      }
    } else if (held instanceof Set && held.delete(ws)) {
      this.#socketCount--;
      if (held.size === 1) {
        this.#users.set(
          claims.user,
          held.values().next().value as WebSocket<Viewer>,
        );
      }
    }
  }

  queueInput(input: EngineInput): void {
    this.#inputs.push(input);
  }

  queueLikes(from: Sender, count: number): void {
    this.#likeCount += count;
    if (this.#likers.length < LIKER_NAMES_PER_TICK) {
      this.#likers.push(from);
    }
  }

  /** Every user with a socket here, for a shard that asked for a resync. */
  snapshot(): MemberJoin[] {
    const members: MemberJoin[] = [];
    for (const userId of this.#users.keys()) {
      members.push(this.#member(userId));
    }

    return members;
  }

  /** Takes what is waiting for the shard; undefined parts had nothing. */
  takePending(nowMs: number): {
    inputs: EngineInput[] | undefined;
    joins: MemberJoin[];
    leaves: string[];
  } {
    let inputs: EngineInput[] | undefined;
    if (this.#inputs.length > 0 || this.#likeCount > 0) {
      inputs = this.#inputs;
      this.#inputs = [];
      if (this.#likeCount > 0) {
        // Likes of a tick travel as one input per liker sampled, the first
        // carrying the remainder, so the shard sees names and exact totals.
        const each = this.#likers.length;
        let remaining = this.#likeCount;
        for (const [index, from] of this.#likers.entries()) {
          const count = index === 0 ? remaining - (each - 1) : 1;
          remaining -= count;
          inputs.push({ type: 'like', ts: nowMs, from, count });
        }

        this.#likeCount = 0;
        this.#likers = [];
      }
    }

    const joins: MemberJoin[] = [];
    const leaves: string[] = [];
    for (const [userId, wasPresent] of this.#changed) {
      const present = this.#users.has(userId);
      if (!wasPresent && present) {
        joins.push(this.#member(userId));
      } else if (wasPresent && !present) {
        leaves.push(userId);
      }
    }

    this.#changed.clear();
    return { inputs, joins, leaves };
  }

  /** A present user as the shard's member list has them. */
  #member(userId: string): MemberJoin {
    const held = this.#users.get(userId);
    const first = held instanceof Set ? held.values().next().value : held;
    const claims = first?.getUserData().claims;
    return [userId, claims?.name ?? userId, claims?.role ?? 'viewer'];
  }
}
