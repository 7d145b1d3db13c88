/**
 * Where a standalone process keeps the admin API's state and runs its jobs.
 *
 * Without Redis: in its own memory. Jobs run in-process and everything
 * (pending scheduled messages, webhook retries, broadcasts in flight,
 * idempotency records, bans, mutes, keys, webhooks, rooms) ends with it.
 *
 * With `REDIS_URL` (or `REDIS_CLUSTER_NODES`): the jobs run on bullmq and
 * the key-value state and the room directory are on Redis, under
 * `ROOMCAST_REDIS_PREFIX` with the same names the distributed roles use, so
 * rooms, bans, mutes, keys, webhooks and pending jobs survive a restart.
 * The bus and the reliable history stay in the process (one process needs no
 * pub/sub), so a restart starts every room's seqs over and viewers that
 * resume are told to reload, as docs/protocol.md describes.
 */
import type { Logger } from 'pino';
import type { JobQueue } from '../admin-api/index.js';
import type { Bus } from '../bus/index.js';
import type { Settings } from '../config/index.js';
import { MemoryKvStore, type KvStore } from '../kv-store/index.js';
import {
  connect,
  disconnect,
  isReady,
  redisTarget,
  whenReady,
} from '../redis/index.js';
import {
  MemoryRoomDirectory,
  RedisRoomDirectory,
  type RoomDirectory,
} from '../room-directory/index.js';
import { openAdminStores, redisKvStore } from './admin-stores.js';
import { redisKeys } from './redis-stack.js';

export interface StandaloneStores {
  directory: RoomDirectory;
  kv: KvStore;
  /** Undefined: the admin API runs its jobs in memory. */
  jobs: JobQueue | undefined;
  /** Keys of the rooms open before this process started. */
  openRooms(): Promise<string[]>;
  ready(): boolean;
  close(): Promise<void>;
}

export function openStandaloneStores(
  settings: Settings,
  bus: Bus,
  logger: Logger,
): StandaloneStores {
  const target = redisTarget(settings);
  if (target === undefined) {
    logger.warn(
      'no Redis: webhooks, scheduled messages, broadcasts and room lifecycle run in this process and are lost when it stops',
    );
    return {
      directory: new MemoryRoomDirectory(),
      kv: new MemoryKvStore(),
      jobs: undefined,
      openRooms: async () => [],
      ready: () => true,
      close: async () => undefined,
    };
  }

  const keys = redisKeys(settings);
  const redis = connect(target, { name: 'standalone-commands', logger });
  const directory = new RedisRoomDirectory({ redis, bus, keys });
  const stores = openAdminStores({ target, keys, redis }, settings, logger);
  logger.info({ prefix: keys.prefix }, 'durable jobs and admin state on redis');
  return {
    directory,
    kv: redisKvStore({ keys, redis }),
    jobs: stores.jobs,
    async openRooms() {
      await whenReady(redis);
      return directory.roomKeys();
    },
    ready: () => isReady(redis),
    async close() {
      await stores.close();
      await disconnect(redis);
    },
  };
}
