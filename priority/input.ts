/**
 * What the shard offers the engine: one accepted message of a room, already
 * authenticated, rate-limited and (for reliable types) written to the
 * durable log with its seq.
 */
import type { Sender } from '../protocol/index.js';

export interface EngineInput {
  /** `host`, `gift`, `system`, `chat`, `like`, `join` or a registered custom type. */
  type: string;
  /** Decimal id; required on reliable types, chat and lossy custom types. */
  id?: string;
  /** Reliable types only: the seq from the durable log, increasing. */
  seq?: number;
  /** Milliseconds since the epoch when the service accepted it. */
  ts: number;
  /** Required on chat. `level` is a token claim; absent counts as 0. */
  from?: Sender;
  data?: unknown;
  /** Chat only: the text. */
  text?: string;
  /** `like` and `join`: how many this input carries, an integer >= 1. Default 1. */
  count?: number;
  /** Estimated encoded size in bytes; the engine estimates it when absent. */
  bytes?: number;
}
