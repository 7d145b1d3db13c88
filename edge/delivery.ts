/**
 * How a viewer gets live frames. Normally it is subscribed to one of its
 * room's two uWS topics (`full` or `reliable`) and every frame reaches it
 * through one publish per room. A viewer that joined or resumed at a seq the
 * topics have not passed yet is "catching up": it gets frames one by one,
 * with the reliable items it already has taken out, until the topics carry
 * only newer items; then it is subscribed. While a resume reads history, its
 * frames are held and released through the same filter afterwards, so
 * nothing published meanwhile is lost and nothing is sent twice.
 *
 * Catching up is rare and short (one tick or so), so decoding a frame for
 * such a viewer does not touch the fan-out path of everyone else.
 */
import type { WebSocket } from 'uWebSockets.js';
import { decodeValue, encodeFrame, type BatchItem } from '../protocol/index.js';
import type { ShardFrame } from './frame-pacer.js';
import type { EdgeMetrics } from './edge-metrics.js';
import { laneTopic, type LocalRoom } from './local-room.js';
import type { Viewer } from './viewer.js';

/** Frames held for one resuming viewer before it is told to reload instead. */
export const MAX_HELD_FRAMES = 1000;

export interface HeldFrame {
  maxSeq: number;
  full: Buffer;
  reliableOnly: Buffer | null;
}

export class ViewerDelivery {
  #metrics: EdgeMetrics;

  constructor(metrics: EdgeMetrics) {
    this.#metrics = metrics;
  }

  /**
   * Starts live delivery of every reliable item after `afterSeq`: subscribes
   * at once when the topics are past it, or catches up first.
   */
  startLive(ws: WebSocket<Viewer>, room: LocalRoom, afterSeq: number): void {
    const viewer = ws.getUserData();
    if (room.lastForwardedSeq >= afterSeq) {
      viewer.catchUp = undefined;
      room.catchingUp.delete(ws);
      this.#subscribe(ws);
      return;
    }

    viewer.catchUp = { upTo: afterSeq, held: [] };
    room.catchingUp.add(ws);
  }

  /** Stops live delivery and keeps this viewer's frames until {@link release}. */
  hold(ws: WebSocket<Viewer>, room: LocalRoom): void {
    const viewer = ws.getUserData();
    this.#unsubscribe(ws);
    viewer.catchUp = { upTo: undefined, held: viewer.catchUp?.held ?? [] };
    room.catchingUp.add(ws);
  }

  /**
   * Sends what was held, minus reliable items up to `afterSeq`, then resumes
   * live delivery after `afterSeq`. Returns false when too much was held.
   */
  release(ws: WebSocket<Viewer>, room: LocalRoom, afterSeq: number): boolean {
    const viewer = ws.getUserData();
    const held = viewer.catchUp?.held ?? [];
    if (held.length > MAX_HELD_FRAMES) {
      viewer.catchUp = undefined;
      room.catchingUp.delete(ws);
      return false;
    }

    for (const frame of held) {
      this.#sendFiltered(ws, frame, afterSeq);
    }

    this.startLive(ws, room, afterSeq);
    return true;
  }

  /** Called for every frame of the room after it went to the topics. */
  onFrame(room: LocalRoom, frame: HeldFrame): void {
    for (const ws of room.catchingUp) {
      const viewer = ws.getUserData();
      const catchUp = viewer.catchUp;
      if (catchUp === undefined || viewer.closed) {
        room.catchingUp.delete(ws);
        continue;
      }

      if (catchUp.upTo === undefined) {
        catchUp.held.push(frame);
        continue;
      }

      this.#sendFiltered(ws, frame, catchUp.upTo);
      if (room.lastForwardedSeq >= catchUp.upTo) {
        viewer.catchUp = undefined;
        room.catchingUp.delete(ws);
        this.#subscribe(ws);
      }
    }
  }

  /** Moves a viewer to another lane (backpressure). */
  setLane(ws: WebSocket<Viewer>, lane: 'full' | 'reliable'): void {
    const viewer = ws.getUserData();
    if (viewer.lane === lane) {
      return;
    }

    const subscribed = viewer.subscribed;
    this.#unsubscribe(ws);
    viewer.lane = lane;
    if (subscribed) {
      this.#subscribe(ws);
    }

    this.#metrics.laneChanges.inc({ lane });
  }

  #subscribe(ws: WebSocket<Viewer>): void {
    const viewer = ws.getUserData();
    if (!viewer.subscribed && !viewer.closed) {
      ws.subscribe(laneTopic(viewer.lane, viewer.roomKey));
      viewer.subscribed = true;
    }
  }

  #unsubscribe(ws: WebSocket<Viewer>): void {
    const viewer = ws.getUserData();
    if (viewer.subscribed) {
      ws.unsubscribe(laneTopic(viewer.lane, viewer.roomKey));
      viewer.subscribed = false;
    }
  }

  #sendFiltered(
    ws: WebSocket<Viewer>,
    frame: HeldFrame,
    afterSeq: number,
  ): void {
    const viewer = ws.getUserData();
    const bytes = viewer.lane === 'full' ? frame.full : frame.reliableOnly;
    if (bytes === null || viewer.closed) {
      return;
    }

    const filtered =
      frame.maxSeq === 0 ? bytes : withoutReliableUpTo(bytes, afterSeq);
    if (filtered !== null) {
      ws.send(filtered, true);
      this.#metrics.framesSent.inc({ lane: 'direct' });
    }
  }
}

/**
 * A batch frame without its reliable items of seq `upTo` or lower: the same
 * bytes when it has none, a re-encoded frame when some were taken out, null
 * when nothing is left.
 */
export function withoutReliableUpTo(
  bytes: Buffer,
  upTo: number,
): Buffer | null {
  const decoded = decodeValue(bytes) as { room: string; items: BatchItem[] };
  const items = decoded.items.filter(
    (item) => !('seq' in item) || item.seq > upTo,
  );
  if (items.length === decoded.items.length) {
    return bytes;
  }

  return items.length === 0
    ? null
    : encodeFrame({ t: 'batch', room: decoded.room, items });
}

/**
 * A shard frame without its reliable items of seq `upTo` or lower, on both
 * lanes: the same frame when it has none (its reliable-only copy is then
 * not decoded: its reliable items are `full`'s), null when nothing is left.
 */
export function frameWithoutReliableUpTo(
  frame: ShardFrame,
  upTo: number,
): ShardFrame | null {
  const full = withoutReliableUpTo(frame.full, upTo);
  if (full === frame.full) {
    return frame;
  }

  if (full === null) {
    return null;
  }

  const reliableOnly =
    frame.reliableOnly === null || frame.reliableOnly === true
      ? frame.reliableOnly
      : withoutReliableUpTo(frame.reliableOnly, upTo);
  return { ...frame, full, reliableOnly };
}
