/**
 * What every distributed role shares: the Redis target from the settings,
 * a command connection, the Redis bus, reliable log and room directory.
 */
import type { Logger } from 'pino';
import { RedisBus } from '../bus/index.js';
import { ConfigError, type Settings } from '../config/index.js';
import type { Registry } from '../metrics/index.js';
import {
  RedisKeys,
  connect,
  disconnect,
  isReady,
  redisTarget,
  type RedisClient,
  type RedisTarget,
} from '../redis/index.js';
import { RedisReliableLog } from '../reliable-log/index.js';
import { RedisRoomDirectory } from '../room-directory/index.js';

export interface RedisStack {
  target: RedisTarget;
  keys: RedisKeys;
  redis: RedisClient;
  bus: RedisBus;
  log: RedisReliableLog;
  directory: RedisRoomDirectory;
  /** True while commands and the bus both reach Redis. */
  ready(): boolean;
  close(): Promise<void>;
}

/**
 * `role` names the connections (`roomcast-<role>-commands`,
 * `roomcast-<role>-bus-subscriber`, ...) as Redis's CLIENT LIST shows them.
 */
export function openRedisStack(
  settings: Settings,
  registry: Registry,
  logger: Logger,
  role: string,
): RedisStack {
  const target = redisTarget(settings);
  if (target === undefined) {
    throw new ConfigError(
      'distributed roles need REDIS_URL or REDIS_CLUSTER_NODES',
    );
  }

  const keys = redisKeys(settings);
  const redis = connect(target, { name: `${role}-commands`, logger });
  const bus = new RedisBus({ target, keys, registry, logger, role });
  const log = new RedisReliableLog({
    redis,
    bus,
    keys,
    limits: {
      maxItems: settings.historyMaxItems,
      maxAgeSeconds: settings.historyMaxAgeSeconds,
    },
    sharded: target.mode === 'cluster',
    logger,
  });
  const directory = new RedisRoomDirectory({ redis, bus, keys });
  return {
    target,
    keys,
    redis,
    bus,
    log,
    directory,
    ready: () => bus.ready && isReady(redis),
    async close() {
      await bus.close();
      await disconnect(redis);
    },
  };
}

/** The key names under `ROOMCAST_REDIS_PREFIX`; a bad prefix is a config error. */
export function redisKeys(settings: Pick<Settings, 'redisPrefix'>): RedisKeys {
  try {
    return new RedisKeys(settings.redisPrefix);
  } catch (error) {
    throw new ConfigError((error as Error).message, { cause: error });
  }
}

/** Distributed processes must share credentials; they cannot invent them. */
export function requireSharedCredentials(settings: Settings): void {
  const missing = [
    settings.apiKeys === '' ? 'ROOMCAST_API_KEYS' : undefined,
    settings.jwtSecret === '' ? 'ROOMCAST_JWT_SECRET' : undefined,
  ].filter((name) => name !== undefined);
  if (missing.length > 0) {
    throw new ConfigError(
      `distributed roles need ${missing.join(' and ')} set to the same values in every process (roomcast cluster generates them for its children)`,
    );
  }
}
