/**
 * Standalone: the edge, one room shard and the admin API in one process on
 * the in-memory bus. Nothing else needs to run.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildAdminApi } from '../admin-api/index.js';
import { MemoryBus, type Bus } from '../bus/index.js';
import type { Settings } from '../config/index.js';
import { Edge, type EdgeOptions } from '../edge/index.js';
import { IdGenerator } from '../ids/index.js';
import { Restrictions } from '../moderation/index.js';
import { counter, createRegistry, type Registry } from '../metrics/index.js';
import { MemoryReliableLog, type ReliableLog } from '../reliable-log/index.js';
import { roomKey, splitRoomKey } from '../room-directory/index.js';
import {
  RoomShard,
  answerQuery,
  type MemberInfo,
  type MemberPage,
} from '../room-shard/index.js';
import { ViewerTokens } from '../tokens/index.js';
import { resolveCredentials, type Credentials } from './dev-mode.js';
import { openStandaloneStores } from './standalone-stores.js';

export interface RunningStandalone {
  adminPort: number;
  edgePort: number;
  credentials: Credentials;
  registry: Registry;
  /** Graceful stop: drains the edge over `graceMs`, then closes the rest. */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

export function createIds(
  settings: Settings,
  registry: Registry,
  logger: Logger,
): IdGenerator {
  const regressions = counter(registry, {
    name: 'roomcast_id_clock_regressions_total',
    help: 'Times the id generator saw the wall clock go backwards.',
  });
  const workerId =
    settings.workerId >= 0
      ? settings.workerId
      : Math.floor(Math.random() * 1024);
  return new IdGenerator({
    workerId,
    onClockRegression: (backwardsMs) => {
      regressions.inc();
      logger.warn({ backwardsMs, workerId }, 'clock moved backwards');
    },
  });
}

/**
 * What a test may drive in the edge: its clock, the load it sees, and the
 * bus as it sees it (to lose messages on their way to it).
 */
export interface EdgeHooks extends Pick<EdgeOptions, 'clock' | 'load'> {
  /** The bus as the edge sees it (tests lose or repeat frames there). */
  edgeBus?: (bus: Bus) => Bus;
  /** The log as the edge sees it (tests hold its reads there). */
  edgeLog?: (log: ReliableLog) => ReliableLog;
}

export async function startStandalone(
  settings: Settings,
  logger: Logger,
  edgeHooks: EdgeHooks = {},
): Promise<RunningStandalone> {
  const credentials = resolveCredentials(settings, logger);
  const registry = createRegistry();
  const bus = new MemoryBus();
  const log = new MemoryReliableLog({
    maxItems: settings.historyMaxItems,
    maxAgeSeconds: settings.historyMaxAgeSeconds,
  });
  const stores = openStandaloneStores(settings, bus, logger);
  const { directory, kv } = stores;
  const ids = createIds(settings, registry, logger);
  const tokens = new ViewerTokens(credentials.jwtSecret);
  const restrictions = new Restrictions(kv);
  const shard = new RoomShard({
    bus,
    log,
    directory,
    registry,
    logger,
    restrictions,
    tickMs: settings.tickMs,
    engineDefaults: {
      lossyItemsPerSecond: settings.lossyItemsPerSecond,
      lossyBytesPerSecond: settings.lossyBytesPerSecond,
    },
  });
  directory.onEvent((event) => {
    if (event.kind === 'created') {
      const key = roomKey(event.room.tenant, event.room.id);
      // A room just created: nobody announced its viewers' joins yet.
      const claimed = shard.claim(key, event.room.settings, undefined, {
        firstOwner: true,
      });
      claimed.catch((error: unknown) => {
        logger.warn({ err: error, roomKey: key }, 'room not claimed');
      });
    }
  });
  shard.start();
  // Rooms created before a restart (their directory is on Redis).
  void stores
    .openRooms()
    .then(async (keys) => {
      for (const key of keys) {
        const { tenant, id } = splitRoomKey(key);
        const room = await directory.get(tenant, id);
        if (room !== undefined) {
          await shard.claim(key, room.settings);
        }
      }
    })
    .catch((error: unknown) => {
      logger.error({ err: error }, 'could not reopen the rooms on redis');
    });

  const { edgeBus, edgeLog, ...driven } = edgeHooks;
  const edge = new Edge({
    settings,
    bus: edgeBus?.(bus) ?? bus,
    log: edgeLog?.(log) ?? log,
    directory,
    bans: restrictions,
    tokens,
    ids,
    registry,
    logger,
    ...driven,
  });
  const edgePort = await edge.listen(settings.host, settings.edgePort);
  logger.info({ port: edgePort }, 'edge listening');
  if (settings.edgeWorkers > 1) {
    // Its one shard and admin API share the process with the edge.
    logger.warn(
      { edgeWorkers: settings.edgeWorkers },
      'standalone runs one process; ROOMCAST_EDGE_WORKERS applies to roomcast edge',
    );
  }

  const admin = buildAdminApi({
    settings,
    apiKeys: credentials.apiKeys,
    directory,
    log,
    bus,
    ids,
    tokens,
    registry,
    logger,
    kv,
    ...(stores.jobs === undefined ? {} : { jobs: stores.jobs }),
    // The process is going away while it drains: both ports say not ready.
    ready: () => stores.ready() && edge.ready,
    roomStats: async (key) => shard.roomStats(key),
    members: {
      async page(key, afterUserId, limit) {
        const list = shard.members(key);
        return list === undefined
          ? undefined
          : (answerQuery(list, ['page', afterUserId, limit]) as MemberPage);
      },
      async get(key, userId) {
        const list = shard.members(key);
        return list === undefined
          ? undefined
          : (answerQuery(list, ['get', userId]) as MemberInfo | null);
      },
    },
  });
  await admin.listen({ host: settings.host, port: settings.adminPort });
  const adminPort = (admin.server.address() as AddressInfo).port;
  logger.info({ port: adminPort }, 'admin api listening');

  return {
    adminPort,
    edgePort,
    credentials,
    registry,
    async drain(graceMs) {
      await edge.drain(graceMs);
      await admin.close();
      await shard.stop();
      await stores.close();
      await bus.close();
    },
    async close() {
      await edge.close();
      await admin.close();
      await shard.stop();
      await stores.close();
      await bus.close();
    },
  };
}
