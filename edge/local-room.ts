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
  /** Highest reliable seq forwarded to this room's topics. */
  lastForwardedSeq = 0;
  /**
   * Set when the room's position was read from the log's published cursor
   * rather than seen in a frame: frames still in flight on the bus may carry
   * reliable items up to it, which every viewer here already counts as had.
   */
  staleUpTo = 0;
  /** Frames from the shard not forwarded yet: the edge is pacing (frame-pacer.ts). */
  heldFrames: ShardFrame[] = [];
  /** When the edge last forwarded a frame of this room. */
  lastFrameMs = -Infinity;
  /** The last viewer count the shard reported. */
  viewers = 0;
  /** The backpressure share last reported to the shard, and when. */
  loadReported = 0;
  loadReportedMs = 0;
  readonly users = new Map<string, Set<WebSocket<Viewer>>>();
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
    let count = 0;
    for (const sockets of this.users.values()) {
      count += sockets.size;
    }

    return count;
  }

  /** Returns true when this socket is the user's first on this edge. */
  addSocket(ws: WebSocket<Viewer>): boolean {
    const { claims } = ws.getUserData();
    let sockets = this.users.get(claims.user);
    const first = sockets === undefined;
    if (sockets === undefined) {
      sockets = new Set();
      this.users.set(claims.user, sockets);
      if (!this.#changed.has(claims.user)) {
        this.#changed.set(claims.user, false);
      }
    }

    sockets.add(ws);
    return first;
  }

  removeSocket(ws: WebSocket<Viewer>): void {
    const { claims } = ws.getUserData();
    const sockets = this.users.get(claims.user);
    this.catchingUp.delete(ws);
    if (sockets?.delete(ws) && sockets.size === 0) {
      this.users.delete(claims.user);
      if (!this.#changed.has(claims.user)) {
        this.#changed.set(claims.user, true);
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
    for (const [userId, sockets] of this.users) {
      const claims = sockets.values().next().value?.getUserData().claims;
      members.push([userId, claims?.name ?? userId, claims?.role ?? 'viewer']);
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
      const sockets = this.users.get(userId);
      if (!wasPresent && sockets !== undefined) {
        const first = sockets.values().next().value;
        const claims = first?.getUserData().claims;
        joins.push([userId, claims?.name ?? userId, claims?.role ?? 'viewer']);
      } else if (wasPresent && sockets === undefined) {
        leaves.push(userId);
      }
    }

    this.#changed.clear();
    return { inputs, joins, leaves };
  }
}
