import type { Cluster, Redis } from 'ioredis';
import type { KvStore, SetOptions } from './kv.js';

/**
 * The store on Redis. Every key gets `prefix` in front; callers pass keys
 * that already carry a hash tag where several must share a slot (none do
 * today: each operation touches one key).
 */
export class RedisKvStore implements KvStore {
  #redis: Redis | Cluster;
  #prefix: string;

  /** @param prefix prepended to every key, e.g. `roomcast:` */
  constructor(redis: Redis | Cluster, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#redis.get(this.#prefix + key)) ?? undefined;
  }

  async set(
    key: string,
    value: string,
    options: SetOptions = {},
  ): Promise<boolean> {
    const full = this.#prefix + key;
    const nx = options.onlyIfAbsent === true;
    const ttlMs = options.ttlMs;
    let answer: string | null;
    if (ttlMs !== undefined && nx) {
      answer = await this.#redis.set(full, value, 'PX', ttlMs, 'NX');
    } else if (ttlMs !== undefined) {
      answer = await this.#redis.set(full, value, 'PX', ttlMs);
    } else if (nx) {
      answer = await this.#redis.set(full, value, 'NX');
    } else {
      answer = await this.#redis.set(full, value);
    }

    return answer === 'OK';
  }

  async del(key: string): Promise<void> {
    await this.#redis.del(this.#prefix + key);
  }

  async hashSet(key: string, field: string, value: string): Promise<void> {
    await this.#redis.hset(this.#prefix + key, field, value);
  }

  async hashGet(key: string, field: string): Promise<string | undefined> {
    return (await this.#redis.hget(this.#prefix + key, field)) ?? undefined;
  }

  async hashGetAll(key: string): Promise<Record<string, string>> {
    return this.#redis.hgetall(this.#prefix + key);
  }

  async hashDel(key: string, field: string): Promise<boolean> {
    return (await this.#redis.hdel(this.#prefix + key, field)) > 0;
  }

  async hashIncr(key: string, field: string, by: number): Promise<number> {
    return this.#redis.hincrby(this.#prefix + key, field, by);
  }

  async listPush(key: string, value: string, maxLength: number): Promise<void> {
    const full = this.#prefix + key;
    await this.#redis
      .multi()
      .lpush(full, value)
      .ltrim(full, 0, maxLength - 1)
      .exec();
  }

  async listRange(key: string, start: number, stop: number): Promise<string[]> {
    return this.#redis.lrange(this.#prefix + key, start, stop);
  }

  async setAdd(key: string, member: string): Promise<boolean> {
    return (await this.#redis.sadd(this.#prefix + key, member)) === 1;
  }

  async setHas(key: string, member: string): Promise<boolean> {
    return (await this.#redis.sismember(this.#prefix + key, member)) === 1;
  }

  async setCount(key: string): Promise<number> {
    return this.#redis.scard(this.#prefix + key);
  }

  async expire(key: string, ttlMs: number): Promise<void> {
    await this.#redis.pexpire(this.#prefix + key, ttlMs);
  }
}
