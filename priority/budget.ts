/**
 * The lossy lane's budget: two token buckets (items and bytes) refilled by
 * elapsed time, scaled by a load factor.
 *
 * Refill is by elapsed time rather than per call so a shard that skips idle
 * rooms, or a tick that runs late, still gets exactly the rate it is owed.
 * The bucket caps the carry-over at `lossyBurstMs` worth of budget: a quiet
 * room can show a short burst, but never a backlog of seconds.
 *
 * Bytes may go into debt by at most one item: an item is admitted while any
 * byte credit is left, and the debt is repaid from later refills. Without
 * that, an item larger than the (load-shrunk) bucket could never pass.
 *
 * The load factor drops at once when load appears and climbs back linearly
 * over `loadRecoveryMs`: shedding late costs viewers, recovering late only
 * costs a few seconds of thinner chat.
 */
import { PriorityError } from './errors.js';
import type { EngineSettings } from './settings.js';

/** Load reports from the edge and the shard; each holds until replaced. */
export interface LoadSignal {
  /** Share of the room's viewers whose sends are backed up, 0..1. */
  backpressure?: number;
  /** The shard's event-loop lag, in ms. */
  loopLagMs?: number;
}

/** Loop lag at or under this is no pressure at all. */
export const LAG_FREE_MS = 50;
/** Loop lag at or over this is full pressure. */
export const LAG_FULL_MS = 250;

type BudgetSettings = Pick<
  EngineSettings,
  | 'lossyItemsPerSecond'
  | 'lossyBytesPerSecond'
  | 'lossyBurstMs'
  | 'minLoadFactor'
  | 'loadRecoveryMs'
>;

function clamp01(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}

/** Pressure 0..1 from a load signal: the worse of the two reports. */
export function pressureOf(backpressure: number, loopLagMs: number): number {
  const lag = (loopLagMs - LAG_FREE_MS) / (LAG_FULL_MS - LAG_FREE_MS);
  return Math.max(clamp01(backpressure), clamp01(lag));
}

export class LossyBudget {
  #settings: BudgetSettings;
  #itemCredits: number;
  #byteCredits: number;
  #factor = 1;
  #backpressure = 0;
  #loopLagMs = 0;
  #lastMs: number | undefined;

  constructor(settings: BudgetSettings) {
    this.#settings = settings;
    // A new room starts with a full bucket so its first chats are not held.
    this.#itemCredits = this.itemCapacity;
    this.#byteCredits = this.byteCapacity;
  }

  /** Most items the bucket holds at the current load factor. */
  get itemCapacity(): number {
    const s = this.#settings;
    // Never under one item, or a slow room under load could never speak.
    return Math.max(
      1,
      ((s.lossyItemsPerSecond * s.lossyBurstMs) / 1000) * this.#factor,
    );
  }

  /** Most bytes the bucket holds at the current load factor. */
  get byteCapacity(): number {
    const s = this.#settings;
    return ((s.lossyBytesPerSecond * s.lossyBurstMs) / 1000) * this.#factor;
  }

  /** Share of the configured budget in force, `minLoadFactor`..1. */
  get factor(): number {
    return this.#factor;
  }

  /** Whole items that may still go out now. */
  get slots(): number {
    return Math.floor(this.#itemCredits);
  }

  get byteCredits(): number {
    return this.#byteCredits;
  }

  configure(settings: BudgetSettings): void {
    this.#settings = settings;
    this.#clamp();
  }

  /**
   * Records a load report; takes effect at the next refill.
   * @throws PriorityError `PRIORITY_BAD_INPUT` on a non-finite value
   */
  setLoad(signal: LoadSignal): void {
    const { backpressure, loopLagMs } = signal;
    for (const value of [backpressure, loopLagMs]) {
      if (value !== undefined && !Number.isFinite(value)) {
        throw new PriorityError(
          'PRIORITY_BAD_INPUT',
          'load values must be finite',
        );
      }
    }

    this.#backpressure = backpressure ?? this.#backpressure;
    this.#loopLagMs = loopLagMs ?? this.#loopLagMs;
  }

  /**
   * Moves the load factor toward its target and adds the credits earned
   * since the previous refill. The first refill counts as one `tickMs`.
   */
  refill(nowMs: number, tickMs: number): void {
    const elapsedMs =
      this.#lastMs === undefined ? tickMs : Math.max(0, nowMs - this.#lastMs);
    this.#lastMs =
      this.#lastMs === undefined ? nowMs : Math.max(nowMs, this.#lastMs);
    const s = this.#settings;
    const pressure = pressureOf(this.#backpressure, this.#loopLagMs);
    // Written so that no pressure gives exactly 1 and full exactly the floor.
    const target =
      pressure === 0
        ? 1
        : s.minLoadFactor + (1 - s.minLoadFactor) * (1 - pressure);
    if (target <= this.#factor) {
      this.#factor = target;
    } else {
      const step = ((1 - s.minLoadFactor) * elapsedMs) / s.loadRecoveryMs;
      this.#factor = Math.min(target, this.#factor + step);
    }

    const seconds = (elapsedMs / 1000) * this.#factor;
    this.#itemCredits += s.lossyItemsPerSecond * seconds;
    this.#byteCredits += s.lossyBytesPerSecond * seconds;
    this.#clamp();
  }

  /** True when one more item may go out. */
  canAdmit(): boolean {
    return this.#itemCredits >= 1 && this.#byteCredits > 0;
  }

  spend(bytes: number): void {
    this.#itemCredits -= 1;
    this.#byteCredits -= bytes;
  }

  #clamp(): void {
    this.#itemCredits = Math.min(this.#itemCredits, this.itemCapacity);
    this.#byteCredits = Math.min(this.#byteCredits, this.byteCapacity);
  }
}
