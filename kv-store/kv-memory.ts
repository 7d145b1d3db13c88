import type { KvStore, SetOptions } from './kv.js';

type Value = string | Map<string, string> | string[] | Set<string>;

interface Entry {
  value: Value;
  /** Epoch ms after which the entry is gone; undefined keeps it. */
  expiresAtMs: number | undefined;
}

/**
 * The store of a standalone process without Redis. Expiry is checked on
 * read against the clock, so tests can drive it.
 */
export class MemoryKvStore implements KvStore {
  #entries = new Map<string, Entry>();
  #clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  async get(key: string): Promise<string | undefined> {
    const value = this.#read(key);
    return typeof value === 'string' ? value : undefined;
  }

  async set(
    key: string,
    value: string,
    options: SetOptions = {},
  ): Promise<boolean> {
    if (options.onlyIfAbsent === true && this.#read(key) !== undefined) {
      return false;
    }

    this.#entries.set(key, {
      value,
      expiresAtMs:
        options.ttlMs === undefined ? undefined : this.#clock() + options.ttlMs,
    });
    return true;
  }

  async del(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async hashSet(key: string, field: string, value: string): Promise<void> {
    this.#hash(key).set(field, value);
  }

  async hashGet(key: string, field: string): Promise<string | undefined> {
    const value = this.#read(key);
    return value instanceof Map ? value.get(field) : undefined;
  }

  async hashGetAll(key: string): Promise<Record<string, string>> {
    const value = this.#read(key);
    return value instanceof Map ? Object.fromEntries(value) : {};
  }

  async hashDel(key: string, field: string): Promise<boolean> {
    const value = this.#read(key);
    return value instanceof Map ? value.delete(field) : false;
  }

  async hashIncr(key: string, field: string, by: number): Promise<number> {
    const hash = this.#hash(key);
    const next = Number(hash.get(field) ?? 0) + by;
    hash.set(field, String(next));
    return next;
  }

  async listPush(key: string, value: string, maxLength: number): Promise<void> {
    const list = this.#ensure(key, () => [] as string[]);
    if (!Array.isArray(list)) {
      throw new TypeError(`${key} is not a list`);
    }

    list.unshift(value);
    list.length = Math.min(list.length, maxLength);
  }

  async listRange(key: string, start: number, stop: number): Promise<string[]> {
    const value = this.#read(key);
    if (!Array.isArray(value)) {
      return [];
    }

    return value.slice(start, stop < 0 ? value.length + stop + 1 : stop + 1);
  }

  async setAdd(key: string, member: string): Promise<boolean> {
    const set = this.#ensure(key, () => new Set<string>());
    if (!(set instanceof Set)) {
      throw new TypeError(`${key} is not a set`);
    }

    const added = !set.has(member);
    set.add(member);
    return added;
  }

  async setHas(key: string, member: string): Promise<boolean> {
    const value = this.#read(key);
    return value instanceof Set && value.has(member);
  }

  async setCount(key: string): Promise<number> {
    const value = this.#read(key);
    return value instanceof Set ? value.size : 0;
  }

  async expire(key: string, ttlMs: number): Promise<void> {
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.expiresAtMs = this.#clock() + ttlMs;
    }
  }

  #read(key: string): Value | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      return undefined;
    }

    if (entry.expiresAtMs !== undefined && entry.expiresAtMs <= this.#clock()) {
      this.#entries.delete(key);
      return undefined;
    }

    return entry.value;
  }

  #ensure(key: string, create: () => Value): Value {
    const existing = this.#read(key);
    if (existing !== undefined) {
      return existing;
    }

    const value = create();
    this.#entries.set(key, { value, expiresAtMs: undefined });
    return value;
  }

  #hash(key: string): Map<string, string> {
    const hash = this.#ensure(key, () => new Map<string, string>());
    if (!(hash instanceof Map)) {
      throw new TypeError(`${key} is not a hash`);
    }

    return hash;
  }
}
