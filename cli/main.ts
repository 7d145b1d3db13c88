/**
 * `roomcast [role]`: starts one role of roomcast. Settings come from the
 * environment (see the README); the role is the only argument, except for
 * `cluster`, which takes the shape of the local fleet.
 */
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Settings } from '../config/index.js';
import { createLogger } from '../logging/index.js';
import { RedisConfigError } from '../redis/index.js';
import {
  developmentHint,
  parseClusterArgs,
  parseEdgeArgs,
  startAdmin,
  startCluster,
  startEdge,
  startEdgeWorkers,
  startShard,
  startStandalone,
} from '../roles/index.js';
import { watch } from './watch.js';

/**
 * How long past the drain grace period a stopping process may take before it
 * exits anyway. More than an edge primary waits for its workers (10 s).
 */
const SHUTDOWN_MARGIN_MS = 20_000;
const ROLES = ['standalone', 'edge', 'shard', 'admin', 'cluster'] as const;
const USAGE = `usage: roomcast [${ROLES.join('|')}]
       roomcast edge [--workers N]
       roomcast cluster [--edges N] [--shards M] [--edge-workers N]
       roomcast watch ws://HOST:8081/ws?token=TOKEN

Starts roomcast. With no role, runs standalone: admin API, edge and one room
shard in one process. edge, shard and admin run one role of a distributed
fleet that meets on Redis (REDIS_URL or REDIS_CLUSTER_NODES); edge --workers
N runs that edge as N processes sharing its port (ROOMCAST_EDGE_WORKERS);
cluster starts the admin API, M shards and N edges as local processes.
Standalone is always one process. Configuration is by
environment variable; see README.md. \`watch\` connects as a viewer and
prints every frame as a JSON line.`;

interface Started {
  /** Graceful stop (SIGTERM): drains viewers over `graceMs`, hands rooms off. */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
  hint?: string;
  /** An edge worker: resolves when its primary is gone, which stops it like SIGTERM. */
  stopped?: Promise<void>;
}

async function startRole(
  role: string,
  args: string[],
  settings: Settings,
  logger: Logger,
): Promise<Started> {
  switch (role) {
    case 'edge': {
      const { worker, workers = settings.edgeWorkers } = parseEdgeArgs(args);
      if (worker !== undefined) {
        return startEdge(settings, logger.child({ worker }), worker);
      }

      return workers > 1
        ? startEdgeWorkers(settings, workers, logger)
        : startEdge(settings, logger);
    }

    case 'shard':
      return startShard(settings, logger);
    case 'admin':
      return startAdmin(settings, logger);
    case 'cluster': {
      const running = await startCluster(
        settings,
        parseClusterArgs(args),
        logger,
      );
      return running.development
        ? {
            ...running,
            hint: developmentHint(running.apiKey, settings.adminPort),
          }
        : running;
    }

    default: {
      const running = await startStandalone(settings, logger);
      const [apiKey] = running.credentials.apiKeys.keys();
      return running.credentials.development
        ? {
            ...running,
            hint: developmentHint(apiKey ?? '', running.adminPort),
          }
        : running;
    }
  }
}

/** Remembers the first stop signal from the moment it is made. */
class SignalLatch {
  readonly first: Promise<string>;
  #resolve: (signal: string) => void = () => undefined;
  #onTerm = () => this.take('SIGTERM');
  #onInt = () => this.take('SIGINT');

  constructor() {
    this.first = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    process.on('SIGTERM', this.#onTerm);
    process.on('SIGINT', this.#onInt);
  }

  take(signal: string): void {
    this.#resolve(signal);
  }

  /** Back to the default actions: the next signal ends the process. */
  release(): void {
    process.off('SIGTERM', this.#onTerm);
    process.off('SIGINT', this.#onInt);
  }
}

async function main(argv: string[]): Promise<number> {
  const role = argv[0] ?? 'standalone';
  if (role === '--help' || role === '-h' || role === 'help') {
    console.log(USAGE);
    return 0;
  }

  if (role === 'watch') {
    return watch(argv[1]);
  }

  if (!(ROLES as readonly string[]).includes(role)) {
    console.error(`roomcast: unknown role ${JSON.stringify(role)}\n\n${USAGE}`);
    return 2;
  }

  let settings;
  try {
    settings = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`roomcast: ${error.message}`);
      return 2;
    }

    throw error;
  }

  const logger = createLogger({ level: settings.logLevel, role });
  // Listen before starting: a signal that comes while the role starts
  // (its ports are logged before start-up returns) is acted on once it is
  // up, instead of killing the process by the default action.
  const signals = new SignalLatch();
  let running;
  try {
    running = await startRole(role, argv.slice(1), settings, logger);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof RedisConfigError) {
      logger.fatal({ err: error }, 'refusing to start');
      console.error(`roomcast: ${error.message}`);
      return 2;
    }

    throw error;
  }

  if (running.hint !== undefined) {
    console.error(running.hint);
  }

  // SIGTERM (Kubernetes, systemd) drains viewers over the grace period;
  // SIGINT (Ctrl-C) stops at once. An edge worker gets a signal twice when
  // it is sent to the process group (its primary forwards it too), so it
  // keeps its handlers: the second must not kill it mid-drain. Any other
  // process stops at once on a second signal.
  const stopped = running.stopped;
  void stopped?.then(() => signals.take('SIGTERM'));
  // Started by a roomcast parent with an IPC channel (`roomcast cluster`):
  // the channel closing means the parent died, so stop as on SIGTERM.
  if (process.channel !== undefined) {
    process.once('disconnect', () => signals.take('SIGTERM'));
  }

  const signal = await signals.first;
  if (stopped === undefined) {
    signals.release();
  }

  logger.info({ signal }, 'shutting down');
  // A stop that hangs (a request or a Redis command that never settles)
  // must not leave the process behind: past the grace period and a margin
  // it exits anyway, non-zero, and says so.
  const boundMs =
    (signal === 'SIGTERM' ? settings.drainGraceSeconds * 1000 : 0) +
    SHUTDOWN_MARGIN_MS;
  setTimeout(() => {
    logger.error({ boundMs }, 'shutdown did not finish in time; exiting');
    process.exit(1);
  }, boundMs).unref();
  if (signal === 'SIGTERM') {
    await running.drain(settings.drainGraceSeconds * 1000);
  } else {
    await running.close();
  }

  logger.info('stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('roomcast: fatal error', error);
    process.exit(1);
  },
);
