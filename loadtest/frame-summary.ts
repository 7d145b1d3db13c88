/**
 * What a viewer needs to know about a server frame, and a per-room cache that
 * lets most viewers learn it without decoding.
 *
 * roomcast encodes a room's batch once per tick and sends the same bytes to
 * every viewer of the room. So within one simulator process the first viewer
 * of a room to receive a frame decodes it, and every other viewer of that room
 * compares its bytes with the recent frames of the room (a length check, then
 * `Buffer.equals`, which is a native memcmp) and reuses the summary. Identical
 * bytes have identical contents, so every viewer still checks its own reliable
 * seqs; the hit ratio is reported, and a service that sends per-viewer bytes
 * only makes the simulator slower, never wrong.
 */
import { decodeValue } from '../protocol/index.js';

/** Item classes counted separately, in the order of {@link ItemCounts}. */
export const ITEM_CLASSES = [
  'host',
  'gift',
  'system',
  'chat',
  'likes',
  'joins',
  'viewers',
  'other',
] as const;
export type ItemClass = (typeof ITEM_CLASSES)[number];

/** One count per entry of {@link ITEM_CLASSES}. */
export type ItemCounts = number[];

export function emptyItemCounts(): ItemCounts {
  return ITEM_CLASSES.map(() => 0);
}

const CLASS_INDEX = new Map<string, number>(
  ITEM_CLASSES.map((name, index) => [name, index]),
);
const OTHER_INDEX = ITEM_CLASSES.indexOf('other');

export function itemClassIndex(type: unknown): number {
  return typeof type === 'string'
    ? (CLASS_INDEX.get(type) ?? OTHER_INDEX)
    : OTHER_INDEX;
}

export type FrameKind =
  'welcome' | 'batch' | 'control' | 'error' | 'pong' | 'other';

export interface FrameSummary {
  kind: FrameKind;
  /** Items per class (batch frames only). */
  counts: ItemCounts;
  /** Likes carried by `likes` items (their `count` fields summed). */
  likes: number;
  /** Seqs of the reliable items, in frame order. */
  seqs: number[];
  /** welcome: the room's last seq; control: the seq it names, if any. */
  seq: number;
  /** control: the reason; error: the code. */
  reason: string;
  /** welcome: the reconnect backoff the server advises; -1 when absent. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/**
 * The roomcast frame inside a decoded message: the message itself, or for
 * the Socket.IO baseline the frame carried by a `frame` event packet
 * (`{type: 2, nsp, data: ['frame', frame]}`).
 */
export function unwrapFrame(value: unknown): unknown {
  const packet = asRecord(value);
  if (
    packet !== null &&
    typeof packet['nsp'] === 'string' &&
    typeof packet['type'] === 'number'
  ) {
    const data = packet['data'];
    return Array.isArray(data) && data[0] === 'frame' ? data[1] : null;
  }

  return value;
}

/** Summarizes an already decoded frame. */
export function summarizeDecoded(decoded: unknown): FrameSummary {
  const value = unwrapFrame(decoded);
  const summary: FrameSummary = {
    kind: 'other',
    counts: emptyItemCounts(),
    likes: 0,
    seqs: [],
    seq: -1,
    reason: '',
    backoffBaseMs: -1,
    backoffMaxMs: -1,
  };
  const frame = asRecord(value);
  if (frame === null) {
    return summary;
  }

  switch (frame['t']) {
    case 'welcome': {
      summary.kind = 'welcome';
      summary.seq = typeof frame['seq'] === 'number' ? frame['seq'] : -1;
      const backoff = asRecord(frame['backoff']);
      if (
        typeof backoff?.['baseMs'] === 'number' &&
        typeof backoff['maxMs'] === 'number'
      ) {
        summary.backoffBaseMs = backoff['baseMs'];
        summary.backoffMaxMs = backoff['maxMs'];
      }

      break;
    }

    case 'batch': {
      summary.kind = 'batch';
      const items = Array.isArray(frame['items']) ? frame['items'] : [];
      for (const raw of items) {
        const item = asRecord(raw);
        const index = itemClassIndex(item?.['type']);
        summary.counts[index] = (summary.counts[index] ?? 0) + 1;
        if (item === null) {
          continue;
        }

        if (typeof item['seq'] === 'number') {
          summary.seqs.push(item['seq']);
        }

        if (item['type'] === 'likes' && typeof item['count'] === 'number') {
          summary.likes += item['count'];
        }
      }

      break;
    }

    case 'control':
      summary.kind = 'control';
      summary.reason = String(frame['reason']);
      summary.seq = typeof frame['seq'] === 'number' ? frame['seq'] : -1;
      break;
    case 'error':
      summary.kind = 'error';
      summary.reason = String(frame['code']);
      break;
    case 'pong':
      summary.kind = 'pong';
      break;
    default:
      break;
  }

  return summary;
}

/** Decodes a frame; malformed bytes give an `other` summary, never a throw. */
export function decodeFrame(payload: Uint8Array): unknown {
  try {
    return decodeValue(payload);
  } catch {
    return null;
  }
}

interface CachedFrame {
  bytes: Buffer;
  summary: FrameSummary;
}

/**
 * Recent distinct frames of one room. Lookups walk newest first; viewers of a
 * room receive each tick's frame within a few milliseconds of each other, so
 * the newest entry is nearly always the hit, and a miss past a lagging
 * viewer's frame costs a length comparison per entry.
 */
export class RoomFrameCache {
  readonly #entries: (CachedFrame | undefined)[];
  #next = 0;

  /**
   * @param capacity distinct frames kept: 64 covers viewers six seconds
   *   behind at one frame per 100 ms tick (a loaded machine gets there)
   */
  constructor(capacity = 64) {
    this.#entries = new Array<CachedFrame | undefined>(capacity);
  }

  /** Counts the lookup in `counts.cacheHits` or `counts.cacheMisses`. */
  summarize(
    payload: Buffer,
    counts: { cacheHits: number; cacheMisses: number },
  ): FrameSummary {
    const capacity = this.#entries.length;
    for (let step = 1; step <= capacity; step++) {
      const entry = this.#entries[(this.#next - step + capacity) % capacity];
      if (entry === undefined) {
        break;
      }

      if (
        entry.bytes.length === payload.length &&
        entry.bytes.equals(payload)
      ) {
        counts.cacheHits += 1;
        return entry.summary;
      }
    }

    counts.cacheMisses += 1;
    const summary = summarizeDecoded(decodeFrame(payload));
    if (summary.kind === 'batch') {
      this.#entries[this.#next] = { bytes: Buffer.from(payload), summary };
      this.#next = (this.#next + 1) % capacity;
    }

    return summary;
  }
}
