/**
 * Standalone with REDIS_URL, as real processes on the Redis at
 * 127.0.0.1:6379 under a random prefix deleted afterwards: jobs run on
 * bullmq and rooms, keys and moderation are on Redis, so a scheduled
 * message outlives a restart of the process.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Fleet } from '../harness/fleet.js';
import { waitReady } from '../harness/processes.js';
import { TestViewer } from '../harness/viewer.js';

const fleet = new Fleet({
  env: { REDIS_URL: 'redis://127.0.0.1:6379' },
});

after(async () => {
  await fleet.stop();
});

/** Starts a standalone process; `fleet.api` then talks to it. */
async function startStandalone() {
  const proc = fleet.start('standalone');
  const [adminPort, edgePort] = await Promise.all([
    proc.listening('admin api'),
    proc.listening('edge'),
  ]);
  await waitReady(adminPort);
  fleet.adminPort = adminPort;
  return { proc, edgePort };
}

test('standalone on redis - a scheduled message is delivered after the process restarts', async () => {
  const first = await startStandalone();
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
