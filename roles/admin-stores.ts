/**
 * The admin API's durable state and jobs on Redis, for the distributed
 * roles: the key-value store (idempotency records, keys, bans, webhooks,
 * broadcast progress, effect markers) and the bullmq queues.
 *
 * bullmq's blocking worker connections must wait out an outage rather than
 * fail a command, so jobs get their own connection with an offline queue
 * (`maxRetriesPerRequest: null`), unlike the fail-fast command connection.
 * Its keys sit under `<ROOMCAST_REDIS_PREFIX>{jobs}`: one hash tag, so on a
 * Redis Cluster each queue's keys share a slot as bullmq's scripts need.
 *
 * A job's lock lasts `ROOMCAST_ROOM_LEASE_MS`, the same time after which a
 * silent shard is taken for dead: a worker killed mid-job has its job run
 * again by another admin process after about that long.
 */
import type { Logger } from 'pino';
import { BullJobQueue, evictionPolicy } from '../admin-api/index.js';
import type { Settings } from '../config/index.js';
import { RedisKvStore } from '../kv-store/index.js';
import {
  connect,
  disconnect,
  whenReady,
  type RedisClient,
} from '../redis/index.js';
import type { RedisStack } from './redis-stack.js';

export interface AdminStores {
  kv: RedisKvStore;
  jobs: BullJobQueue;
  close(): Promise<void>;
}

/** The key-value store every role reads bans from and admin writes. */
export function redisKvStore(
  stack: Pick<RedisStack, 'keys' | 'redis'>,
): RedisKvStore {
  return new RedisKvStore(stack.redis, `${stack.keys.prefix}kv:`);
}

export function openAdminStores(
  stack: Pick<RedisStack, 'target' | 'keys' | 'redis'>,
  settings: Pick<Settings, 'roomLeaseMs'>,
  logger: Logger,
): AdminStores {
  const jobsConnection = connect(stack.target, {
    name: 'jobs',
    logger,
    offlineQueue: true,
  });
  const jobs = new BullJobQueue({
    connection: jobsConnection,
    prefix: `${stack.keys.prefix}{jobs}`,
    logger,
    lockDurationMs: settings.roomLeaseMs,
  });
  void checkEvictionPolicy(stack.redis, logger);
  return {
    kv: redisKvStore(stack),
    jobs,
    async close() {
      await jobs.close();
      await disconnect(jobsConnection);
    },
  };
}

/**
 * {@link warnUnlessNoEviction} once the connection is up: the command
 * connection fails fast, so asking before its first connect would only log
 * a warning about the question, not the answer.
 */
export async function checkEvictionPolicy(
  redis: RedisClient,
  logger: Logger,
): Promise<string | undefined> {
  await whenReady(redis);
  return warnUnlessNoEviction(redis, logger);
}

/**
 * Logs at error level when Redis may evict keys: an evicted job or
 * idempotency record is lost without a trace. Resolves to the policy.
 */
export async function warnUnlessNoEviction(
  redis: Parameters<typeof evictionPolicy>[0],
  logger: Logger,
): Promise<string | undefined> {
  let policy: string | undefined;
  try {
    policy = await evictionPolicy(redis);
  } catch (error) {
    logger.warn({ err: error }, 'could not read redis maxmemory-policy');
    return undefined;
  }

  if (policy !== undefined && policy !== 'noeviction') {
    logger.error(
      { policy },
      'redis maxmemory-policy is not noeviction: jobs, idempotency records and bans can be evicted under memory pressure; set maxmemory-policy noeviction',
    );
  }

  return policy;
}
