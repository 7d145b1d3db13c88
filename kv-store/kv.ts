/**
 * A small key-value store the admin API's durable state is written on:
 * idempotency records, API keys, bans, webhooks and their delivery logs,
 * broadcast progress and job effect markers. Every operation touches one
 * key, so the Redis implementation works unchanged on a Redis Cluster.
 *
 * Two implementations share this interface: kv-memory.ts for a standalone
 * process without Redis (state ends with the process), and kv-redis.ts.
 */

export interface SetOptions {
  /** Expire the key after this many ms. Default: never. */
  ttlMs?: number;
  /** Write only when the key does not exist (Redis `SET NX`). */
  onlyIfAbsent?: boolean;
}

export interface KvStore {
  get(key: string): Promise<string | undefined>;
  /** Resolves false when `onlyIfAbsent` was set and the key existed. */
  set(key: string, value: string, options?: SetOptions): Promise<boolean>;
  del(key: string): Promise<void>;
  hashSet(key: string, field: string, value: string): Promise<void>;
  hashGet(key: string, field: string): Promise<string | undefined>;
  hashGetAll(key: string): Promise<Record<string, string>>;
  /** Resolves true when the field existed. */
  hashDel(key: string, field: string): Promise<boolean>;
  hashIncr(key: string, field: string, by: number): Promise<number>;
  /** Pushes to the head of a list and keeps at most `maxLength` entries. */
  listPush(key: string, value: string, maxLength: number): Promise<void>;
  /** Entries newest first, `start` and `stop` inclusive as in `LRANGE`. */
  listRange(key: string, start: number, stop: number): Promise<string[]>;
  /** Resolves true when the member was not in the set before. */
  setAdd(key: string, member: string): Promise<boolean>;
  setHas(key: string, member: string): Promise<boolean>;
  setCount(key: string): Promise<number>;
  expire(key: string, ttlMs: number): Promise<void>;
}
