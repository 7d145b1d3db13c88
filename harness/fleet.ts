/**
 * A distributed fleet of real processes for a test: admin API, shards and
 * edges on one Redis (or Cluster), a random key prefix, shared credentials,
 * short heartbeats so failover fits in a test, and cleanup of every key the
 * prefix owns.
 */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { RoomcastProcess } from './processes.js';
import { TestViewer } from './viewer.js';
import { waitUntil } from './wait.js';

export const API_KEY = `key_${randomBytes(12).toString('hex')}`;
const TENANT = 'acme';
/** How often one admin request is retried after a 429 before it counts. */
const MAX_RATE_LIMITED_RETRIES = 30;

export interface RedisConnection {
  /** REDIS_URL or REDIS_CLUSTER_NODES. */
  env: Record<string, string>;
}

export class Fleet {
  readonly prefix = `rctest:${randomBytes(6).toString('hex')}:`;
  readonly env: Record<string, string>;
  readonly processes: RoomcastProcess[] = [];
  readonly viewers: TestViewer[] = [];
  adminPort = -1;
  #redis: RedisConnection;

  constructor(redis: RedisConnection, overrides: Record<string, string> = {}) {
    this.#redis = redis;
    this.env = {
      ...redis.env,
      ROOMCAST_REDIS_PREFIX: this.prefix,
      ROOMCAST_HOST: '127.0.0.1',
      ROOMCAST_API_KEYS: `${TENANT}:${API_KEY}`,
      ROOMCAST_JWT_SECRET: randomBytes(32).toString('hex'),
      ROOMCAST_ADMIN_PORT: '0',
      ROOMCAST_EDGE_PORT: '0',
      ROOMCAST_SHARD_PORT: '0',
      ROOMCAST_SHARD_HEARTBEAT_MS: '200',
      ROOMCAST_ROOM_LEASE_MS: '1500',
      ROOMCAST_TICK_MS: '50',
      ROOMCAST_DRAIN_GRACE_SECONDS: '1',
      ...overrides,
    };
  }

  /** Starts `roomcast <role> [args]`; stopped and cleaned up by {@link stop}. */
  start(role: string, args: string[] = []): RoomcastProcess {
    const started = new RoomcastProcess([role, ...args], this.env);
    this.processes.push(started);
    return started;
  }

  /** Starts admin, shards and edges; resolves to their ports once listening. */
  async startAll(
    shards: number,
    edges: number,
  ): Promise<{
    shards: RoomcastProcess[];
    edges: RoomcastProcess[];
    edgePorts: number[];
  }> {
    const admin = this.start('admin');
    const shardProcs = Array.from({ length: shards }, () =>
      this.start('shard'),
    );
    const edgeProcs = Array.from({ length: edges }, () => this.start('edge'));
    this.adminPort = await admin.listening('admin');
    const shardPorts = await Promise.all(
      shardProcs.map((proc) => proc.listening('shard')),
    );
    const edgePorts = await Promise.all(
      edgeProcs.map((proc) => proc.listening('edge')),
    );
    // Listening is not ready: a process answers 503 until its Redis
    // connection and subscriptions are up, as /readyz says.
    await Promise.all(
      [this.adminPort, ...shardPorts, ...edgePorts].map((port) =>
        waitUntil(
          async () =>
            (
              await fetch(`http://127.0.0.1:${port}/readyz`).catch(
                () => undefined,
              )
            )?.status === 200,
          30_000,
          `/readyz on port ${port}`,
        ),
      ),
    );
    return { shards: shardProcs, edges: edgeProcs, edgePorts };
  }

  async api(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    let response: Response;
    // A request over the key's rate limit changed nothing and says when to
    // come back; tests that publish thousands of messages do as a platform
    // would, whatever speed the machine lets them reach.
    for (let attempt = 0; ; attempt++) {
      response = await fetch(`http://127.0.0.1:${this.adminPort}/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${API_KEY}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (response.status !== 429 || attempt >= MAX_RATE_LIMITED_RETRIES) {
        break;
      }

      await response.arrayBuffer();
      const afterSeconds = Number(response.headers.get('retry-after') ?? 1);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0.1, afterSeconds) * 1000),
      );
    }

    const text = await response.text();
    return {
      status: response.status,
      json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  }

  async createRoom(id: string): Promise<void> {
    const { status } = await this.api('POST', '/rooms', { id });
    if (status !== 201) {
      throw new Error(`room ${id} not created: ${status}`);
    }
  }

  async token(room: string, user: string): Promise<string> {
    const { status, json } = await this.api('POST', '/tokens', { room, user });
    if (status !== 201) {
      throw new Error(`no token: ${status}`);
    }

    return json['token'] as string;
  }

  /** Publishes a reliable item; resolves to its seq (see {@link api} on 429). */
  async send(room: string, type: string, data: unknown): Promise<number> {
    const { status, json } = await this.api('POST', `/rooms/${room}/messages`, {
      type,
      data,
    });
    if (status !== 202) {
      throw new Error(`publish refused: ${status} ${JSON.stringify(json)}`);
    }

    return json['seq'] as number;
  }

  /** Connects a viewer of `room` as `user` to the edge on `edgePort`; closed by {@link stop}. */
  async viewer(
    edgePort: number,
    room: string,
    user: string,
  ): Promise<TestViewer> {
    const connected = await TestViewer.connect(
      edgePort,
      await this.token(room, user),
    );
    this.viewers.push(connected);
    return connected;
  }

  /**
   * Closes the viewers it connected, stops every process (SIGKILL if
   * SIGTERM takes too long) and deletes the prefix's keys.
   */
  async stop(): Promise<void> {
    await Promise.all(this.viewers.map((viewer) => viewer.close()));
    await Promise.all(
      this.processes.map(async (proc) => {
        const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10_000);
        await proc.stop();
        clearTimeout(timer);
      }),
    );
    await deletePrefix(this.#redis, this.prefix);
  }
}

/** Deletes every key under the prefix; never anything else. */
export async function deletePrefix(
  redis: RedisConnection,
  prefix: string,
): Promise<void> {
  const url = redis.env['REDIS_URL'];
  const seeds = redis.env['REDIS_CLUSTER_NODES'];
  const clients: Redis[] = [];
  let cluster: Cluster | undefined;
  if (url !== undefined) {
    clients.push(
      new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 }),
    );
  } else if (seeds !== undefined) {
    cluster = new Cluster(
      seeds.split(',').map((seed) => {
        const [host, port] = seed.split(':');
        return { host: host ?? '127.0.0.1', port: Number(port) };
      }),
    );
    const ready = cluster;
    await new Promise((resolve, reject) => {
      ready.once('ready', resolve);
      ready.once('error', reject);
    }).catch(() => undefined);
    clients.push(...cluster.nodes('master'));
  }

  try {
    for (const client of clients) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(
          cursor,
          'MATCH',
          `${prefix}*`,
          'COUNT',
          500,
        );
        cursor = next;
        for (const key of keys) {
          await client.del(key);
        }
      } while (cursor !== '0');
    }
  } catch {
    // A Redis the test already stopped holds nothing to clean.
  } finally {
    for (const client of clients) {
      client.disconnect();
    }

    cluster?.disconnect();
  }
}
