/**
 * The bus loses what is published while an edge's subscriber connection is
 * down. On a Redis this test starts itself, the edge's subscriber is killed
 * again and again (CLIENT KILL, as Redis does to a subscriber past its
 * output-buffer limit) while host messages flow: the viewer still gets
 * every one, once, in order (edge/stream-gaps.ts).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { Fleet } from '../harness/fleet.js';
import { waitReady } from '../harness/processes.js';
import { RedisServer } from '../harness/redis-servers.js';
import { seqViolation } from '../harness/viewer.js';

let redis: RedisServer;
let fleet: Fleet;
let control: Redis;

before(async () => {
  redis = await RedisServer.start();
  fleet = new Fleet({ env: { REDIS_URL: redis.url } });
  control = new Redis(redis.url);
});

after(async () => {
  control.disconnect();
  await fleet.stop();
  await redis.stop();
});

/** Kills the edge's bus subscriber connections; resolves to how many. */
async function killEdgeSubscriber(): Promise<number> {
  const list = (await control.call('CLIENT', 'LIST')) as string;
  const ids = list
    .split('\n')
    .filter((line) => line.includes(' name=roomcast-edge-bus-subscriber '))
    .map((line) => /^id=(\d+)/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined);
  for (const id of ids) {
    await control.call('CLIENT', 'KILL', 'ID', id);
  }

  return ids.length;
}

test('distributed - an edge whose bus subscriber keeps being cut off still delivers every reliable item once, in order', async (t) => {
  const admin = fleet.start('admin');
  const shard = fleet.start('shard');
  const edge = fleet.start('edge');
  fleet.adminPort = await admin.listening('admin');
  const edgePort = await edge.listening('edge');
  await Promise.all([
    waitReady(fleet.adminPort),
    waitReady(await shard.listening('shard')),
    waitReady(edgePort),
  ]);
  await fleet.createRoom('cut');
  const viewer = await fleet.viewer(edgePort, 'cut', 'steady');

  const total = 60;
  let kills = 0;
  let sending = true;
  const killing = (async () => {
    while (sending) {
      kills += await killEdgeSubscriber();
      await new Promise((resolve) => setTimeout(resolve, 120));
    }
  })();
  for (let n = 1; n <= total; n++) {
    await fleet.send('cut', 'host', { n });
    await new Promise((resolve) => setTimeout(resolve, 40));
  }

  sending = false;
  await killing;
  assert.ok(kills >= 5, `the subscriber was cut off ${kills} times`);

  await viewer.waitFor(() => viewer.lastSeq >= total, 20_000, 'every seq');
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(seqViolation(viewer.seqs, 1, total), undefined);
  assert.equal(viewer.closed, undefined, 'the viewer stays connected');

  const metrics = await (
    await fetch(`http://127.0.0.1:${edgePort}/metrics`)
  ).text();
  const repaired = /^roomcast_edge_repaired_items_total (\d+)$/m.exec(metrics);
  t.diagnostic(
    `subscriber cut ${kills} times; items read back from the log: ${repaired?.[1] ?? 0}`,
  );
});
