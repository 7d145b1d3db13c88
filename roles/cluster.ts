/**
 * `roomcast cluster --edges N --shards M [--edge-workers W]`: the distributed
 * topology as local processes, for demos and load tests. It starts the admin
 * API, M shards and N edges of W worker processes each (edges on consecutive
 * ports from ROOMCAST_EDGE_PORT, shards from ROOMCAST_SHARD_PORT; 0 lets each
 * pick), gives them one set of credentials (generated when none are set),
 * forwards their logs, and stops them all on SIGTERM. A child that dies is reported, not restarted: a test or operator
 * decides what a dead process means.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { ConfigError, type Settings } from '../config/index.js';
import type { RunningRole } from './distributed.js';
import { MAX_EDGE_WORKERS } from './edge-workers.js';

export interface ClusterShape {
  edges: number;
  shards: number;
  /** Worker processes per edge (`--edge-workers`); default ROOMCAST_EDGE_WORKERS. */
  edgeWorkers?: number;
}

/** Most processes of one role `roomcast cluster` starts. */
const MAX_PER_ROLE = 64;
const FLAGS: Partial<Record<string, keyof ClusterShape>> = {
  '--edges': 'edges',
  '--shards': 'shards',
  '--edge-workers': 'edgeWorkers',
};

export function parseClusterArgs(args: string[]): ClusterShape {
  const shape: ClusterShape = { edges: 1, shards: 1 };
  for (let index = 0; index < args.length; index += 2) {
    const flag = args[index];
    const value = Number(args[index + 1]);
    const field = FLAGS[flag ?? ''];
    if (field === undefined) {
      throw new ConfigError(`unknown cluster option ${JSON.stringify(flag)}`);
    }

    const most = field === 'edgeWorkers' ? MAX_EDGE_WORKERS : MAX_PER_ROLE;
    if (!Number.isInteger(value) || value < 1 || value > most) {
      throw new ConfigError(`${flag} takes a number from 1 to ${most}`);
    }

    shape[field] = value;
  }

  return shape;
}

const BIN = fileURLToPath(new URL('../bin/roomcast.js', import.meta.url));

export interface RunningCluster extends RunningRole {
  apiKey: string;
  development: boolean;
}

export async function startCluster(
  settings: Settings,
  shape: ClusterShape,
  logger: Logger,
): Promise<RunningCluster> {
  const development = settings.apiKeys === '' || settings.jwtSecret === '';
  const apiKeys =
    settings.apiKeys === ''
      ? `dev:dev_${randomBytes(18).toString('base64url')}`
      : settings.apiKeys;
  const jwtSecret =
    settings.jwtSecret === ''
      ? randomBytes(32).toString('base64url')
      : settings.jwtSecret;
  if (development) {
    logger.warn(
      'development mode: generated credentials, do not use in production',
    );
  }

  const children = new Set<ChildProcess>();
  let stopping = false;
  const start = (role: string, env: Record<string, string>) => {
    const child = spawn(process.execPath, [BIN, role], {
      env: {
        ...process.env,
        ROOMCAST_API_KEYS: apiKeys,
        ROOMCAST_JWT_SECRET: jwtSecret,
        ...env,
      },
      // The IPC channel is how a child learns its parent is gone (it stops
      // as on SIGTERM when the channel closes), so none outlives a cluster
      // that was killed.
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(child);
    logger.info({ child: role, childPid: child.pid }, 'process started');
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (!stopping) {
        logger.warn(
          { child: role, childPid: child.pid, code, signal },
          'process exited',
        );
      }
    });
  };
  const from = (base: number, index: number) =>
    String(base === 0 ? 0 : base + index);

  start('admin', { ROOMCAST_ADMIN_PORT: String(settings.adminPort) });
  const shardBase = shardPortBase(settings, shape);
  for (let index = 0; index < shape.shards; index++) {
    start('shard', { ROOMCAST_SHARD_PORT: from(shardBase, index) });
  }

  for (let index = 0; index < shape.edges; index++) {
    start('edge', {
      ROOMCAST_EDGE_PORT: from(settings.edgePort, index),
      ROOMCAST_EDGE_WORKERS: String(shape.edgeWorkers ?? settings.edgeWorkers),
    });
  }

  return {
    port: settings.adminPort,
    apiKey: apiKeys.split(',')[0]?.split(':')[1] ?? '',
    development,
    // SIGTERM makes each child drain or hand off on its own; the parent
    // only waits for them.
    drain: async () => stop(),
    close: async () => stop(),
  };

  async function stop(): Promise<void> {
    stopping = true;
    await Promise.all(
      [...children].map(
        (child) =>
          new Promise<void>((resolve) => {
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}

/**
 * Where the shards' ports start: `ROOMCAST_SHARD_PORT`, unless the edges'
 * consecutive ports would run into it (the defaults 8081 and 8082 do with
 * two edges), in which case the shards follow the last edge.
 */
export function shardPortBase(
  settings: Pick<Settings, 'edgePort' | 'shardPort'>,
  shape: ClusterShape,
): number {
  const { edgePort, shardPort } = settings;
  if (edgePort === 0 || shardPort === 0) {
    return shardPort;
  }

  const overlaps =
    shardPort < edgePort + shape.edges && edgePort < shardPort + shape.shards;
  return overlaps ? edgePort + shape.edges : shardPort;
}
