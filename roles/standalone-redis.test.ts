/**
 * Standalone with REDIS_URL, as real processes on the Redis at
 * 127.0.0.1:6379 under a random prefix deleted afterwards: jobs run on
 * bullmq and rooms, keys and moderation are on Redis, so a scheduled
 * message outlives a restart of the process.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { Fleet } from '../harness/fleet.js';
import { isReady, waitReady } from '../harness/processes.js';
import { RedisServer } from '../harness/redis-servers.js';
import { waitUntil } from '../harness/wait.js';
import { TestViewer } from '../harness/viewer.js';

const fleet = new Fleet({
  env: { REDIS_URL: 'redis://127.0.0.1:6379' },
});
const fleets = [fleet];

after(async () => {
  await Promise.all(fleets.map((each) => each.stop()));
});

/** Starts a standalone process; `fleet.api` then talks to it. */
async function startStandalone(on = fleet) {
  const proc = on.start('standalone');
  const [adminPort, edgePort] = await Promise.all([
    proc.listening('admin api'),
    proc.listening('edge'),
  ]);
  on.adminPort = adminPort;
  return { proc, edgePort, adminPort };
}

test('standalone on redis - a scheduled message is delivered after the process restarts', async () => {
  const first = await startStandalone();
  await waitReady(first.adminPort);
  assert.ok(
    first.proc.lines.some(
      (line) => line.msg === 'durable jobs and admin state on redis',
    ),
  );
  assert.ok(!first.proc.lines.some((line) => Number(line['level']) >= 40));
  await fleet.createRoom('later');
  const deliverAtMs = Date.now() + 8000;
  const scheduled = await fleet.api('POST', '/rooms/later/messages', {
    type: 'host',
    data: { text: 'survived' },
    deliverAt: new Date(deliverAtMs).toISOString(),
  });
  assert.equal(scheduled.status, 202, JSON.stringify(scheduled.json));
  await first.proc.stop('SIGTERM');
  assert.ok(Date.now() < deliverAtMs, 'stopped before the delivery time');

  const second = await startStandalone();
  await waitReady(second.adminPort);
  const room = await fleet.api('GET', '/rooms/later');
  assert.equal(room.status, 200, 'the room outlived the restart');
  // resume=0: the history serves the message if it went out before the
  // viewer arrived, live frames if after.
  const viewer = await TestViewer.connect(
    second.edgePort,
    await fleet.token('later', 'ann'),
    0,
  );
  try {
    await viewer.waitFor(
      () => viewer.items.some((item) => item.type === 'host'),
      30_000,
      'the scheduled message',
    );
    assert.ok(Date.now() >= deliverAtMs - 50, 'not before its time');
    assert.deepEqual(
      viewer.items.map((item) => [item.type, item.data]),
      [['host', { text: 'survived' }]],
    );
    assert.equal(viewer.items[0]?.id, scheduled.json['id']);
  } finally {
    await viewer.close();
  }
});

test('standalone on redis - while its Redis is unreachable the API answers 503 unavailable', async () => {
  // A port nothing listens on: taken, then given back.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const unreachable = new Fleet({
    env: { REDIS_URL: `redis://127.0.0.1:${port}` },
  });
  fleets.push(unreachable);
  const { adminPort } = await startStandalone(unreachable);
  const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
  assert.equal(ready.status, 503);
  const refused = await unreachable.api('POST', '/rooms', { id: 'x' });
  assert.equal(refused.status, 503);
  assert.equal((refused.json['error'] as { code: string }).code, 'unavailable');
});

test('standalone on redis - a Redis that stops answering turns readiness off and requests into quick 503s', async () => {
  const redis = await RedisServer.start();
  const frozen = new Fleet({ env: { REDIS_URL: redis.url } });
  fleets.push(frozen);
  try {
    const { adminPort } = await startStandalone(frozen);
    await waitReady(adminPort);
    assert.equal((await frozen.api('POST', '/rooms', { id: 'f' })).status, 201);
    redis.freeze();
    await waitUntil(
      async () => !(await isReady(adminPort)),
      15_000,
      'readiness to fail while Redis is frozen',
    );
    const startedMs = Date.now();
    const refused = await frozen.api('POST', '/rooms/f/messages', {
      type: 'host',
      data: { n: 1 },
    });
    assert.equal(refused.status, 503);
    assert.equal(
      (refused.json['error'] as { code: string }).code,
      'unavailable',
    );
    assert.ok(Date.now() - startedMs < 10_000, 'answered, not left hanging');
    redis.thaw();
    await waitReady(adminPort);
    const published = await frozen.api('POST', '/rooms/f/messages', {
      type: 'host',
      data: { n: 2 },
    });
    assert.equal(published.status, 202);
  } finally {
    redis.thaw();
    await frozen.stop();
    await redis.stop();
  }
});
