/**
 * A room no shard owns yet (just created, or a fleet whose shards start
 * late), with real processes on the Redis at 127.0.0.1:6379 (random
 * prefix):
 * - viewers who joined it are announced once the first shard takes it:
 *   their joins went out on the bus while nobody listened, so the shard
 *   announces the users the edges report in answer to its resync;
 * - kicking, banning and deleting still reach its viewers, and a room made
 *   again with its id starts afresh.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Fleet } from '../harness/fleet.js';
import { waitReady } from '../harness/processes.js';
import { waitUntil } from '../harness/wait.js';

const fleet = new Fleet({ env: { REDIS_URL: 'redis://127.0.0.1:6379' } });

let edgePort = -1;

// Admin and edge processes, no shard: the last test starts one.
before(async () => {
  const admin = fleet.start('admin');
  const edge = fleet.start('edge');
  fleet.adminPort = await admin.listening('admin');
  edgePort = await edge.listening('edge');
  await Promise.all([waitReady(fleet.adminPort), waitReady(edgePort)]);
});

after(() => fleet.stop());

test('distributed - a room no shard owns: kick, ban and delete reach its viewers, and the room made again starts at seq 1', async () => {
  await fleet.createRoom('orphan');
  const kicked = await fleet.viewer(edgePort, 'orphan', 'kim');
  const banned = await fleet.viewer(edgePort, 'orphan', 'bo');
  const stays = [
    await fleet.viewer(edgePort, 'orphan', 'ann'),
    await fleet.viewer(edgePort, 'orphan', 'cy'),
  ];
  assert.equal(await fleet.send('orphan', 'host', { n: 1 }), 1);

  const kick = await fleet.api('POST', '/rooms/orphan/members/kim/kick', {
    reason: 'spam',
  });
  assert.equal(kick.status, 204);
  const ban = await fleet.api('POST', '/rooms/orphan/members/bo/ban', {
    reason: 'abuse',
  });
  assert.equal(ban.status, 200);
  for (const [viewer, code, reason] of [
    [kicked, 4005, 'kicked'],
    [banned, 4006, 'banned'],
  ] as const) {
    await viewer.waitFor(() => viewer.closed !== undefined, 10_000, reason);
    assert.equal(viewer.closed?.code, code);
    const control = viewer.frames.find((frame) => frame.t === 'control');
    assert.equal(control?.reason, reason);
    assert.equal(
      (control as { message?: string } | undefined)?.message,
      reason === 'kicked' ? 'spam' : 'abuse',
      'the platform reason reaches the viewer',
    );
  }

  const deleted = await fleet.api('DELETE', '/rooms/orphan');
  assert.equal(deleted.status, 204);
  for (const viewer of stays) {
    await viewer.waitFor(() => viewer.closed !== undefined, 10_000, 'closed');
    assert.equal(viewer.closed?.code, 4004);
    assert.ok(
      viewer.frames.some(
        (frame) => frame.t === 'control' && frame.reason === 'room_closed',
      ),
    );
  }

  // The same id again: a new room, nothing of the old one.
  await fleet.createRoom('orphan');
  assert.equal(await fleet.send('orphan', 'host', { n: 'new' }), 1);
  const fresh = await fleet.viewer(edgePort, 'orphan', 'dee');
  assert.equal(fresh.welcome?.seq, 1);
  assert.equal(fresh.welcome?.viewers, 1, 'no member left of the old room');
});

test('distributed - viewers who joined before the room had an owner are announced as joins by its first owner', async () => {
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
