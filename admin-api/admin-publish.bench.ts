/**
 * Publish throughput of one standalone admin process, driven by autocannon
 * at a constant rate (`overallRate`), against `GET /healthz` at the same
 * rate in the same run as the baseline: the ratio is what publishing adds
 * over fastify answering a request. `npm run bench:admin`.
 *
 * The rate limit is per API key (1,000 requests/s by default), so the load
 * comes from TENANTS tenants with a key and a room each, each connection
 * keeping one tenant's key. autocannon runs in this process, beside the
 * server process: on a small machine it competes with the server for CPU.
 *
 * `BENCH_REDIS_URL=redis://...` measures the distributed admin role
 * instead: `roomcast admin` appending to the Redis reliable log, with one
 * `roomcast shard` consuming it, under a fresh key prefix.
 */
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { RoomcastProcess } from '../harness/processes.js';

const TENANTS = 25;
const CONNECTIONS = 100;
const DURATION_SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const RATES = (process.env['BENCH_RATES'] ?? '5000,20000')
  .split(',')
  .map(Number);

interface Figures {
  achievedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

const keys = Array.from(
  { length: TENANTS },
  (_, index) =>
    [`bench${index}`, `k_${randomBytes(12).toString('hex')}`] as const,
);
const redisUrl = process.env['BENCH_REDIS_URL'];
const env: Record<string, string> = {
  ROOMCAST_HOST: '127.0.0.1',
  ROOMCAST_ADMIN_PORT: '0',
  ROOMCAST_EDGE_PORT: '0',
  ROOMCAST_SHARD_PORT: '0',
  ROOMCAST_API_KEYS: keys.map(([tenant, key]) => `${tenant}:${key}`).join(','),
  ROOMCAST_JWT_SECRET: randomBytes(32).toString('hex'),
  ...(redisUrl === undefined
    ? {}
    : {
        REDIS_URL: redisUrl,
        ROOMCAST_REDIS_PREFIX: `bench-${randomBytes(4).toString('hex')}:`,
      }),
};
// Started first so the admin role finds a live shard to own the rooms.
const shard =
  redisUrl === undefined ? undefined : new RoomcastProcess(['shard'], env);
const server = new RoomcastProcess(
  redisUrl === undefined ? [] : ['admin'],
  env,
);

async function run(
  port: number,
  ratePerSecond: number,
  request: autocannon.Request,
): Promise<Figures> {
  let nextKey = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    overallRate: ratePerSecond,
    duration: DURATION_SECONDS,
    requests: [
      {
        ...request,
        // Each connection keeps one tenant's key: TENANTS rate-limit buckets.
        setupRequest: (req, context: { key?: string }) => {
          context.key ??= keys[nextKey++ % keys.length]?.[1] ?? '';
          return {
            ...req,
            headers: { ...req.headers, authorization: `Bearer ${context.key}` },
          };
        },
      },
    ],
  });
  return {
    achievedPerSecond: Math.round(result.requests.total / DURATION_SECONDS),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

try {
  const port = await server.listening(
    redisUrl === undefined ? 'admin api' : 'admin',
  );
  for (const [, key] of keys) {
    const created = await fetch(`http://127.0.0.1:${port}/v1/rooms`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ id: 'bench' }),
    });
    if (created.status !== 201) {
      throw new Error(`room not created: ${created.status}`);
    }
  }

  const publish: autocannon.Request = {
    method: 'POST',
    path: '/v1/rooms/bench/messages',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'host', data: { text: 'bench' } }),
  };
  const health: autocannon.Request = { method: 'GET', path: '/healthz' };
  process.stdout.write(
    `${redisUrl === undefined ? 'standalone process' : 'admin role on Redis, one shard'}; ` +
      `${CONNECTIONS} connections over ${TENANTS} tenants' keys, ${DURATION_SECONDS} s per run\n`,
  );
  for (const rate of RATES) {
    const baseline = await run(port, rate, health);
    const published = await run(port, rate, publish);
    for (const [name, figures] of [
      ['GET /healthz (baseline)', baseline],
      ['POST messages (host)', published],
    ] as const) {
      process.stdout.write(
        `rate ${rate}/s  ${name}: ${figures.achievedPerSecond}/s, p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms, non-2xx ${figures.non2xx}, errors ${figures.errors}\n`,
      );
    }

    process.stdout.write(
      `rate ${rate}/s  publish/baseline: throughput x${(published.achievedPerSecond / baseline.achievedPerSecond).toFixed(2)}, p99 x${(published.p99Ms / Math.max(baseline.p99Ms, 0.001)).toFixed(2)}\n`,
    );
  }
} finally {
  await server.stop();
  await shard?.stop();
}
