/**
 * Per-key request rate limits: a token bucket per API key in this process.
 * With several admin processes behind a balancer each enforces its own
 * bucket, so the fleet-wide limit is the per-process limit times the number
 * of processes. Requests over the limit get 429 with `Retry-After`.
 */

export interface RateLimitOptions {
  /** Sustained requests per second per key. */
  requestsPerSecond: number;
  /** Requests a key may send at once. */
  burst: number;
  clock?: () => number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Buckets kept before idle ones are forgotten, bounding memory. */
const MAX_BUCKETS = 100_000;

export class RateLimiter {
  #options: RateLimitOptions;
  #clock: () => number;
  #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** Takes one request; resolves 0 when allowed, else seconds to wait. */
  take(keyId: string): number {
    const nowMs = this.#clock();
    const { requestsPerSecond, burst } = this.#options;
    let bucket = this.#buckets.get(keyId);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_BUCKETS) {
        this.#buckets.clear();
      }

      bucket = { tokens: burst, updatedMs: nowMs };
      this.#buckets.set(keyId, bucket);
    }

    const refill = ((nowMs - bucket.updatedMs) / 1000) * requestsPerSecond;
    bucket.tokens = Math.min(burst, bucket.tokens + refill);
    bucket.updatedMs = nowMs;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }

    return Math.max(1, Math.ceil((1 - bucket.tokens) / requestsPerSecond));
  }
}
