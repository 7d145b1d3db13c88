/**
 * Redis servers a test starts and breaks itself, on spare ports, from the
 * `redis-server` binary: one Redis with append-only persistence (so a stop
 * and restart keeps the data, as production is told to configure it), and a
 * three-master Redis Cluster. Never the shared Redis on 6379.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitUntil } from './wait.js';

const run = promisify(execFile);

/** A port nothing listens on right now. */
export async function sparePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') {
    throw new Error('no spare port');
  }

  return address.port;
}

async function ping(port: number): Promise<boolean> {
  try {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'ping']);
    return stdout.trim() === 'PONG';
  } catch {
    return false;
  }
}

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  #args: string[];
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string, args: string[]) {
    this.port = port;
    this.dir = dir;
    this.#args = args;
  }

  /** Starts a persistent (appendfsync always) Redis on a spare port. */
  static async start(extraArgs: string[] = []): Promise<RedisServer> {
    const port = await sparePort();
    const dir = await mkdtemp(join(tmpdir(), 'roomcast-redis-'));
    const server = new RedisServer(port, dir, [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      ...extraArgs,
    ]);
    await server.resume();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the server process on the same port and data directory. */
  async resume(): Promise<void> {
    this.#child = spawn('redis-server', this.#args, { stdio: 'ignore' });
    await waitUntil(() => ping(this.port), 10_000, `redis on ${this.port}`);
  }

  /** Stops it the way an orderly restart does (SIGTERM: flush, then exit). */
  async pause(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }

  /** Stops the process without closing its connections (SIGSTOP): a Redis that stopped answering. */
  freeze(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** Lets a frozen process run again (SIGCONT). */
  thaw(): void {
    this.#child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.thaw();
    await this.pause();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export class RedisClusterServers {
  readonly nodes: RedisServer[];

  private constructor(nodes: RedisServer[]) {
    this.nodes = nodes;
  }

  /** Three masters, no replicas, every slot assigned, state ok. */
  static async start(): Promise<RedisClusterServers> {
    const nodes = await Promise.all(
      [0, 1, 2].map(() =>
        RedisServer.start([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
          '--appendonly',
          'no',
        ]),
      ),
    );
    const cluster = new RedisClusterServers(nodes);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await waitUntil(
      async () => {
        const states = await Promise.all(
          nodes.map(async (node) => {
            const { stdout } = await run('redis-cli', [
              '-p',
              String(node.port),
              'cluster',
              'info',
            ]);
            return stdout.includes('cluster_state:ok');
          }),
        );
        return states.every(Boolean);
      },
      20_000,
      'cluster state ok',
      200,
    );
    return cluster;
  }

  /** The value for REDIS_CLUSTER_NODES. */
  get seeds(): string {
    return this.nodes.map((node) => `127.0.0.1:${node.port}`).join(',');
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }
}
