/**
 * A token bucket on the client's side of the edge's own limits, so the app
 * learns it is sending too fast from a thrown error instead of from `error`
 * frames and, after enough of them, a closed socket.
 */
export class RateLimit {
  #perSecond: number;
  #capacity: number;
  #tokens: number;
  #clock: () => number;
  #lastMs: number;

  /**
   * @param perSecond tokens added per second
   * @param capacity most tokens held at once (the burst)
   */
  constructor(perSecond: number, capacity: number, clock: () => number) {
    this.#perSecond = perSecond;
    this.#capacity = capacity;
    this.#tokens = capacity;
    this.#clock = clock;
    this.#lastMs = clock();
  }

  #refill(): void {
    const nowMs = this.#clock();
    const elapsedMs = Math.max(0, nowMs - this.#lastMs);
    this.#lastMs = nowMs;
    this.#tokens = Math.min(
      this.#capacity,
      this.#tokens + (elapsedMs * this.#perSecond) / 1000,
    );
  }

  /** Takes one token; false (and nothing taken) when none is left. */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) {
      return false;
    }

    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until `take()` would succeed; 0 when it would now. */
  msUntilToken(): number {
    this.#refill();
    if (this.#tokens >= 1) {
      return 0;
    }

    return Math.ceil(((1 - this.#tokens) * 1000) / this.#perSecond);
  }
}
