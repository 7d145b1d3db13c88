/**
 * A Redis outage, on a Redis this test starts itself on a spare port (with
 * append-only persistence, as docs/distributed.md asks of production): the
 * fleet stays up, says it is not ready while Redis is gone, and delivers
 * again once it is back, without a restart and without a gap.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Fleet } from '../harness/fleet.js';
import { isReady, waitReady } from '../harness/processes.js';
import { RedisServer } from '../harness/redis-servers.js';
import { TestViewer, seqViolation } from '../harness/viewer.js';
import { waitUntil } from '../harness/wait.js';

let redis: RedisServer;
let fleet: Fleet;

before(async () => {
  redis = await RedisServer.start();
  fleet = new Fleet({ env: { REDIS_URL: redis.url } });
});

after(async () => {
  await fleet.stop();
  await redis.stop();
});

test('distributed - Redis stopped for 10 s and restarted: not ready meanwhile, then delivery resumes', async () => {
  const admin = fleet.start('admin');
  const shard = fleet.start('shard');
  const edge = fleet.start('edge');
  fleet.adminPort = await admin.listening('admin');
  const ports = [
    fleet.adminPort,
    await shard.listening('shard'),
    await edge.listening('edge'),
  ];
  await Promise.all(ports.map((port) => waitReady(port)));
  await fleet.createRoom('outage');
  const viewer = await TestViewer.connect(
    ports[2] ?? -1,
    await fleet.token('outage', 'patient'),
  );
  for (let n = 0; n < 5; n++) {
    await fleet.send('outage', 'gift', { n });
  }

  await viewer.waitForSeq(5);

  await redis.pause();
  const stoppedAt = Date.now();
  const seenNotReady = new Set<number>();
  await waitUntil(
    async () => {
      for (const port of ports) {
        if (!(await isReady(port))) {
          seenNotReady.add(port);
        }
      }

      return (
        seenNotReady.size === ports.length && Date.now() - stoppedAt >= 10_000
      );
    },
    20_000,
    'every process not ready, for 10 s',
    200,
  );
  const metrics = await (
    await fetch(`http://127.0.0.1:${ports[2]}/metrics`)
  ).text();
  assert.match(metrics, /^roomcast_bus_ready 0$/m);
  const refused = await fleet.api('POST', '/rooms/outage/messages', {
    type: 'gift',
    data: { lost: true },
  });
  assert.equal(refused.status, 503);
  assert.equal(viewer.closed, undefined, 'viewers stay connected');

  await redis.resume();
  await Promise.all(ports.map((port) => waitReady(port, 20_000)));
  for (let n = 5; n < 10; n++) {
    await fleet.send('outage', 'gift', { n });
  }

  await viewer.waitForSeq(10, 20_000);
  assert.equal(seqViolation(viewer.seqs, 1, 10), undefined);
  await viewer.close();
});
