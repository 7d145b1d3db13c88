/**
 * Who is alive: each shard and edge heartbeats into a sorted set scored by
 * Redis's own clock (TIME inside the script), so clock skew between hosts
 * cannot make a live process look dead. Entries older than the TTL are
 * removed by whoever beats or lists next.
 */
import type { Cluster, Redis } from 'ioredis';

/**
 * KEYS: the set. ARGV: id, ttl ms, action (`beat`, `leave`, `list`).
 * Returns [added (1 when the id was absent), ...live ids].
 */
const PRESENCE_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local added = 0
if ARGV[3] == 'beat' then
  added = redis.call('ZADD', KEYS[1], now, ARGV[1])
elseif ARGV[3] == 'leave' then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
table.insert(live, 1, added)
return live
`;

type Client = (Redis | Cluster) & {
  roomcastPresence(
    key: string,
    id: string,
    ttlMs: number,
    action: string,
  ): Promise<[number, ...string[]]>;
};

export interface Beat {
  /** Every live id, this one included, sorted. */
  live: string[];
  /** True when this id was not in the set: it is new or had expired. */
  rejoined: boolean;
}

export class Presence {
  #redis: Client;
  #key: string;
  #id: string;
  #ttlMs: number;

  /**
   * @param key the sorted set of one role
   * @param ttlMs an id not heard from this long is dead
   */
  constructor(redis: Redis | Cluster, key: string, id: string, ttlMs: number) {
    redis.defineCommand('roomcastPresence', {
      numberOfKeys: 1,
      lua: PRESENCE_SCRIPT,
    });
    this.#redis = redis as Client;
    this.#key = key;
    this.#id = id;
    this.#ttlMs = ttlMs;
  }

  async beat(): Promise<Beat> {
    const [added, ...live] = await this.#call('beat');
    return { live: live.sort(), rejoined: added === 1 };
  }

  async list(): Promise<string[]> {
    const [, ...live] = await this.#call('list');
    return live.sort();
  }

  async leave(): Promise<void> {
    await this.#call('leave');
  }

  #call(action: string): Promise<[number, ...string[]]> {
    return this.#redis.roomcastPresence(
      this.#key,
      this.#id,
      this.#ttlMs,
      action,
    );
  }
}
