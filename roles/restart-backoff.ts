/**
 * How long the edge primary waits before restarting a worker that died: a
 * worker that crashes at start-up (a bad port, a broken Redis URL) must not
 * make the primary spin, and one that ran fine for a while and then crashed
 * should come back at once. The delay doubles with each death that follows
 * a short run and starts over after a run of `stableMs`.
 */

export interface RestartBackoffOptions {
  /** First delay, in ms. Default 100. */
  initialMs?: number;
  /** Longest delay, in ms. Default 10,000. */
  maxMs?: number;
  /** A worker up this long counts as healthy: the next delay is the first. Default 30,000. */
  stableMs?: number;
}

export class RestartBackoff {
  #initialMs: number;
  #maxMs: number;
  #stableMs: number;
  #failures = 0;

  constructor(options: RestartBackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 100;
    this.#maxMs = options.maxMs ?? 10_000;
    this.#stableMs = options.stableMs ?? 30_000;
  }

  /** The delay before the next start of a worker that ran for `uptimeMs`. */
  next(uptimeMs: number): number {
    if (uptimeMs >= this.#stableMs) {
      this.#failures = 0;
    }

    const delayMs = Math.min(
      this.#maxMs,
      this.#initialMs * 2 ** Math.min(this.#failures, 30),
    );
    this.#failures += 1;
    return delayMs;
  }
}
