/**
 * `Idempotency-Key`: the first request with a key runs and its answer is
 * stored for a day; a retry with the same key and the same body gets that
 * answer again without running. Concurrent requests with one key race on a
 * single `SET NX` (in Redis when configured, so across admin processes); the
 * losers wait for the winner's answer, and get 409 `idempotency_in_progress`
 * with `Retry-After` if it takes longer than the wait. A key reused with a
 * different body is refused with 422 `idempotency_key_reused`.
 */
import { createHash } from 'node:crypto';
import type { KvStore } from '../kv-store/index.js';
import { ApiError } from './errors.js';

export interface Answer {
  status: number;
  body: unknown;
}

interface Record {
  fingerprint: string;
  answer?: Answer;
}

export interface IdempotencyOptions {
  /** How long an answer is kept, ms. Default one day. */
  ttlMs?: number;
  /** How long a concurrent retry waits for the first answer, ms. Default 5,000. */
  waitMs?: number;
  /** How often a waiting retry looks for the answer, ms. Default 10. */
  pollMs?: number;
}

export class IdempotencyRecords {
  #kv: KvStore;
  #ttlMs: number;
  #waitMs: number;
  #pollMs: number;

  constructor(kv: KvStore, options: IdempotencyOptions = {}) {
    this.#kv = kv;
    this.#ttlMs = options.ttlMs ?? 24 * 3600 * 1000;
    this.#waitMs = options.waitMs ?? 5000;
    this.#pollMs = options.pollMs ?? 10;
  }

  /**
   * Runs `produce` once per (scope, key); resolves to its answer and whether
   * it is a replay. An error thrown by `produce` frees the key for a retry.
   */
  async run(
    scope: string,
    key: string,
    request: unknown,
    produce: () => Promise<Answer>,
  ): Promise<Answer & { replayed: boolean }> {
    const recordKey = `idem:${scope}:${key}`;
    const fingerprint = createHash('sha256')
      .update(JSON.stringify(request))
      .digest('base64url');
    const claimed = await this.#kv.set(
      recordKey,
      JSON.stringify({ fingerprint } satisfies Record),
      { onlyIfAbsent: true, ttlMs: this.#ttlMs },
    );
    if (claimed) {
      let answer: Answer;
      try {
        answer = await produce();
      } catch (error) {
        await this.#kv.del(recordKey);
        throw error;
      }

      await this.#kv.set(
        recordKey,
        JSON.stringify({ fingerprint, answer } satisfies Record),
        { ttlMs: this.#ttlMs },
      );
      return { ...answer, replayed: false };
    }

    const deadline = Date.now() + this.#waitMs;
    for (;;) {
      const raw = await this.#kv.get(recordKey);
      if (raw === undefined) {
        // The first request failed and freed the key: run this one instead.
        return this.run(scope, key, request, produce);
      }

      const record = JSON.parse(raw) as Record;
      if (record.fingerprint !== fingerprint) {
        throw new ApiError(
          'idempotency_key_reused',
          'this Idempotency-Key was used with a different request',
        );
      }

      if (record.answer !== undefined) {
        return { ...record.answer, replayed: true };
      }

      if (Date.now() >= deadline) {
        throw new ApiError(
          'idempotency_in_progress',
          'a request with this Idempotency-Key is still running',
          { retryAfterSeconds: 1 },
        );
      }

      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
    }
  }
}
