/**
 * A token bucket per viewer and action. Refill is computed lazily from the
 * clock on each take, so an idle viewer costs nothing between frames.
 */
export class TokenBucket {
  #ratePerMs: number;
  #capacity: number;
  #tokens: number;
  #updatedMs: number;
  #clock: () => number;

  /**
   * @param ratePerSecond tokens added per second
   * @param burst most tokens the bucket holds (and starts with)
   */
  constructor(ratePerSecond: number, burst: number, clock: () => number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#capacity = burst;
    this.#tokens = burst;
    this.#clock = clock;
    this.#updatedMs = clock();
  }

  /** Takes `count` tokens if there are that many; false leaves the bucket as it was. */
  take(count = 1): boolean {
    const nowMs = this.#clock();
    const elapsedMs = Math.max(0, nowMs - this.#updatedMs);
    this.#tokens = Math.min(
      this.#capacity,
      this.#tokens + elapsedMs * this.#ratePerMs,
    );
    this.#updatedMs = nowMs;
    if (this.#tokens < count) {
      return false;
    }

    this.#tokens -= count;
    return true;
  }
}
