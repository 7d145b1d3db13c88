/**
 * The reliable log holds every reliable item (host, gift, system and custom
 * reliable types) of a room. Appending assigns the room's next seq in the same
 * step as the durable write, so the seq order is the admission order, there
 * are no gaps, and the admin API can answer with the seq. The owning shard
 * follows the log to publish items; edges read it to serve `resume`.
 *
 * History is bounded by count and by age; a resume from before the oldest
 * kept item is told to reload instead of getting a partial answer.
 */
import type { ReliableItem, Sender } from '../protocol/index.js';

export interface ReliableDraft {
  type: string;
  id: string;
  /** Milliseconds since the epoch when the item was accepted. */
  ts: number;
  from?: Sender;
  data?: unknown;
}

export type ReadResult =
  /** Every item after the requested seq, up to the limit, in order. */
  | { kind: 'ok'; items: ReliableItem[]; lastSeq: number }
  /** Items after the requested seq are no longer kept. */
  | { kind: 'gone'; oldestSeq: number; lastSeq: number }
  /** The requested seq is beyond anything this room ever had (history reset). */
  | { kind: 'ahead'; lastSeq: number };

export interface HistoryLimits {
  maxItems: number;
  maxAgeSeconds: number;
}

export interface AppendOptions {
  /**
   * Makes the append happen once: a second append to the room with the same
   * key writes nothing and resolves to the first one's seq and id. The check
   * and the write are one atomic step, so a job that dies after appending
   * and runs again cannot append twice. Keys are kept
   * {@link DEDUPE_RETAIN_MS}.
   */
  dedupeKey?: string;
}

/** How long a dedupe key is remembered: longer than any job's retries. */
export const DEDUPE_RETAIN_MS = 7 * 24 * 3600 * 1000;

export interface Appended {
  item: ReliableItem;
  /** False when a dedupe key matched an earlier append: nothing was written. */
  fresh: boolean;
}

export interface ReliableLog {
  append(roomKey: string, draft: ReliableDraft): Promise<ReliableItem>;
  /**
   * {@link append} with options. With a `dedupeKey` that matched, `item`
   * is the draft with the earlier append's seq and id.
   */
  appendOnce(
    roomKey: string,
    draft: ReliableDraft,
    options: AppendOptions,
  ): Promise<Appended>;
  readAfter(
    roomKey: string,
    afterSeq: number,
    limit: number,
  ): Promise<ReadResult>;
  lastSeq(roomKey: string): Promise<number>;
  /**
   * The highest seq the room's owning shard has published to the room's
   * frames channel. An edge that starts carrying a room reads it (after
   * subscribing) as what the room's topics already carried, so a viewer who
   * resumes there gets history up to it and live frames after it.
   */
  publishedSeq(roomKey: string): Promise<number>;
  /**
   * Calls `onItem` for every item after `afterSeq`, in seq order, first those
   * already in the log and then each new one. Resolves to a stop function.
   */
  follow(
    roomKey: string,
    afterSeq: number,
    onItem: (item: ReliableItem) => void,
  ): Promise<() => void>;
  /** Forgets a closed room's history. */
  drop(roomKey: string): Promise<void>;
}
