/**
 * Room leases and the fenced publish.
 *
 * A room's lease is a key holding the owning shard's id with a TTL. A shard
 * takes a free lease, keeps it by renewing, and gives it up by deleting it
 * only if it is still its own. Shard ids are fresh per process, so a
 * restarted shard never mistakes its predecessor's lease for its own.
 *
 * Every frame a shard sends for a room goes through one script that checks
 * the lease and the published cursor, then publishes:
 * - a shard whose lease lapsed (paused, partitioned) publishes nothing, so
 *   two owners can never interleave frames;
 * - a frame with reliable items must start right after the last published
 *   seq (or after a range the stream no longer holds), and the cursor moves
 *   to its last seq in the same step, so the cursor is exactly what viewers
 *   were sent. A new owner starts after it: nothing twice, nothing skipped.
 * A refused or failed frame makes the shard abandon the room; placement then
 * claims it again from the cursor.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { channels } from '../bus/index.js';
import { counter, type Registry } from '../metrics/index.js';
import type { RedisKeys } from '../redis/index.js';
import type { RoomOutlet } from '../room-shard/index.js';

/**
 * KEYS: lease, claimed marker. ARGV: shard id, ttl ms. 0 when another shard
 * holds the lease, 1 when it is (now) ours, 2 when it is newly ours and no
 * shard ever held it before (the marker was not set).
 */
const ACQUIRE_SCRIPT = `
local owner = redis.call('GET', KEYS[1])
if owner == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  if redis.call('SET', KEYS[2], '1', 'NX') then
    return 2
  end
  return 1
end
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/** KEYS: lease. ARGV: shard id. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/**
 * KEYS: lease, published cursor, log. ARGV: shard id, channel, payload,
 * first seq, last seq, publish command. 1 published, -1 not the owner,
 * -2 the frame does not follow the cursor.
 */
const PUBLISH_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local first = tonumber(ARGV[4])
if first > 0 then
  local cursor = tonumber(redis.call('GET', KEYS[2]) or '0')
  if first <= cursor then
    return -2
  end
  if first > cursor + 1 then
    local between = redis.call('XRANGE', KEYS[3], (cursor + 1) .. '-0', (first - 1) .. '-0', 'COUNT', 1)
    if #between > 0 then
      return -2
    end
  end
  redis.call('SET', KEYS[2], ARGV[5])
end
redis.call(ARGV[6], ARGV[2], ARGV[3])
return 1
`;

type Client = (Redis | Cluster) & {
  roomcastAcquire(
    lease: string,
    claimed: string,
    shardId: string,
    ttlMs: number,
  ): Promise<number>;
  roomcastRelease(lease: string, shardId: string): Promise<number>;
  roomcastPublish(
    lease: string,
    cursor: string,
    log: string,
    shardId: string,
    channel: string,
    payload: Buffer,
    firstSeq: number,
    maxSeq: number,
    publishCommand: string,
  ): Promise<number>;
};

/** Why the outlet gave a room up. */
export type OutletRefusal = 'not_owner' | 'out_of_order' | 'redis_error';

export interface RoomLeasesOptions {
  redis: Redis | Cluster;
  keys: RedisKeys;
  shardId: string;
  leaseMs: number;
  /** True on Redis Cluster: publish with SPUBLISH. */
  sharded: boolean;
  registry: Registry;
  logger: Logger;
  /** Called once per refusal episode of a room; the room must be abandoned. */
  onRefused: (roomKey: string, reason: OutletRefusal) => void;
}

export class RoomLeases implements RoomOutlet {
  #options: RoomLeasesOptions;
  #redis: Client;
  /** The last publish of each room, to wait for before a hand-off. */
  #inFlight = new Map<string, Promise<void>>();
  /** Rooms refused and not yet claimed again: later refusals are expected. */
  #refused = new Set<string>();
  #refusals;
  #failures;

  constructor(options: RoomLeasesOptions) {
    this.#options = options;
    const { redis } = options;
    redis.defineCommand('roomcastAcquire', {
      numberOfKeys: 2,
      lua: ACQUIRE_SCRIPT,
    });
    redis.defineCommand('roomcastRelease', {
      numberOfKeys: 1,
      lua: RELEASE_SCRIPT,
    });
    redis.defineCommand('roomcastPublish', {
      numberOfKeys: 3,
      lua: PUBLISH_SCRIPT,
    });
    this.#redis = redis as Client;
    this.#refusals = counter(options.registry, {
      name: 'roomcast_shard_frames_refused_total',
      help: 'Frames the fenced publish refused (lease lost or seq out of order); the room restarts from the published seq.',
      labelNames: ['reason'],
    });
    this.#failures = counter(options.registry, {
      name: 'roomcast_bus_publish_failures_total',
      help: 'Bus messages that could not be published (Redis down or refusing).',
    });
  }

  /**
   * Takes the room's lease, or renews it when it is already ours: false when
   * another shard holds it, `first` when this is the first time any shard
   * took it since the room was created (edges' members have never been
   * announced), `owned` otherwise.
   */
  async acquire(roomKey: string): Promise<false | 'owned' | 'first'> {
    const { keys, shardId, leaseMs } = this.#options;
    const result = await this.#redis.roomcastAcquire(
      keys.lease(roomKey),
      keys.claimed(roomKey),
      shardId,
      leaseMs,
    );
    return result === 2 ? 'first' : result === 1 ? 'owned' : false;
  }

  /** Gives the lease up if it is still ours. */
  async release(roomKey: string): Promise<void> {
    const { keys, shardId } = this.#options;
    await this.#redis.roomcastRelease(keys.lease(roomKey), shardId);
  }

  /** Resolves once every frame published so far for the room has settled. */
  async settled(roomKey: string): Promise<void> {
    await this.#inFlight.get(roomKey);
  }

  /** The room was claimed again: refusals count as new episodes. */
  reset(roomKey: string): void {
    this.#refused.delete(roomKey);
  }

  publish(
    roomKey: string,
    payload: Buffer,
    firstSeq: number,
    maxSeq: number,
  ): void {
    const { keys, shardId, sharded } = this.#options;
    const sent = this.#redis
      .roomcastPublish(
        keys.lease(roomKey),
        keys.published(roomKey),
        keys.log(roomKey),
        shardId,
        keys.channel(channels.roomOut(roomKey)),
        payload,
        firstSeq,
        maxSeq,
        sharded ? 'SPUBLISH' : 'PUBLISH',
      )
      .then(
        (result) => {
          if (result === -1) {
            this.#refuse(roomKey, 'not_owner');
          } else if (result === -2) {
            this.#refuse(roomKey, 'out_of_order');
          }
        },
        () => {
          this.#failures.inc();
          // A lossy-only envelope lost is what the lossy lane allows; a frame
          // with reliable items must be sent again from the cursor.
          if (firstSeq > 0) {
            this.#refuse(roomKey, 'redis_error');
          }
        },
      );
    this.#inFlight.set(roomKey, sent);
    void sent.then(() => {
      if (this.#inFlight.get(roomKey) === sent) {
        this.#inFlight.delete(roomKey);
      }
    });
  }

  #refuse(roomKey: string, reason: OutletRefusal): void {
    this.#refusals.inc({ reason });
    if (this.#refused.has(roomKey)) {
      return;
    }

    this.#refused.add(roomKey);
    this.#options.logger.warn({ roomKey, reason }, 'frame refused');
    this.#options.onRefused(roomKey, reason);
  }
}
