/**
 * How the shard's frames of a room reach its viewers: each goes, untouched,
 * to the room's two uWS topics (one publish per lane reaches every local
 * subscriber) and, filtered, to viewers still catching up. While the edge
 * is under load the {@link FramePacer} lengthens the frame interval and a
 * room's frames are held and sent as one at that interval.
 *
 * Frames that carry nothing but presence (the viewer count and joins) are
 * paced by the edge's audience as well: each goes to every viewer of its
 * room, and while rooms fill they come every second, so an edge holding
 * hundreds of thousands of viewers would spend most of its sends on them.
 * Such a frame waits until the room has had no frame for the presence
 * interval, {@link presenceIntervalMs}, and the waiting ones go as one
 * (counts added, the latest viewer count): the edge's presence-only frames
 * stay within its budget whatever its audience, and none is lost.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { EdgeMetrics } from './edge-metrics.js';
import { frameWithoutReliableUpTo, type ViewerDelivery } from './delivery.js';
import {
  FramePacer,
  mergeFrames,
  type EdgeLoad,
  type ShardFrame,
} from './frame-pacer.js';
import { laneTopic, type LocalRoom } from './local-room.js';

/** Presence-only frames of a room are at least this far apart. */
export const MIN_PRESENCE_INTERVAL_MS = 1000;
/** And at most this far apart, however large the audience. */
export const MAX_PRESENCE_INTERVAL_MS = 10_000;

/**
 * The least time between two presence-only frames of a room, for a process
 * holding `sockets` viewers with a budget of `framesPerSecond` such frames
 * (each reaches every viewer of its room, so a room of `n` viewers paced at
 * `t` seconds costs `n / t` frames a second, and all rooms together at most
 * `sockets / t`).
 */
export function presenceIntervalMs(
  sockets: number,
  framesPerSecond: number,
): number {
  const intervalMs = Math.ceil((sockets * 1000) / framesPerSecond);
  return Math.min(
    MAX_PRESENCE_INTERVAL_MS,
    Math.max(MIN_PRESENCE_INTERVAL_MS, intervalMs),
  );
}

/** How often the share of viewers on the reliable lane is counted. */
const SHEDDING_MEASURE_MS = 1000;
/** Weight of the newest tick in the smoothed lag. */
const LAG_SMOOTHING = 0.25;

export class RoomFrames {
  readonly pacer: FramePacer;
  #app: TemplatedApp;
  #metrics: EdgeMetrics;
  #delivery: ViewerDelivery;
  #clock: () => number;
  #tickMs: number;
  #lastTickMs: number | undefined;
  #lagMs = 0;
  #sheddingShare = 0;
  #sheddingMeasuredMs = -Infinity;
  #presenceFramesPerSecond: number;
  #presenceIntervalMs = MIN_PRESENCE_INTERVAL_MS;

  constructor(options: {
    app: TemplatedApp;
    metrics: EdgeMetrics;
    delivery: ViewerDelivery;
    clock: () => number;
    tickMs: number;
    /** This process's budget of presence-only frames per second. */
    presenceFramesPerSecond: number;
  }) {
    this.pacer = new FramePacer(options.tickMs);
    this.#app = options.app;
    this.#metrics = options.metrics;
    this.#delivery = options.delivery;
    this.#clock = options.clock;
    this.#tickMs = options.tickMs;
    this.#presenceFramesPerSecond = options.presenceFramesPerSecond;
    this.#metrics.frameInterval.set(options.tickMs / 1000);
    this.#metrics.presenceInterval.set(this.#presenceIntervalMs / 1000);
  }

  /**
   * Once per edge tick: sets the frame interval from the edge's load
   * (measured, or `load` when given) and sends the rooms whose held frames
   * are due.
   */
  tick(
    nowMs: number,
    rooms: ReadonlyMap<string, LocalRoom>,
    sockets: number,
    load?: EdgeLoad,
  ): void {
    const intervalMs = this.pacer.update(
      load ?? this.#measure(nowMs, rooms, sockets),
      nowMs,
    );
    this.#metrics.frameInterval.set(intervalMs / 1000);
    this.#presenceIntervalMs = presenceIntervalMs(
      sockets,
      this.#presenceFramesPerSecond,
    );
    this.#metrics.presenceInterval.set(this.#presenceIntervalMs / 1000);
    for (const room of rooms.values()) {
      if (
        room.heldFrames.length > 0 &&
        nowMs - room.lastFrameMs >= this.#holdMs(room, intervalMs)
      ) {
        this.flush(room);
      }
    }
  }

  /**
   * A frame from the room's shard: sent at once at the normal rate, or when
   * the room has been quiet for an interval (the presence interval while
   * everything held is presence); otherwise held.
   */
  receive(room: LocalRoom, frame: ShardFrame): void {
    room.heldFrames.push(frame);
    const intervalMs = this.pacer.pacing ? this.pacer.intervalMs : 0;
    if (this.#clock() - room.lastFrameMs >= this.#holdMs(room, intervalMs)) {
      this.flush(room);
    }
  }

  /** How long after the room's last frame its held frames may go. */
  #holdMs(room: LocalRoom, intervalMs: number): number {
    return room.heldFrames.every((frame) => frame.presenceOnly)
      ? Math.max(intervalMs, this.#presenceIntervalMs)
      : intervalMs;
  }

  /** Sends the room's held frames to its viewers, as one when several. */
  flush(room: LocalRoom): void {
    const held = room.heldFrames;
    if (held.length === 0) {
      return;
    }

    room.heldFrames = [];
    room.lastFrameMs = this.#clock();
    if (held.length > 1) {
      this.#metrics.coalescedFrames.inc(held.length - 1);
    }

    this.#forward(room, mergeFrames(held));
  }

  /** One frame to the room's topics and to its viewers catching up. */
  #forward(room: LocalRoom, shardFrame: ShardFrame): void {
    let frame: ShardFrame | null = shardFrame;
    const { maxSeq, viewers, lossyCount } = frame;
    if (room.staleUpTo > 0 && maxSeq > 0) {
      // Only the first frames after this edge took up the room pass here.
      frame = frameWithoutReliableUpTo(frame, room.staleUpTo);
      if (maxSeq > room.staleUpTo) {
        room.staleUpTo = 0;
      }

      if (frame === null) {
        return;
      }
    }

    const { full, reliableOnly } = frame;
    room.viewers = viewers;
    room.lastForwardedSeq = Math.max(room.lastForwardedSeq, maxSeq);
    this.#app.publish(laneTopic('full', room.key), full, true);
    this.#metrics.framesSent.inc({ lane: 'full' });
    this.#metrics.bytesSent.inc({ lane: 'full' }, full.byteLength);
    if (reliableOnly !== null) {
      const bytes = reliableOnly === true ? full : reliableOnly;
      this.#app.publish(laneTopic('reliable', room.key), bytes, true);
      this.#metrics.framesSent.inc({ lane: 'reliable' });
      this.#metrics.bytesSent.inc({ lane: 'reliable' }, bytes.byteLength);
    }

    this.#delivery.onFrame(room, {
      maxSeq,
      full,
      reliableOnly: reliableOnly === true ? full : reliableOnly,
    });
    const shedding = this.#app.numSubscribers(laneTopic('reliable', room.key));
    if (lossyCount > 0 && shedding > 0) {
      this.#metrics.droppedItems.inc(
        { reason: 'slow_viewer' },
        lossyCount * shedding,
      );
    }
  }

  /**
   * How late the ticks come (the event loop's lag as the edge feels it),
   * smoothed so that one pause (a GC, a burst of connects) does not slow
   * every room down for seconds, and, once a second, the share of viewers
   * on the reliable lane.
   */
  #measure(
    nowMs: number,
    rooms: ReadonlyMap<string, LocalRoom>,
    sockets: number,
  ): EdgeLoad {
    const tickMs = this.#tickMs;
    const lateMs =
      this.#lastTickMs === undefined
        ? 0
        : Math.max(0, nowMs - this.#lastTickMs - tickMs);
    this.#lastTickMs = nowMs;
    this.#lagMs += LAG_SMOOTHING * (lateMs - this.#lagMs);
    if (nowMs - this.#sheddingMeasuredMs >= SHEDDING_MEASURE_MS) {
      let shedding = 0;
      for (const room of rooms.values()) {
        shedding += this.#app.numSubscribers(laneTopic('reliable', room.key));
      }

      this.#sheddingShare = sockets === 0 ? 0 : shedding / sockets;
      this.#sheddingMeasuredMs = nowMs;
    }

    return { lagMs: this.#lagMs, sheddingShare: this.#sheddingShare };
  }
}
