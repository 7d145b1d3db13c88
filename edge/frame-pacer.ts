/**
 * Lowers an edge's frame rate under load. Each shard sends one frame per
 * room per tick; an edge that falls behind (its event loop lags, or many of
 * its viewers' send buffers are backed up) gains nothing by forwarding every
 * one of them: each frame costs a publish, a write per viewer and the
 * framing bytes, whatever it carries. So the pacer lengthens the edge's
 * frame interval, doubling it up to {@link MAX_INTERVAL_TICKS} ticks while
 * the load lasts and halving it back after a calm spell, and the edge holds
 * a room's frames for that long and sends them as one (see
 * {@link mergeFrames}): fewer frames per viewer, more items in each.
 *
 * At the normal interval nothing is held or decoded: frames pass through
 * as the shard encoded them.
 */
import { decodeValue, encodeFrame, type BatchItem } from '../protocol/index.js';

/** The edge's own load, measured every tick. */
export interface EdgeLoad {
  /** How late the edge's tick timer fired, in ms. */
  lagMs: number;
  /** Share (0 to 1) of the edge's viewers on the reliable lane (backed up). */
  sheddingShare: number;
}

/** The longest frame interval, in ticks. */
export const MAX_INTERVAL_TICKS = 8;
/** Calm this long (ms) halves the interval. */
const CALM_MS = 2000;
/** A backed-up share at or past this counts as overload. */
const SHEDDING_OVERLOAD = 0.2;
/** Below this the shedding share is calm. */
const SHEDDING_CALM = 0.05;

export class FramePacer {
  #tickMs: number;
  #intervalMs: number;
  #changedMs = -Infinity;

  constructor(tickMs: number) {
    this.#tickMs = tickMs;
    this.#intervalMs = tickMs;
  }

  /** The current frame interval in ms: one tick while the edge keeps up. */
  get intervalMs(): number {
    return this.#intervalMs;
  }

  get pacing(): boolean {
    return this.#intervalMs > this.#tickMs;
  }

  /**
   * Takes this tick's load and returns the interval. Overload doubles the
   * interval at most once per current interval, so the effect of one step
   * is seen before the next; only a calm of {@link CALM_MS} since the last
   * change halves it.
   */
  update(load: EdgeLoad, nowMs: number): number {
    const overloaded =
      load.lagMs > this.#tickMs / 2 || load.sheddingShare >= SHEDDING_OVERLOAD;
    const calm =
      load.lagMs < this.#tickMs / 4 && load.sheddingShare < SHEDDING_CALM;
    const maxMs = this.#tickMs * MAX_INTERVAL_TICKS;
    if (overloaded) {
      if (
        this.#intervalMs < maxMs &&
        nowMs - this.#changedMs >= this.#intervalMs
      ) {
        this.#intervalMs = Math.min(maxMs, this.#intervalMs * 2);
        this.#changedMs = nowMs;
      }
    } else if (!calm) {
      // Neither: hold the interval, and the calm spell starts over.
      this.#changedMs = Math.max(this.#changedMs, nowMs - CALM_MS / 2);
    } else if (
      this.#intervalMs > this.#tickMs &&
      nowMs - this.#changedMs >= CALM_MS
    ) {
      this.#intervalMs = Math.max(this.#tickMs, this.#intervalMs / 2);
      this.#changedMs = nowMs;
    }

    return this.#intervalMs;
  }
}

/** A shard's frame as the edge forwards it (see room-shard envelopes). */
export interface ShardFrame {
  maxSeq: number;
  viewers: number;
  full: Buffer;
  /** The reliable items alone; `true` when `full` has only those; null when none. */
  reliableOnly: Buffer | true | null;
  /** Lossy items only `full` carries. */
  lossyCount: number;
  /** Every item is a `viewers` or `joins` aggregate (see room-frames.ts). */
  presenceOnly: boolean;
}

interface DecodedBatch {
  room: string;
  items: BatchItem[];
}

/**
 * Several consecutive frames of one room as one: their items in arrival
 * order (so reliable items keep their seq order). The aggregates stay one
 * per frame, as the shard sends them: the `likes` items become one (counts
 * added, the latest total and names), the `joins` items one (counts added,
 * a sample of names no larger than the largest sent), and only the latest
 * `viewers` count is kept, each where its last part was. Encoded once per
 * room, not per viewer.
 */
export function mergeFrames(frames: readonly ShardFrame[]): ShardFrame {
  const [first] = frames;
  if (first === undefined) {
    throw new Error('mergeFrames needs at least one frame');
  }

  if (frames.length === 1) {
    return first;
  }

  const batches = frames.map(
    (frame) => decodeValue(frame.full) as DecodedBatch,
  );
  const items = mergeAggregates(batches.flatMap((batch) => batch.items));
  const reliable = items.filter((item) => 'seq' in item);
  const room = batches[0]?.room ?? '';
  const full = encodeFrame({ t: 'batch', room, items });
  let reliableOnly: Buffer | true | null = null;
  if (reliable.length === items.length) {
    reliableOnly = true;
  } else if (reliable.length > 0) {
    reliableOnly = encodeFrame({ t: 'batch', room, items: reliable });
  }

  return {
    maxSeq: Math.max(...frames.map((frame) => frame.maxSeq)),
    viewers: frames.at(-1)?.viewers ?? first.viewers,
    full,
    reliableOnly,
    lossyCount: items.length - reliable.length,
    presenceOnly: frames.every((frame) => frame.presenceOnly),
  };
}

const AGGREGATES: ReadonlySet<string> = new Set(['likes', 'joins', 'viewers']);

/** One item per aggregate type, placed where its last part was. */
function mergeAggregates(all: BatchItem[]): BatchItem[] {
  const merged = new Map<string, BatchItem>();
  const last = new Map<string, number>();
  for (const [index, item] of all.entries()) {
    if (AGGREGATES.has(item.type)) {
      merged.set(item.type, combine(merged.get(item.type), item));
      last.set(item.type, index);
    }
  }

  return all.flatMap((item, index) => {
    if (!AGGREGATES.has(item.type)) {
      return [item];
    }

    const whole = merged.get(item.type);
    return last.get(item.type) === index && whole !== undefined ? [whole] : [];
  });
}

function combine(before: BatchItem | undefined, next: BatchItem): BatchItem {
  if (before === undefined || next.type === 'viewers') {
    return next;
  }

  const earlier = before as { count: number; names?: string[] };
  const later = next as { count: number; names?: string[] };
  const combined = { ...next, count: earlier.count + later.count };
  if (next.type === 'joins') {
    const most = Math.max(earlier.names?.length ?? 0, later.names?.length ?? 0);
    const names = new Set([...(later.names ?? []), ...(earlier.names ?? [])]);
    return { ...combined, names: [...names].slice(0, most) } as BatchItem;
  }

  // likes: `total` and `names` are the latest already.
  return combined as BatchItem;
}
