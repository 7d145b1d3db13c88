/**
 * Room stats in a fleet of real processes on the Redis at 127.0.0.1:6379
 * (random prefix, deleted afterwards): `GET /v1/rooms/:id` asks the owning
 * shard for its engine accounting over the bus. The figures add up, match
 * what was published and what a viewer received, start over on the shard
 * that takes the room after its owner is SIGKILLed, and are left out when no
 * shard owns the room.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Fleet } from '../harness/fleet.js';
import { ownerOf, type RoomcastProcess } from '../harness/processes.js';
import { waitUntil } from '../harness/wait.js';

const REDIS = { env: { REDIS_URL: 'redis://127.0.0.1:6379' } };

interface ClassFigures {
  received: number;
  delivered: number;
  merged: number;
  dropped: { over_budget: number; overflow: number };
  pending: number;
}

interface Stats {
  members: number;
  classes: Record<string, ClassFigures>;
  total: ClassFigures;
  units: { like: { received: number; emitted: number; pending: number } };
}

function settled(figures: ClassFigures): number {
  return (
    figures.delivered +
    figures.merged +
    figures.dropped.over_budget +
    figures.dropped.overflow +
    figures.pending
  );
}

/** Asserts received = delivered + merged + dropped + pending, everywhere. */
function assertAddsUp(stats: Stats): void {
  for (const [name, figures] of Object.entries(stats.classes)) {
    assert.equal(figures.received, settled(figures), `class ${name}`);
  }

  assert.equal(stats.total.received, settled(stats.total), 'total');
  const classSum = Object.values(stats.classes).reduce(
    (sum, figures) => sum + figures.received,
    0,
  );
  assert.equal(stats.total.received, classSum, 'total is the sum of classes');
}

describe('distributed room stats', () => {
  const fleet = new Fleet(REDIS);
  let shards: RoomcastProcess[] = [];
  let edgePort = -1;

  async function stats(room: string): Promise<Stats | undefined> {
    const answer = await fleet.api('GET', `/rooms/${room}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    return answer.json['stats'] as Stats | undefined;
  }

  /** Waits for stats the owner has answered that satisfy `done`. */
  async function statsWhen(
    room: string,
    done: (figures: Stats) => boolean,
    what: string,
  ): Promise<Stats> {
    let last: Stats | undefined;
    try {
      await waitUntil(
        async () => {
          last = await stats(room);
          return last !== undefined && done(last);
        },
        20_000,
        what,
        100,
      );
    } catch (error) {
      // Say what the owner last answered: which count fell short.
      throw new Error(
        `${(error as Error).message}; last stats: ${JSON.stringify(last)}`,
        { cause: error },
      );
    }

    assert.ok(last !== undefined);
    return last;
  }

  async function publish(room: string, body: unknown): Promise<void> {
    const answer = await fleet.api('POST', `/rooms/${room}/messages`, body);
    assert.equal(answer.status, 202, JSON.stringify(answer.json));
  }

  before(async () => {
    const started = await fleet.startAll(2, 1);
    shards = started.shards;
    edgePort = started.edgePorts[0] ?? -1;
  });

  after(() => fleet.stop());

  test('distributed stats - the owning shard answers figures that add up and match what was sent', async () => {
    // One lossy item a second: nearly every chat of a burst is dropped.
    const created = await fleet.api('POST', '/rooms', {
      id: 'tally',
      settings: { lossyItemsPerSecond: 1 },
    });
    assert.equal(created.status, 201);
    assert.equal(created.json['stats'], undefined, 'creation has no stats');
    const watcher = await fleet.viewer(edgePort, 'tally', 'watcher');
    await statsWhen('tally', (s) => s.members === 1, 'the watcher counted');

    const chats = 30;
    const likeMessages = 12;
    await fleet.send('tally', 'host', { text: 'hello' });
    await fleet.send('tally', 'gift', { gift: 'rose' });
    await fleet.send('tally', 'gift', { gift: 'rose' });
    await Promise.all(
      Array.from({ length: chats }, (_, i) =>
        publish('tally', {
          type: 'chat',
          from: { id: `fan${i}`, name: `Fan ${i}` },
          data: { text: `chat ${i}` },
        }),
      ),
    );
    for (let i = 0; i < likeMessages; i++) {
      await publish('tally', { type: 'like', data: { count: 5 } });
    }

    const figures = await statsWhen(
      'tally',
      (s) =>
        s.total.pending === 0 &&
        s.total.received === 3 + chats + likeMessages + 1,
      'every message counted and settled',
    );
    assertAddsUp(figures);
    assert.equal(figures.members, 1);
    const { classes } = figures;
    assert.equal(classes['host']?.received, 1);
    assert.equal(classes['host']?.delivered, 1);
    assert.equal(classes['gift']?.received, 2);
    assert.equal(classes['gift']?.delivered, 2);
    assert.equal(classes['join']?.received, 1, 'the watcher joined');
    assert.equal(classes['like']?.received, likeMessages);
    assert.equal(classes['like']?.merged, likeMessages);
    assert.equal(figures.units.like.received, likeMessages * 5);
    assert.equal(figures.units.like.emitted, likeMessages * 5);
    const chat = classes['chat'];
    assert.ok(chat !== undefined);
    assert.equal(chat.received, chats);
    assert.equal(chat.delivered + chat.dropped.over_budget, chats);
    assert.ok(chat.dropped.over_budget > 0, 'a burst over budget drops chat');

    // What the watcher got is what the stats say went out.
    const seen = (type: string) =>
      watcher.frames
        .flatMap((frame) => frame.items ?? [])
        .filter((item) => item.type === type);
    await watcher.waitFor(
      () =>
        seen('likes').reduce((sum, item) => sum + (item.count ?? 0), 0) ===
        likeMessages * 5,
      10_000,
      'every like in an aggregate',
    );
    assert.equal(seen('chat').length, chat.delivered);
    assert.equal(seen('gift').length + seen('host').length, 3);

    const listed = await fleet.api('GET', '/rooms');
    const rooms = listed.json['rooms'] as Record<string, unknown>[];
    assert.equal(rooms[0]?.['id'], 'tally');
    assert.equal(rooms[0]?.['stats'], undefined, 'lists carry no stats');
  });

  test('distributed stats - counts start over on the shard that takes the room after its owner is SIGKILLed', async () => {
    const doomed = ownerOf(shards, 'acme/tally');
    assert.ok(doomed !== undefined, 'the room has an owner');
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    await waitUntil(
      () => {
        const owner = ownerOf(shards, 'acme/tally');
        return owner !== undefined && owner !== doomed;
      },
      20_000,
      'another shard to claim the room',
    );

    // The edge's snapshot makes the watcher a member again, not a new join.
    await statsWhen('tally', (s) => s.members === 1, 'the new owner answers');
    await fleet.send('tally', 'host', { text: 'still here' });
    await publish('tally', { type: 'like', data: { count: 3 } });
    const figures = await statsWhen(
      'tally',
      (s) => s.total.pending === 0 && s.total.received === 2,
      'the new owner counts what it received',
    );
    assertAddsUp(figures);
    assert.equal(figures.classes['host']?.delivered, 1);
    assert.equal(figures.classes['like']?.merged, 1);
    assert.equal(figures.classes['join']?.received, 0);
    assert.equal(figures.classes['chat']?.received, 0);
    assert.equal(figures.units.like.received, 3);
  });

  test('distributed stats - a room no shard owns is answered without stats', async () => {
    for (const shard of shards) {
      if (shard.child.exitCode === null && shard.child.signalCode === null) {
        shard.child.kill('SIGKILL');
        await shard.exited;
      }
    }

    const answer = await fleet.api('GET', '/rooms/tally');
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal(answer.json['id'], 'tally');
    assert.equal(answer.json['lastSeq'], 4);
    assert.equal(answer.json['stats'], undefined);
  });
});
