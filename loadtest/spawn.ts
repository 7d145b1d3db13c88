/**
 * Services the load test starts itself (`--spawn`, `--baseline`): roomcast
 * standalone, and the uws baseline. Each listens on loopback on ports the
 * kernel picks (port 0) and logs the ports it bound as JSON lines (`msg`
 * 'admin api listening' / 'edge listening' with a `port` field), which is
 * how the load test finds them; roomcast's processes are then waited for
 * until their `/readyz` answers 200. Credentials are generated per run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';
import { LoadtestError } from './loadtest-error.js';
import { waitUntilReady } from './readiness.js';
import type { RunTarget } from './run.js';
import type { ChaosStep } from './scenario.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROOMCAST_BIN = fileURLToPath(
  new URL('../bin/roomcast.js', import.meta.url),
);
const LOADTEST_BIN = fileURLToPath(
  new URL('../bin/roomcast-loadtest.js', import.meta.url),
);
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
/** Lines of the service's output kept for error messages. */
const KEPT_LINES = 40;

export type SpawnKind = 'standalone' | 'cluster' | 'uws' | 'socketio';

export interface SpawnedService {
  kind: SpawnKind;
  target: RunTarget;
  pid: number;
  /** The last lines the service printed. */
  recentOutput(): string[];
  /** How the service exited before {@link stop}, or null while it runs. */
  exitedEarly(): string | null;
  /** SIGTERM, then SIGKILL if it has not exited in 10 s. */
  stop(): Promise<void>;
}

/** Services and Redis servers started for the run and still running. */
const running = new Set<ChildProcess>();
let hooked = false;
/** Signals that end the load test, with their numbers (exit code 128 + n). */
const EXIT_SIGNALS: [NodeJS.Signals, number][] = [
  ['SIGINT', 2],
  ['SIGTERM', 15],
  ['SIGHUP', 1],
];

/**
 * Keeps `child` in {@link running} until it exits. The first one installs
 * the hooks that stop them all when the load test ends before its run does:
 * an exit (a crash, or EPIPE on a closed stdout) sends SIGTERM, and SIGINT,
 * SIGTERM or SIGHUP sends it and then exits as the signal would have.
 */
function track(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', stopRunning);
    for (const [signal, code] of EXIT_SIGNALS) {
      process.once(signal, () => {
        stopRunning();
        process.exit(128 + code);
      });
    }
  }

  running.add(child);
  child.once('exit', () => running.delete(child));
}

function stopRunning(): void {
  for (const child of running) {
    child.kill('SIGTERM');
  }
}

/** The environment without settings meant for other processes. */
function cleanEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('ROOMCAST_') && !key.startsWith('LOADTEST_')) {
      env[key] = value;
    }
  }

  return env;
}

/** A process of a started service that logged the port it bound. */
interface Listener {
  role: 'admin' | 'edge' | 'shard';
  port: number;
  pid: number;
}

const LISTENING: Record<string, Listener['role']> = {
  'admin api listening': 'admin',
  'admin listening': 'admin',
  'edge listening': 'edge',
  'shard listening': 'shard',
};

interface Started {
  child: ChildProcess;
  listeners: Listener[];
  /** Worker pids of an edge of several processes, by the edge primary's pid. */
  edgeWorkers: Map<number, number[]>;
  lines: string[];
  exitedEarly: () => string | null;
  stop: () => Promise<void>;
}

/**
 * Starts a service and waits until it has logged an admin port, `edges`
 * edge ports and `shards` shard ports.
 */
async function start(
  args: string[],
  env: NodeJS.ProcessEnv,
  label: string,
  expect: { edges: number; shards: number },
  logFile?: string,
): Promise<Started> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const log = logFile === undefined ? undefined : openLog(logFile, child);
  const lines: string[] = [];
  const keep = (line: string): void => {
    log?.write(`${line}\n`);
    lines.push(line);
    if (lines.length > KEPT_LINES) {
      lines.shift();
    }
  };
  const listeners: Listener[] = [];
  const edgeWorkers = new Map<number, number[]>();
  const count = (role: Listener['role']): number =>
    listeners.filter((listener) => listener.role === role).length;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new LoadtestError(
          'LOADTEST_SPAWN_FAILED',
          `${label} did not report its ports within ${START_TIMEOUT_MS} ms:\n${lines.join('\n')}`,
        ),
      );
    }, START_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new LoadtestError(
          'LOADTEST_SPAWN_FAILED',
          `${label} exited during start-up (code ${code}, signal ${signal}):\n${lines.join('\n')}`,
        ),
      );
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on(
      'line',
      (line) => {
        keep(line);
        let entry: unknown;
        try {
          entry = JSON.parse(line);
        } catch {
          return;
        }

        const { msg, port, pid, workerPid } = entry as {
          msg?: unknown;
          port?: unknown;
          pid?: unknown;
          workerPid?: unknown;
        };
        if (
          msg === 'edge worker started' &&
          typeof pid === 'number' &&
          typeof workerPid === 'number'
        ) {
          edgeWorkers.set(pid, [...(edgeWorkers.get(pid) ?? []), workerPid]);
        }

        const role = typeof msg === 'string' ? LISTENING[msg] : undefined;
        if (role === undefined || typeof port !== 'number') {
          return;
        }

        listeners.push({
          role,
          port,
          pid: typeof pid === 'number' ? pid : (child.pid ?? -1),
        });
        if (
          count('admin') >= 1 &&
          count('edge') >= expect.edges &&
          count('shard') >= expect.shards
        ) {
          clearTimeout(timer);
          resolve();
        }
      },
    );
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on(
      'line',
      keep,
    );
  });
  try {
    await ready;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  let exited = false;
  let stopping = false;
  let early: string | null = null;
  child.once('exit', (code, signal) => {
    exited = true;
    if (!stopping) {
      early = `exited with code ${code}, signal ${signal}`;
    }
  });
  return {
    child,
    listeners,
    edgeWorkers,
    lines,
    exitedEarly: () => early,
    stop: async () => {
      stopping = true;
      if (exited) {
        return;
      }

      const exit = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Every line the service prints, to `path`; closed when it exits. */
function openLog(path: string, child: ChildProcess): WriteStream {
  const log = createWriteStream(path);
  log.on('error', () => undefined);
  child.once('exit', () => log.end());
  return log;
}

/**
 * Waits for `/readyz` on every port the roomcast processes logged: listening
 * comes before the Redis connection and subscriptions, and the admin API
 * answers 503 until then. Stops the service when it does not get ready.
 */
async function whenReady(started: Started, label: string): Promise<void> {
  try {
    await waitUntilReady(
      started.listeners.map((listener) => listener.port),
      label,
      { timeoutMs: START_TIMEOUT_MS, stopped: started.exitedEarly },
    );
  } catch (error) {
    await started.stop();
    throw new LoadtestError(
      'LOADTEST_SPAWN_FAILED',
      `${(error as Error).message}:\n${started.lines.join('\n')}`,
      { cause: error },
    );
  }
}

function service(
  kind: SpawnKind,
  started: Started,
  apiKey: string,
  label: string,
): SpawnedService {
  const { child, listeners } = started;
  const admin = listeners.find((listener) => listener.role === 'admin');
  const edges = listeners.filter((listener) => listener.role === 'edge');
  const edgeUrls = edges.map(
    (listener) => `ws://127.0.0.1:${listener.port}/ws`,
  );
  return {
    kind,
    pid: child.pid ?? -1,
    target: {
      label,
      adminUrl: `http://127.0.0.1:${admin?.port ?? 0}`,
      edgeUrl: edgeUrls[0] ?? '',
      edgeUrls,
      apiKey,
      pids: () => [
        ...new Set([
          ...(child.pid === undefined ? [] : [child.pid]),
          ...listeners.map((listener) => listener.pid),
          ...[...started.edgeWorkers.values()].flat(),
        ]),
      ],
      edgePids: () => [
        ...new Set(
          edges.flatMap((listener) => [
            listener.pid,
            ...(started.edgeWorkers.get(listener.pid) ?? []),
          ]),
        ),
      ],
    },
    recentOutput: () => [...started.lines],
    exitedEarly: started.exitedEarly,
    stop: started.stop,
  };
}

/** Starts `roomcast standalone` on loopback, ports 0; its output to `logFile` when given. */
export async function spawnRoomcast(
  kind: 'standalone',
  extraEnv: Record<string, string> = {},
  logFile?: string,
): Promise<SpawnedService> {
  const apiKey = randomBytes(24).toString('hex');
  const started = await start(
    [ROOMCAST_BIN, kind],
    {
      ...credentials(apiKey),
      ROOMCAST_ADMIN_PORT: '0',
      ROOMCAST_EDGE_PORT: '0',
      ...extraEnv,
    },
    `roomcast ${kind}`,
    { edges: 1, shards: 0 },
    logFile,
  );
  await whenReady(started, `roomcast ${kind}`);
  return service(kind, started, apiKey, `roomcast ${kind}`);
}

function credentials(apiKey: string): NodeJS.ProcessEnv {
  return {
    ...cleanEnvironment(),
    ROOMCAST_API_KEYS: `loadtest:${apiKey}`,
    ROOMCAST_JWT_SECRET: randomBytes(32).toString('hex'),
    ROOMCAST_HOST: '127.0.0.1',
    // The run's one key mints every viewer's token and sends every publish:
    // a platform's per-key limit would cap the arrival rate, not roomcast.
    ROOMCAST_ADMIN_REQUESTS_PER_SECOND: '1000000',
  };
}

/** A Redis of the run's own, so stopping it breaks nothing of anyone else's. */
async function startRedis(): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', ''],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  track(child);
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new LoadtestError(
          'LOADTEST_SPAWN_FAILED',
          `redis-server did not start:\n${lines.join('\n')}`,
        ),
      );
    }, START_TIMEOUT_MS);
    child.once('error', (cause) => {
      clearTimeout(timer);
      reject(
        new LoadtestError(
          'LOADTEST_SPAWN_FAILED',
          'redis-server could not be started (is it installed?)',
          { cause },
        ),
      );
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(
        new LoadtestError(
          'LOADTEST_SPAWN_FAILED',
          `redis-server exited:\n${lines.join('\n')}`,
        ),
      );
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on(
      'line',
      (line) => {
        lines.push(line);
        if (line.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      },
    );
  });
  return { port, child };
}

/**
 * Starts `roomcast cluster --edges N --shards M` on loopback, ports 0, on a
 * Redis of its own. Chaos steps act on its processes by pid: kill-edge and
 * kill-shard send SIGKILL, drain-edge SIGTERM, stop-redis kills the Redis.
 * Every line its processes print goes to `logFile` when given; `extraEnv`
 * adds settings (`--set`).
 */
export async function spawnCluster(
  shape: {
    edges: number;
    shards: number;
    /** Worker processes per edge (`roomcast cluster --edge-workers`). */
    edgeWorkers?: number;
  },
  logFile?: string,
  extraEnv: Record<string, string> = {},
): Promise<SpawnedService> {
  const redis = await startRedis();
  const apiKey = randomBytes(24).toString('hex');
  const label = `roomcast cluster (${shape.edges} edges, ${shape.shards} shards)`;
  let started: Started;
  try {
    started = await start(
      [
        ROOMCAST_BIN,
        'cluster',
        '--edges',
        String(shape.edges),
        '--shards',
        String(shape.shards),
        '--edge-workers',
        String(shape.edgeWorkers ?? 1),
      ],
      {
        ...credentials(apiKey),
        REDIS_URL: `redis://127.0.0.1:${redis.port}`,
        ROOMCAST_REDIS_PREFIX: `lt${randomBytes(4).toString('hex')}:`,
        ROOMCAST_ADMIN_PORT: '0',
        ROOMCAST_EDGE_PORT: '0',
        ROOMCAST_SHARD_PORT: '0',
        ...extraEnv,
      },
      label,
      shape,
      logFile,
    );
    await whenReady(started, label);
  } catch (error) {
    redis.child.kill('SIGKILL');
    throw error;
  }

  const spawned = service('cluster', started, apiKey, label);
  const of = (role: Listener['role'], index: number): Listener => {
    const listener = started.listeners.filter((l) => l.role === role)[index];
    if (listener === undefined) {
      throw new LoadtestError(
        'LOADTEST_BAD_OPTION',
        `the cluster has no ${role} ${index}`,
      );
    }

    return listener;
  };
  spawned.target.metricsUrls = started.listeners
    .filter((listener) => listener.role === 'shard')
    .map((listener) => `http://127.0.0.1:${listener.port}/metrics`);
  const basePids = spawned.target.pids ?? (() => []);
  spawned.target.pids = () => [
    ...basePids(),
    ...(redis.child.pid === undefined ? [] : [redis.child.pid]),
  ];
  spawned.target.chaos = (step: ChaosStep): Promise<void> => {
    switch (step.action) {
      case 'kill-edge': {
        // An edge of several workers dies whole: primary and workers.
        const { pid } = of('edge', step.index);
        for (const worker of started.edgeWorkers.get(pid) ?? []) {
          killIfAlive(worker);
        }

        process.kill(pid, 'SIGKILL');
        break;
      }

      case 'drain-edge':
        process.kill(of('edge', step.index).pid, 'SIGTERM');
        break;
      case 'kill-shard':
        process.kill(of('shard', step.index).pid, 'SIGKILL');
        break;
      case 'stop-redis':
        redis.child.kill('SIGKILL');
        break;
      default:
        break;
    }

    return Promise.resolve();
  };
  const stopCluster = spawned.stop;
  spawned.stop = async () => {
    await stopCluster();
    if (redis.child.exitCode === null && redis.child.signalCode === null) {
      const exit = once(redis.child, 'exit');
      redis.child.kill('SIGTERM');
      await exit;
    }
  };
  return spawned;
}

/**
 * Starts a baseline (`uws` or `socketio`) on loopback, ports 0. The uws
 * baseline may run in several processes: a primary and `processes` workers
 * sharing the edge port; CPU and memory are summed over all of them.
 */
export async function spawnBaseline(
  kind: 'uws' | 'socketio',
  processes = 1,
): Promise<SpawnedService> {
  const label = `${kind} baseline`;
  const started = await start(
    [
      LOADTEST_BIN,
      'baseline',
      kind,
      '--admin-port',
      '0',
      '--edge-port',
      '0',
      '--processes',
      String(processes),
    ],
    cleanEnvironment(),
    label,
    { edges: 1, shards: 0 },
  );
  const spawned = service(kind, started, 'baseline-needs-no-key', label);
  if (kind === 'socketio') {
    const edge = new URL(spawned.target.edgeUrl);
    spawned.target.edgeUrl = `ws://${edge.host}/socket.io/?EIO=4&transport=websocket`;
    spawned.target.edgeUrls = [spawned.target.edgeUrl];
    spawned.target.protocol = 'socketio';
  }

  return spawned;
}

/** SIGKILL to a process that may have exited already (a restarted worker). */
function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}
