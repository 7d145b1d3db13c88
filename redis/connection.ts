/**
 * Redis connections from the settings: one Redis (`REDIS_URL`) or a Redis
 * Cluster (`REDIS_CLUSTER_NODES`). Every role opens a command connection and
 * the bus opens its own publisher and subscriber.
 *
 * Commands fail fast while Redis is down (no offline queue): a caller gets an
 * error it can turn into a 503 or a retry on its next cycle, instead of a
 * request parked in memory for as long as the outage lasts.
 *
 * A Redis that stops answering without closing the connection (paused,
 * swapping, a network path that drops packets) is caught the same way:
 * fail-fast commands time out after COMMAND_TIMEOUT_MS, and a PING every
 * second marks the client stalled (not ready) while it goes unanswered.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export type RedisClient = Redis | Cluster;

/** Clients being closed on purpose: their disconnect is not news. */
const closing = new WeakSet<RedisClient>();
/** Clients whose last PING has gone unanswered for STALL_AFTER_MS. */
const stalled = new WeakSet<RedisClient>();

/** A fail-fast command without a reply after this long fails. */
export const COMMAND_TIMEOUT_MS = 3000;
const PING_EVERY_MS = 1000;
/** A client whose PING is unanswered this long counts as not ready. */
export const STALL_AFTER_MS = 2000;

export interface RedisTarget {
  /** `single` for REDIS_URL, `cluster` for REDIS_CLUSTER_NODES. */
  mode: 'single' | 'cluster';
  url: string;
  nodes: { host: string; port: number }[];
}

export class RedisConfigError extends Error {
  readonly code = 'REDIS_CONFIG_INVALID';

  constructor(message: string) {
    super(message);
    this.name = 'RedisConfigError';
  }
}

/** Reads the target from settings; undefined when neither is set. */
export function redisTarget(settings: {
  redisUrl: string;
  redisClusterNodes: string;
}): RedisTarget | undefined {
  if (settings.redisClusterNodes.trim() !== '') {
    const nodes = settings.redisClusterNodes.split(',').map((entry) => {
      const trimmed = entry.trim();
      const colon = trimmed.lastIndexOf(':');
      const port = Number(trimmed.slice(colon + 1));
      if (colon <= 0 || !Number.isInteger(port) || port <= 0) {
        throw new RedisConfigError(
          `REDIS_CLUSTER_NODES entries must be host:port, got ${JSON.stringify(trimmed)}`,
        );
      }

      return { host: trimmed.slice(0, colon), port };
    });
    return { mode: 'cluster', url: '', nodes };
  }

  if (settings.redisUrl.trim() !== '') {
    return { mode: 'single', url: settings.redisUrl.trim(), nodes: [] };
  }

  return undefined;
}

export interface ConnectOptions {
  /** Shown in logs, e.g. `commands`, `bus-subscriber`. */
  name: string;
  logger: Logger;
  /** Queue commands while disconnected instead of failing them. Default false. */
  offlineQueue?: boolean;
  /** Cluster only: SSUBSCRIBE through one subscriber per master. */
  shardedSubscribers?: boolean;
  /** One Redis only: let the client resubscribe after a reconnect. Default true. */
  autoResubscribe?: boolean;
}

/** Reconnects forever, backing off to at most a second between attempts. */
function retryDelayMs(times: number): number {
  return Math.min(50 * times, 1000);
}

export function connect(
  target: RedisTarget,
  options: ConnectOptions,
): RedisClient {
  const offlineQueue = options.offlineQueue ?? false;
  const common: RedisOptions = {
    enableOfflineQueue: offlineQueue,
    maxRetriesPerRequest: offlineQueue ? null : 1,
    retryStrategy: retryDelayMs,
    connectionName: `roomcast-${options.name}`,
    // Queued commands (offline queue) wait on purpose; the others must not
    // wait forever on a Redis that stopped answering.
    ...(offlineQueue ? {} : { commandTimeout: COMMAND_TIMEOUT_MS }),
  };
  const single: RedisOptions = {
    ...common,
    autoResubscribe: options.autoResubscribe ?? true,
  };
  const client: RedisClient =
    target.mode === 'cluster'
      ? new Cluster(target.nodes, {
          enableOfflineQueue: offlineQueue,
          clusterRetryStrategy: retryDelayMs,
          shardedSubscribers: options.shardedSubscribers ?? false,
          slotsRefreshInterval: 5000,
          redisOptions: common,
        })
      : new Redis(target.url, single);
  const log = options.logger.child({ redis: options.name });
  let down = false;
  client.on('error', (error: Error) => {
    if (!down) {
      log.warn({ err: error }, 'redis error');
    }
  });
  client.on('end', () => {
    down = true;
  });
  client.on('close', () => {
    if (!down && !closing.has(client)) {
      down = true;
      log.warn('redis connection lost');
    }
  });
  client.on('ready', () => {
    if (down) {
      log.info('redis connection back');
    }

    down = false;
  });
  if (!offlineQueue) {
    watchForStalls(client, log);
  }

  return client;
}

/**
 * PINGs a ready client every second; while a PING is unanswered for
 * STALL_AFTER_MS the client counts as stalled, so readiness fails and
 * callers answer 503 at once instead of waiting out every command.
 */
function watchForStalls(client: RedisClient, log: Logger): void {
  let sentAtMs: number | undefined;
  const timer = setInterval(() => {
    const nowMs = Date.now();
    if (sentAtMs !== undefined) {
      if (nowMs - sentAtMs >= STALL_AFTER_MS && !stalled.has(client)) {
        stalled.add(client);
        log.warn({ waitedMs: nowMs - sentAtMs }, 'redis stopped answering');
      }

      return;
    }

    if (client.status !== 'ready') {
      return;
    }

    sentAtMs = nowMs;
    client.ping().then(
      () => {
        if (stalled.delete(client)) {
          log.info('redis answering again');
        }

        sentAtMs = undefined;
      },
      () => {
        // A refused or timed-out PING: the connection's own events say
        // whether it is down; the next PING tells whether it is back.
        sentAtMs = undefined;
      },
    );
  }, PING_EVERY_MS);
  timer.unref();
  client.once('end', () => clearInterval(timer));
}

/** True when the client can run commands now and Redis answers them. */
export function isReady(client: RedisClient): boolean {
  return client.status === 'ready' && !stalled.has(client);
}

/**
 * Resolves once the client can run commands. A fail-fast client (no offline
 * queue) refuses commands sent before its first connection is up, so one-off
 * start-up commands wait for this instead of failing with a warning.
 */
export function whenReady(client: RedisClient): Promise<void> {
  if (client.status === 'ready') {
    return Promise.resolve();
  }

  return new Promise((resolve) => client.once('ready', () => resolve()));
}

/** Closes a client, waiting for pending replies when it can. */
export async function disconnect(client: RedisClient): Promise<void> {
  closing.add(client);
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }

  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/**
 * Whether an error is Redis being out of reach (down, not answering, the
 * connection closing) rather than a bug: callers answer these with a 503.
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) {
    return false;
  }

  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /^(Command timed out|Stream isn't writeable|Connection is closed)/.test(
      error.message,
    )
  );
}
