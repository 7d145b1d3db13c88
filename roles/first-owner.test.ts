/**
 * Viewers who join a room before any shard owns it (just created, or a
 * fleet whose shards start late) are announced once the first shard takes
 * it: their joins went out on the bus while nobody listened, so the shard
 * announces the users the edges report in answer to its resync. Real
 * processes on the Redis at 127.0.0.1:6379 (random prefix).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Fleet } from '../harness/fleet.js';
import { waitReady } from '../harness/processes.js';
import { waitUntil } from '../harness/wait.js';

const fleet = new Fleet({ env: { REDIS_URL: 'redis://127.0.0.1:6379' } });

after(() => fleet.stop());

test('distributed - viewers who joined before the room had an owner are announced as joins by its first owner', async () => {
  const admin = fleet.start('admin');
  const edge = fleet.start('edge');
  fleet.adminPort = await admin.listening('admin');
  const edgePort = await edge.listening('edge');
  await Promise.all([waitReady(fleet.adminPort), waitReady(edgePort)]);
  await fleet.createRoom('early');
  const ann = await fleet.viewer(edgePort, 'early', 'ann');
  const bob = await fleet.viewer(edgePort, 'early', 'bob');

  const shard = fleet.start('shard');
  await waitReady(await shard.listening('shard'));
  let joins: unknown;
  await waitUntil(
    async () => {
      const answer = await fleet.api('GET', '/rooms/early');
      const stats = answer.json['stats'] as
        | { members: number; classes: { join: { received: number } } }
        | undefined;
      joins = stats?.classes.join.received;
      return stats?.members === 2 && joins === 2;
    },
    20_000,
    'both viewers counted and announced',
    100,
  );
  await ann.waitFor(
    () =>
      ann.frames
        .flatMap((frame) => frame.items ?? [])
        .filter((item) => item.type === 'joins')
        .reduce((sum, item) => sum + (item.count ?? 0), 0) === 2,
    10_000,
    'a joins item counting both',
  );
  assert.equal(bob.closed, undefined);
  assert.equal(joins, 2);
});
