/**
 * Services the load test starts itself (`--spawn`, `--baseline`): roomcast
 * standalone, and the uws baseline. Each listens on loopback on ports the
 * kernel picks (port 0) and logs the ports it bound as JSON lines (`msg`
 * 'admin api listening' / 'edge listening' with a `port` field), which is
 * how the load test finds them. Credentials are generated per run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LoadtestError } from './loadtest-error.js';
import type { RunTarget } from './run.js';

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

/** Starts a service and waits for both of its ports. */
async function start(
  kind: SpawnKind,
  args: string[],
  env: NodeJS.ProcessEnv,
  apiKey: string,
  label: string,
): Promise<SpawnedService> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (line: string): void => {
    lines.push(line);
    if (lines.length > KEPT_LINES) {
      lines.shift();
    }
  };
  let adminPort = 0;
  let edgePort = 0;
  const ports = new Promise<void>((resolve, reject) => {
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

        const { msg, port } = entry as { msg?: unknown; port?: unknown };
        if (typeof port !== 'number') {
          return;
        }

        if (msg === 'admin api listening') {
          adminPort = port;
        } else if (msg === 'edge listening') {
          edgePort = port;
        }

        if (adminPort > 0 && edgePort > 0) {
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
    await ports;
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
    kind,
    pid: child.pid ?? -1,
    target: {
      label,
      adminUrl: `http://127.0.0.1:${adminPort}`,
      edgeUrl: `ws://127.0.0.1:${edgePort}/ws`,
      apiKey,
      ...(child.pid === undefined ? {} : { pid: child.pid }),
    },
    recentOutput: () => [...lines],
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

/** Starts `roomcast standalone` (or `cluster`) on loopback, ports 0. */
export function spawnRoomcast(
  kind: 'standalone' | 'cluster',
  extraEnv: Record<string, string> = {},
): Promise<SpawnedService> {
  const apiKey = randomBytes(24).toString('hex');
  return start(
    kind,
    [ROOMCAST_BIN, kind],
    {
      ...cleanEnvironment(),
      ROOMCAST_API_KEYS: `loadtest:${apiKey}`,
      ROOMCAST_JWT_SECRET: randomBytes(32).toString('hex'),
      ROOMCAST_HOST: '127.0.0.1',
      ROOMCAST_ADMIN_PORT: '0',
      ROOMCAST_EDGE_PORT: '0',
      ...extraEnv,
    },
    apiKey,
    `roomcast ${kind}`,
  );
}

/** Starts a baseline (`uws` or `socketio`) on loopback, ports 0. */
export async function spawnBaseline(
  kind: 'uws' | 'socketio',
): Promise<SpawnedService> {
  const service = await start(
    kind,
    [LOADTEST_BIN, 'baseline', kind, '--admin-port', '0', '--edge-port', '0'],
    cleanEnvironment(),
    'baseline-needs-no-key',
    `${kind} baseline`,
  );
  if (kind === 'socketio') {
    const edge = new URL(service.target.edgeUrl);
    service.target.edgeUrl = `ws://${edge.host}/socket.io/?EIO=4&transport=websocket`;
    service.target.protocol = 'socketio';
  }

  return service;
}
