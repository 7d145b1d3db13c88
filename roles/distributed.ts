/**
 * The distributed roles, one per process: `roomcast shard`, `roomcast edge`
 * and `roomcast admin`. They meet on Redis (see docs/distributed.md): the
 * admin API appends to the rooms' streams and directory, shards own rooms by
 * lease, edges carry viewers of any room.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildAdminApi } from '../admin-api/index.js';
import type { Settings } from '../config/index.js';
import { Edge } from '../edge/index.js';
import { createRegistry } from '../metrics/index.js';
import { Placement, Presence, RoomLeases } from '../ownership/index.js';
import { RoomShard, ShardQueryClient } from '../room-shard/index.js';
import { ViewerTokens } from '../tokens/index.js';
import { parseApiKeys } from '../config/index.js';
import { Restrictions } from '../moderation/index.js';
import { openAdminStores, redisKvStore } from './admin-stores.js';
import { openRedisStack, requireSharedCredentials } from './redis-stack.js';
import { startOpsServer } from './ops-server.js';
import { PrimaryLink } from './edge-worker-link.js';
import { createIds } from './standalone.js';

export interface RunningRole {
  port: number;
  /** Graceful stop (SIGTERM): edges drain viewers, shards hand rooms off. */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

/** A shard's id: unique per process, readable in logs. */
function processId(role: string): string {
  return `${role}-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

export async function startShard(
  settings: Settings,
  logger: Logger,
): Promise<RunningRole> {
  const registry = createRegistry();
  const stack = openRedisStack(settings, registry, logger, 'shard');
  const shardId = processId('shard');
  const log = logger.child({ shardId });
  // The outlet and the placement refer to each other through this callback.
  let restart: (roomKey: string) => void = () => undefined;
  const leases = new RoomLeases({
    redis: stack.redis,
    keys: stack.keys,
    shardId,
    leaseMs: settings.roomLeaseMs,
    sharded: stack.target.mode === 'cluster',
    registry,
    logger: log,
    onRefused: (roomKey) => restart(roomKey),
  });
  const shard = new RoomShard({
    bus: stack.bus,
    log: stack.log,
    directory: stack.directory,
    registry,
    logger: log,
    tickMs: settings.tickMs,
    engineDefaults: {
      lossyItemsPerSecond: settings.lossyItemsPerSecond,
      lossyBytesPerSecond: settings.lossyBytesPerSecond,
    },
    outlet: leases,
    restrictions: new Restrictions(redisKvStore(stack)),
  });
  const placement = new Placement({
    redis: stack.redis,
    keys: stack.keys,
    bus: stack.bus,
    shard,
    leases,
    log: stack.log,
    directory: stack.directory,
    shardId,
    heartbeatMs: settings.shardHeartbeatMs,
    leaseMs: settings.roomLeaseMs,
    registry,
    logger: log,
  });
  restart = (roomKey) => void placement.restart(roomKey);
  shard.start();
  placement.start();
  const ops = await startOpsServer(
    settings.host,
    settings.shardPort,
    registry,
    () => stack.ready() && placement.healthy,
  );
  log.info({ port: ops.port }, 'shard listening');
  const close = async () => {
    await placement.stop();
    await shard.stop();
    await ops.close();
    await stack.close();
  };
  // A shard has no viewers to spread out: its graceful stop is the hand-off.
  return { port: ops.port, drain: close, close };
}

/**
 * One edge process. As worker `worker` of `roomcast edge --workers N` it
 * talks to its primary: announces its port, and serves the whole edge's
 * figures on `/metrics`.
 */
export async function startEdge(
  settings: Settings,
  logger: Logger,
  worker?: number,
): Promise<RunningRole & { stopped?: Promise<void> }> {
  requireSharedCredentials(settings);
  const registry = createRegistry();
  const link =
    worker === undefined ? undefined : new PrimaryLink(worker, registry);
  const stack = openRedisStack(settings, registry, logger, 'edge');
  const edge = new Edge({
    settings,
    bus: stack.bus,
    log: stack.log,
    directory: stack.directory,
    bans: new Restrictions(redisKvStore(stack)),
    tokens: new ViewerTokens(settings.jwtSecret),
    ids: createIds(settings, registry, logger),
    registry,
    logger,
    ready: () => stack.ready(),
    ...(link === undefined
      ? {}
      : { metrics: () => link.scrape(), workers: settings.edgeWorkers }),
  });
  const presence = new Presence(
    stack.redis,
    stack.keys.presence('edge'),
    edge.edgeId,
    settings.roomLeaseMs,
  );
  const beat = () => {
    presence.beat().then(
      ({ rejoined }) => {
        // Not in the presence set until now (a first beat that failed, or
        // an outage): shards may have dropped members this edge reported
        // meanwhile, so it sends them again.
        if (rejoined && edge.connectionCount > 0) {
          logger.info({ edgeId: edge.edgeId }, 'edge rejoined, resyncing');
          edge.resync();
        }
      },
      () => undefined,
    );
  };
  beat();
  const timer = setInterval(beat, settings.shardHeartbeatMs);
  const port = await edge.listen(settings.host, settings.edgePort);
  if (link === undefined) {
    logger.info({ port, edgeId: edge.edgeId }, 'edge listening');
  } else {
    link.announce(port, edge.edgeId);
    logger.info({ port, edgeId: edge.edgeId }, 'edge worker listening');
  }

  const leave = async () => {
    clearInterval(timer);
    await presence.leave().catch(() => undefined);
    await stack.close();
  };
  return {
    port,
    // A worker whose primary is gone drains as on SIGTERM: nobody would
    // restart or stop it, and a new primary's workers take the port over.
    ...(link === undefined ? {} : { stopped: link.disconnected }),
    async drain(graceMs) {
      await edge.drain(graceMs);
      await leave();
    },
    async close() {
      await edge.close();
      await leave();
    },
  };
}

export async function startAdmin(
  settings: Settings,
  logger: Logger,
): Promise<RunningRole> {
  requireSharedCredentials(settings);
  const registry = createRegistry();
  const stack = openRedisStack(settings, registry, logger, 'admin');
  const stores = openAdminStores(stack, settings, logger);
  // Members and engine accounting live in the owning shard's memory; ask it
  // over the bus.
  const shardQueries = new ShardQueryClient({ bus: stack.bus });
  const admin = buildAdminApi({
    settings,
    apiKeys: parseApiKeys(settings.apiKeys),
    directory: stack.directory,
    log: stack.log,
    bus: stack.bus,
    ids: createIds(settings, registry, logger),
    tokens: new ViewerTokens(settings.jwtSecret),
    registry,
    logger,
    kv: stores.kv,
    jobs: stores.jobs,
    members: shardQueries,
    roomStats: (key) => shardQueries.stats(key),
    ready: () => stack.ready(),
  });
  await admin.listen({ host: settings.host, port: settings.adminPort });
  const port = (admin.server.address() as AddressInfo).port;
  logger.info({ port }, 'admin listening');
  const close = async () => {
    await admin.close();
    await shardQueries.close();
    await stores.close();
    await stack.close();
  };
  return { port, drain: close, close };
}
