/**
 * Effect markers make at-least-once jobs take effect once: a job records
 * its effect under its id right after causing it, and a run that finds the
 * marker skips the effect. A worker that dies between the effect and the
 * marker (a window of one Redis round trip) repeats the effect once; every
 * effect carries the job's id (message id, webhook delivery id) so the
 * receiver can drop that repeat.
 */
import type { KvStore } from '../kv-store/index.js';

/** Markers outlive any retry schedule. */
const MARKER_TTL_MS = 7 * 24 * 3600 * 1000;

export class EffectMarkers {
  #kv: KvStore;

  constructor(kv: KvStore) {
    this.#kv = kv;
  }

  async done(id: string): Promise<boolean> {
    return (await this.#kv.get(`effect:${id}`)) !== undefined;
  }

  async record(id: string): Promise<void> {
    await this.#kv.set(`effect:${id}`, '1', { ttlMs: MARKER_TTL_MS });
  }

  /** Runs `effect` unless its marker exists; resolves true when it ran. */
  async once(id: string, effect: () => Promise<void>): Promise<boolean> {
    if (await this.done(id)) {
      return false;
    }

    await effect();
    await this.record(id);
    return true;
  }
}
