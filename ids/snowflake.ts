/**
 * 64-bit Snowflake-style ids: 41 bits of milliseconds since
 * {@link ID_EPOCH_MS}, 10 bits of worker id and 12 bits of sequence.
 *
 * Ids from one generator strictly increase even when the wall clock steps
 * back: the generator never uses a millisecond older than the last one it
 * issued, and when the 4,096 ids of a millisecond are used up it borrows the
 * next millisecond instead of waiting. A regression is counted and reported
 * through `onClockRegression` so operators can see a misbehaving clock.
 *
 * Across a restart the generator cannot know what it issued before unless it
 * is told: pass the last id it issued as `after` (or run the new process with
 * another worker id) and ids stay unique even if the clock went back.
 */

/** 2024-01-01T00:00:00Z: ids carry milliseconds since this instant. */
export const ID_EPOCH_MS = 1_704_067_200_000;

const WORKER_BITS = 10;
const SEQUENCE_BITS = 12;
const MAX_WORKER_ID = (1 << WORKER_BITS) - 1;
const MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1;

/** A source of wall-clock milliseconds; tests pass their own. */
export type Clock = () => number;

export interface IdGeneratorOptions {
  /** 0 to 1023; distinct per process that mints ids at the same time. */
  workerId: number;
  /** Wall clock in epoch milliseconds. Default `Date.now`. */
  clock?: Clock;
  /** An id this generator (or its previous run) issued: new ids follow it. */
  after?: string;
  /** Called once per regression with how far the clock went back. */
  onClockRegression?: (backwardsMs: number) => void;
}

export class IdGenerator {
  readonly workerId: number;
  #clock: Clock;
  #lastMs: number;
  #lastReadingMs = -Infinity;
  #sequence: number;
  #regressions = 0;
  #onClockRegression: ((backwardsMs: number) => void) | undefined;

  constructor(options: IdGeneratorOptions) {
    if (
      !Number.isInteger(options.workerId) ||
      options.workerId < 0 ||
      options.workerId > MAX_WORKER_ID
    ) {
      throw new RangeError(`workerId must be 0..${MAX_WORKER_ID}`);
    }

    this.workerId = options.workerId;
    this.#clock = options.clock ?? Date.now;
    this.#onClockRegression = options.onClockRegression;
    this.#lastMs = -1;
    this.#sequence = MAX_SEQUENCE;
    if (options.after !== undefined) {
      const parsed = parseId(options.after);
      this.#lastMs = parsed.timestampMs - ID_EPOCH_MS;
      this.#lastReadingMs = this.#lastMs;
      this.#sequence = parsed.workerId === this.workerId ? parsed.sequence : 0;
    }
  }

  /** How many times the clock was seen going backwards. */
  get clockRegressions(): number {
    return this.#regressions;
  }

  /** The next id as a bigint. */
  nextBigInt(): bigint {
    const reading = this.#clock() - ID_EPOCH_MS;
    // A regression is the clock reading less than it did before; lastMs may
    // also be ahead because a busy millisecond borrowed the next one.
    if (reading < this.#lastReadingMs) {
      this.#regressions++;
      this.#onClockRegression?.(this.#lastReadingMs - reading);
    }

    this.#lastReadingMs = reading;
    let ms = Math.max(reading, this.#lastMs);

    if (ms === this.#lastMs) {
      if (this.#sequence === MAX_SEQUENCE) {
        ms++;
        this.#sequence = 0;
      } else {
        this.#sequence++;
      }
    } else {
      this.#sequence = 0;
    }

    this.#lastMs = ms;
    return (
      (BigInt(ms) << BigInt(WORKER_BITS + SEQUENCE_BITS)) |
      BigInt((this.workerId << SEQUENCE_BITS) | this.#sequence)
    );
  }

  /** The next id as a decimal string, the form ids take on the wire. */
  next(): string {
    return this.nextBigInt().toString();
  }
}

export interface ParsedId {
  timestampMs: number;
  workerId: number;
  sequence: number;
}

/** Splits an id into its parts; throws on anything that is not one. */
export function parseId(id: string): ParsedId {
  if (!/^[0-9]{1,20}$/.test(id)) {
    throw new TypeError('id must be a decimal string');
  }

  const value = BigInt(id);
  if (value >= 1n << 63n) {
    throw new RangeError('id does not fit in 63 bits');
  }

  return {
    timestampMs:
      Number(value >> BigInt(WORKER_BITS + SEQUENCE_BITS)) + ID_EPOCH_MS,
    workerId: Number((value >> BigInt(SEQUENCE_BITS)) & BigInt(MAX_WORKER_ID)),
    sequence: Number(value & BigInt(MAX_SEQUENCE)),
  };
}
