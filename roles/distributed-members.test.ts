/**
 * Members and mutes in a fleet of real processes on the Redis at
 * 127.0.0.1:6379 (random prefix, deleted afterwards): the admin process asks
 * the owning shard for members over the bus, and a room that moves to
 * another shard after its owner is SIGKILLed keeps its muted users muted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Fleet } from '../harness/fleet.js';
import {
  ownerOf,
  waitReady,
  type RoomcastProcess,
} from '../harness/processes.js';
import { TestViewer } from '../harness/viewer.js';
import { waitUntil } from '../harness/wait.js';
import { encodeValue } from '../protocol/index.js';

const REDIS = { env: { REDIS_URL: 'redis://127.0.0.1:6379' } };

function mutedErrors(viewer: TestViewer): number {
  return viewer.frames.filter(
    (frame) =>
      frame.t === 'error' && (frame as { code?: unknown }).code === 'muted',
  ).length;
}

function chatTexts(viewer: TestViewer): string[] {
  return viewer.frames
    .flatMap((frame) => frame.items ?? [])
    .filter((item) => item.type === 'chat')
    .map((item) => String((item as { text?: unknown }).text));
}

describe('distributed members and mutes', () => {
  const fleet = new Fleet(REDIS);
  let shards: RoomcastProcess[] = [];
  let edgePort = -1;
  const viewer = (room: string, user: string) =>
    fleet.viewer(edgePort, room, user);

  /** Waits until the members endpoint answers 200 with `count` members. */
  async function membersCount(room: string, count: number) {
    await waitUntil(
      async () => {
        const answer = await fleet.api('GET', `/rooms/${room}/members`);
        return answer.status === 200 && answer.json['count'] === count;
      },
      20_000,
      `${count} members in ${room}`,
      100,
    );
  }

  before(async () => {
    const started = await fleet.startAll(2, 1);
    shards = started.shards;
    edgePort = started.edgePorts[0] ?? -1;
  });

  after(() => fleet.stop());

  test('distributed members - count, pages and one member come from the owning shard', async () => {
    await fleet.createRoom('crowd');
    await Promise.all(['u1', 'u2', 'u3'].map((user) => viewer('crowd', user)));
    await membersCount('crowd', 3);

    const first = await fleet.api('GET', '/rooms/crowd/members?limit=2');
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const firstPage = first.json['members'] as { id: string }[];
    assert.deepEqual(
      firstPage.map((member) => member.id),
      ['u1', 'u2'],
    );
    const cursor = first.json['nextCursor'] as string;
    const second = await fleet.api(
      'GET',
      `/rooms/crowd/members?limit=2&cursor=${cursor}`,
    );
    assert.deepEqual(
      (second.json['members'] as { id: string }[]).map((member) => member.id),
      ['u3'],
    );
    assert.equal(second.json['nextCursor'], null);

    const one = await fleet.api('GET', '/rooms/crowd/members/u2');
    assert.equal(one.status, 200, JSON.stringify(one.json));
    assert.equal(one.json['id'], 'u2');
    assert.equal(one.json['connections'], 1);
    assert.equal(one.json['muted'], false);
    const missing = await fleet.api('GET', '/rooms/crowd/members/nobody');
    assert.equal(missing.status, 404);
    assert.equal(
      (missing.json['error'] as { code: string }).code,
      'member_not_found',
    );
  });

  test('distributed mutes - a muted user stays muted after the owning shard is SIGKILLed and another takes the room', async () => {
    await fleet.createRoom('hush');
    const mo = await viewer('hush', 'mo');
    const ann = await viewer('hush', 'ann');
    await membersCount('hush', 2);
    const doomed = ownerOf(shards, 'acme/hush');
    assert.ok(doomed !== undefined, 'the room has an owner');

    const muted = await fleet.api('POST', '/rooms/hush/members/mo/mute', {});
    assert.equal(muted.status, 200, JSON.stringify(muted.json));
    mo.socket.send(encodeValue({ t: 'chat', text: 'before' }));
    await mo.waitFor(() => mutedErrors(mo) === 1, 10_000, 'muted error');

    doomed.child.kill('SIGKILL');
    await doomed.exited;
    await waitUntil(
      () => {
        const owner = ownerOf(shards, 'acme/hush');
        return owner !== undefined && owner !== doomed;
      },
      20_000,
      'another shard to claim the room',
    );
    await membersCount('hush', 2);
    const member = await fleet.api('GET', '/rooms/hush/members/mo');
    assert.equal(member.json['muted'], true);

    mo.socket.send(encodeValue({ t: 'chat', text: 'after' }));
    await mo.waitFor(
      () => mutedErrors(mo) === 2,
      10_000,
      'muted error from the new owner',
    );
    // Ann's chat still flows, and mo's never reached her.
    ann.socket.send(encodeValue({ t: 'chat', text: 'ann after' }));
    await mo.waitFor(
      () => chatTexts(mo).includes('ann after'),
      10_000,
      'ann chat at mo',
    );
    assert.ok(!chatTexts(ann).includes('before'));
    assert.ok(!chatTexts(ann).includes('after'));
  });

  test('distributed bans - a user banned while the room has no owner is closed 4006 at once, and stays out under the next owner', async () => {
    // The mute test killed one shard: start another so one survives the kill.
    const spare = fleet.start('shard');
    shards.push(spare);
    await waitReady(await spare.listening('shard'));
    await fleet.createRoom('bar');
    const bo = await viewer('bar', 'bo');
    const cy = await viewer('bar', 'cy');
    await membersCount('bar', 2);
    const doomed = ownerOf(shards, 'acme/bar');
    assert.ok(doomed !== undefined, 'the room has an owner');

    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const banned = await fleet.api('POST', '/rooms/bar/members/bo/ban', {
      reason: 'abuse',
    });
    assert.equal(banned.status, 200, JSON.stringify(banned.json));
    // The admin API tells the edges itself: no owner needed.
    await bo.waitFor(() => bo.closed !== undefined, 5_000, 'bo closed');
    assert.equal(bo.closed?.code, 4006);
    const control = bo.frames.find((frame) => frame.t === 'control');
    assert.equal(control?.reason, 'banned');
    assert.equal((control as { message?: string }).message, 'abuse');
    await assert.rejects(viewer('bar', 'bo'), /403/, 'bo cannot come back');
    await waitUntil(
      () => {
        const owner = ownerOf(shards, 'acme/bar');
        return owner !== undefined && owner !== doomed;
      },
      20_000,
      'another shard to claim the room',
    );
    await membersCount('bar', 1);
    assert.equal(cy.closed, undefined, 'cy stays');
  });
});
