/**
 * `roomcast edge --workers N`: one edge made of N processes on one port. A
 * process may open only so many files (about 19,500 here), so an edge that
 * holds more viewers than that runs several workers, each a full edge of its
 * own (own uWS app, own Redis connections, own identity in presence), all
 * listening on the same port with SO_REUSEPORT; the kernel spreads new
 * connections over them.
 *
 * The primary serves nothing itself. It starts the workers (on a free port
 * it picks when the port is 0: uWS does not share a port it got from the
 * kernel, so the workers must all ask for the same number), restarts
 * one that dies after a backoff, forwards SIGTERM and SIGINT so each worker
 * drains or closes on its own, and answers the workers' scrapes with every
 * worker's registry summed: a scrape of the edge port reaches one worker but
 * counts the whole edge. Process figures (CPU, memory) are the workers' sum;
 * the primary's own are left out.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { ConfigError, type Settings } from '../config/index.js';
import {
  aggregateSnapshots,
  counter,
  createRegistry,
  gauge,
  snapshotValue,
  type RegistrySnapshot,
} from '../metrics/index.js';
import type { RunningRole } from './distributed.js';
import type { PrimaryMessage, WorkerMessage } from './edge-worker-link.js';
import { requireSharedCredentials } from './redis-stack.js';
import { RestartBackoff } from './restart-backoff.js';

const BIN = fileURLToPath(new URL('../bin/roomcast.js', import.meta.url));
/** Most workers one edge runs; the setting's bound too. */
export const MAX_EDGE_WORKERS = 64;
/** How long a scrape waits for each worker's registry. */
const COLLECT_TIMEOUT_MS = 2000;
/** Past the drain grace, how long a worker may take before it is killed. */
const STOP_MARGIN_MS = 10_000;

export interface EdgeArgs {
  /** `--workers N`: the primary of N workers. */
  workers?: number;
  /** `--worker I`: this process is worker I of a primary (internal). */
  worker?: number;
}

export function parseEdgeArgs(args: string[]): EdgeArgs {
  const parsed: EdgeArgs = {};
  for (let index = 0; index < args.length; index += 2) {
    const flag = args[index];
    const value = Number(args[index + 1]);
    if (flag !== '--workers' && flag !== '--worker') {
      throw new ConfigError(`unknown edge option ${JSON.stringify(flag)}`);
    }

    const least = flag === '--workers' ? 1 : 0;
    if (!Number.isInteger(value) || value < least || value > MAX_EDGE_WORKERS) {
      throw new ConfigError(
        `${flag} takes a number from ${least} to ${MAX_EDGE_WORKERS}`,
      );
    }

    parsed[flag === '--workers' ? 'workers' : 'worker'] = value;
  }

  return parsed;
}

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  startedMs: number;
  listening: boolean;
  backoff: RestartBackoff;
  restartTimer: NodeJS.Timeout | undefined;
}

export async function startEdgeWorkers(
  settings: Settings,
  count: number,
  logger: Logger,
): Promise<RunningRole> {
  // Refused here, once, rather than by every worker at every restart.
  requireSharedCredentials(settings);
  const registry = createRegistry({ defaults: false });
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({
    index,
    child: undefined,
    startedMs: 0,
    listening: false,
    backoff: new RestartBackoff(),
    restartTimer: undefined,
  }));
  gauge(registry, {
    name: 'roomcast_edge_workers',
    help: 'Edge worker processes listening on the edge port.',
    collect() {
      this.set(slots.filter((slot) => slot.listening).length);
    },
  });
  const restarts = counter(registry, {
    name: 'roomcast_edge_worker_restarts_total',
    help: 'Edge workers restarted by the primary after they died.',
  });
  const workerConnections = gauge(registry, {
    name: 'roomcast_edge_worker_connections',
    help: 'Open viewer WebSockets per edge worker, as of this scrape.',
    labelNames: ['worker'],
  });
  const scraped = gauge(registry, {
    name: 'roomcast_edge_workers_scraped',
    help: 'Edge workers whose figures are in this scrape (the others did not answer in time).',
  });

  let port = settings.edgePort;
  let stopping = false;
  let nextCollect = 1;
  const collecting = new Map<number, (metrics: RegistrySnapshot) => void>();
  const listeners = new Map<number, () => void>();

  const start = (slot: Slot): void => {
    slot.restartTimer = undefined;
    const child = fork(BIN, ['edge', '--worker', String(slot.index)], {
      // Each worker is told the edge's size: they share its budgets.
      env: {
        ...process.env,
        ROOMCAST_EDGE_PORT: String(port),
        ROOMCAST_EDGE_WORKERS: String(count),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    slot.child = child;
    slot.startedMs = Date.now();
    slot.listening = false;
    logger.info(
      { worker: slot.index, workerPid: child.pid },
      'edge worker started',
    );
    child.on('message', (message: WorkerMessage) => {
      onMessage(slot, child, message);
    });
    child.on('error', (error) => {
      logger.warn({ worker: slot.index, err: error }, 'edge worker ipc failed');
    });
    child.once('exit', (code, signal) => {
      slot.listening = false;
      slot.child = undefined;
      if (stopping) {
        return;
      }

      restarts.inc();
      const restartInMs = slot.backoff.next(Date.now() - slot.startedMs);
      logger.warn(
        { worker: slot.index, workerPid: child.pid, code, signal, restartInMs },
        'edge worker exited, restarting',
      );
      slot.restartTimer = setTimeout(() => start(slot), restartInMs);
    });
  };

  const onMessage = (
    slot: Slot,
    child: ChildProcess,
    message: WorkerMessage,
  ): void => {
    switch (message.t) {
      case 'listening':
        slot.listening = true;
        listeners.get(slot.index)?.();
        return;
      case 'snapshot':
        collecting.get(message.id)?.(message.metrics);
        return;
      case 'scrape':
        // A worker left unanswered serves its own figures after a while.
        scrape().then(
          (answer) => {
            send(child, { t: 'scraped', id: message.id, ...answer });
          },
          (error: unknown) => {
            logger.error({ err: error }, 'edge metrics could not be summed');
          },
        );
        return;
    }
  };

  const collect = (slot: Slot): Promise<RegistrySnapshot | undefined> => {
    const child = slot.child;
    if (child === undefined || !slot.listening || !child.connected) {
      return Promise.resolve(undefined);
    }

    const id = nextCollect++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        collecting.delete(id);
        resolve(undefined);
      }, COLLECT_TIMEOUT_MS);
      collecting.set(id, (metrics) => {
        clearTimeout(timer);
        collecting.delete(id);
        resolve(metrics);
      });
      send(child, { t: 'collect', id });
    });
  };

  const scrape = async () => {
    const snapshots = await Promise.all(slots.map(collect));
    workerConnections.reset();
    let answered = 0;
    for (const [index, snapshot] of snapshots.entries()) {
      if (snapshot !== undefined) {
        answered += 1;
        workerConnections.set(
          { worker: String(index) },
          snapshotValue(snapshot, 'roomcast_edge_connections') ?? 0,
        );
      }
    }

    scraped.set(answered);
    const present = snapshots.filter((snapshot) => snapshot !== undefined);
    return aggregateSnapshots([await registry.getMetricsAsJSON(), ...present]);
  };

  /** Starts a slot and resolves once it listens, or rejects if it exits first. */
  const startListening = (slot: Slot): Promise<void> =>
    new Promise((resolve, reject) => {
      listeners.set(slot.index, () => {
        listeners.delete(slot.index);
        resolve();
      });
      start(slot);
      slot.child?.once('exit', (code, signal) => {
        if (listeners.delete(slot.index)) {
          reject(
            new Error(
              `edge worker ${slot.index} exited during start-up (code ${code}, signal ${signal})`,
            ),
          );
        }
      });
    });

  const stop = async (signal: NodeJS.Signals, waitMs: number) => {
    stopping = true;
    await Promise.all(
      slots.map(async (slot) => {
        clearTimeout(slot.restartTimer);
        const child = slot.child;
        if (child === undefined) {
          return;
        }

        const exited = new Promise<[number | null, string | null]>(
          (resolve) => {
            child.once('exit', (code, exitSignal) =>
              resolve([code, exitSignal]),
            );
          },
        );
        child.kill(signal);
        const killer = setTimeout(() => child.kill('SIGKILL'), waitMs);
        const [code, exitSignal] = await exited;
        clearTimeout(killer);
        if (code !== 0) {
          logger.error(
            { worker: slot.index, code, signal: exitSignal },
            'edge worker did not stop cleanly',
          );
        }
      }),
    );
  };

  if (port === 0) {
    port = await freePort(settings.host);
  }

  try {
    await Promise.all(slots.map(startListening));
  } catch (error) {
    await stop('SIGKILL', 0);
    throw error;
  }

  logger.info({ port, workers: count }, 'edge listening');
  return {
    port,
    // Each worker drains its own viewers over the grace period; the primary
    // only waits, and kills a worker that overstays it.
    drain: (graceMs) => stop('SIGTERM', graceMs + STOP_MARGIN_MS),
    close: () => stop('SIGINT', STOP_MARGIN_MS),
  };
}

/** Sends unless the channel is closed; a send that fails meanwhile is dropped. */
function send(child: ChildProcess, message: PrimaryMessage): void {
  if (child.connected) {
    child.send(message, () => undefined);
  }
}

/**
 * A port free on `host` now. Another process could take it before the
 * workers bind it (they would then fail to start and the edge with them);
 * set ROOMCAST_EDGE_PORT where that matters.
 */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
