/**
 * The distributed roles as real processes on the Redis at 127.0.0.1:6379,
 * under a random key prefix that is deleted afterwards: three shards, two
 * edges, the admin API, real WebSocket viewers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Fleet } from '../harness/fleet.js';
import { ownerOf, type RoomcastProcess } from '../harness/processes.js';
import { TestViewer, seqViolation } from '../harness/viewer.js';
import { waitUntil } from '../harness/wait.js';

const REDIS = { env: { REDIS_URL: 'redis://127.0.0.1:6379' } };

async function sendAll(
  fleet: Fleet,
  room: string,
  type: string,
  count: number,
  concurrency: number,
  data: (n: number) => unknown,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        await fleet.send(room, type, data(n));
      }
    }),
  );
}

describe('distributed on one Redis', () => {
  const fleet = new Fleet(REDIS);
  let shards: RoomcastProcess[] = [];
  let edgePorts: number[] = [];
  const viewers: TestViewer[] = [];

  async function viewer(edge: number, room: string, user: string) {
    const connected = await TestViewer.connect(
      edgePorts[edge] ?? -1,
      await fleet.token(room, user),
    );
    viewers.push(connected);
    return connected;
  }

  before(async () => {
    const started = await fleet.startAll(3, 2);
    shards = started.shards;
    edgePorts = started.edgePorts;
  });

  after(async () => {
    await Promise.all(viewers.map((connected) => connected.close()));
    await fleet.stop();
  });

  test('distributed - rooms spread over three shards, viewers on both edges get everything', async () => {
    const rooms = Array.from({ length: 12 }, (_, index) => `spread-${index}`);
    await Promise.all(rooms.map((room) => fleet.createRoom(room)));
    await waitUntil(
      () => rooms.every((room) => ownerOf(shards, `acme/${room}`)),
      10_000,
      'every room claimed',
    );
    const owners = new Set(
      rooms.map((room) => ownerOf(shards, `acme/${room}`)),
    );
    assert.ok(owners.size >= 2, `rooms on ${owners.size} shard(s) only`);

    const watching = await Promise.all(
      rooms.flatMap((room) => [
        viewer(0, room, `a-${room}`),
        viewer(1, room, `b-${room}`),
      ]),
    );
    await Promise.all(
      rooms.map(async (room) => {
        await fleet.send(room, 'host', { text: `hello ${room}` });
        await fleet.send(room, 'gift', { name: 'rose' });
        await fleet.send(room, 'system', { text: 'bye' });
      }),
    );
    for (const connected of watching) {
      await connected.waitForSeq(3, 10_000);
      assert.equal(seqViolation(connected.seqs, 1, 3), undefined);
      assert.deepEqual(
        connected.items.map((item) => item.type),
        ['host', 'gift', 'system'],
      );
    }
  });

  test('distributed - one user on two edges counts once', async () => {
    await fleet.createRoom('count');
    const first = await viewer(0, 'count', 'same-user');
    await viewer(1, 'count', 'same-user');
    const other = await viewer(1, 'count', 'other-user');
    await waitUntil(
      async () => {
        const { json } = await fleet.api('GET', '/rooms/count');
        return json['viewers'] === 2;
      },
      10_000,
      'two viewers reported',
    );
    await first.close();
    await other.close();
    await waitUntil(
      async () => {
        const { json } = await fleet.api('GET', '/rooms/count');
        return json['viewers'] === 1;
      },
      10_000,
      'one viewer left: the user still on the other edge',
    );
  });

  test('distributed - C4: 10,000 host messages reach viewers on two edges once, in order, without gaps', async () => {
    await fleet.createRoom('c4');
    const watching = [
      await viewer(0, 'c4', 'c4-a'),
      await viewer(0, 'c4', 'c4-b'),
      await viewer(1, 'c4', 'c4-c'),
      await viewer(1, 'c4', 'c4-d'),
    ];
    await sendAll(fleet, 'c4', 'host', 10_000, 32, (n) => ({ n }));
    for (const connected of watching) {
      await connected.waitForSeq(10_000, 60_000);
      assert.equal(seqViolation(connected.seqs, 1, 10_000), undefined);
      const numbers = new Set(
        connected.items.map((item) => (item.data as { n: number }).n),
      );
      assert.equal(numbers.size, 10_000);
    }
  });

  test('distributed - a viewer away for 10 s resumes on the other edge with exactly what it missed', async () => {
    await fleet.createRoom('resume');
    const staying = await viewer(0, 'resume', 'stays');
    await viewer(1, 'resume', 'keeps-edge-1-busy');
    const leaving = await viewer(0, 'resume', 'leaves');
    for (let n = 0; n < 5; n++) {
      await fleet.send('resume', 'gift', { n });
    }

    await leaving.waitForSeq(5);
    await leaving.close();
    const awayUntil = Date.now() + 10_000;
    let sent = 5;
    while (Date.now() < awayUntil) {
      await fleet.send('resume', 'host', { n: sent++ });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    await staying.waitForSeq(sent);
    const back = await TestViewer.connect(
      edgePorts[1] ?? -1,
      await fleet.token('resume', 'leaves'),
      5,
    );
    viewers.push(back);
    await back.waitFor(
      () => back.frames.some((frame) => frame.reason === 'resumed'),
      10_000,
      'resumed',
    );
    await fleet.send('resume', 'host', { n: sent++ });
    await back.waitForSeq(sent);
    assert.equal(seqViolation(back.seqs, 6, sent), undefined);
  });

  test('distributed - SIGKILL of the owning shard during 1,000 gifts loses and repeats nothing', async () => {
    await fleet.createRoom('failover');
    await waitUntil(
      () => ownerOf(shards, 'acme/failover') !== undefined,
      10_000,
      'room claimed',
    );
    const doomed = ownerOf(shards, 'acme/failover');
    assert.ok(doomed !== undefined);
    const watching = [
      await viewer(0, 'failover', 'f-a'),
      await viewer(1, 'failover', 'f-b'),
    ];
    let sent = 0;
    const sending = sendAll(fleet, 'failover', 'gift', 1000, 4, (n) => {
      sent++;
      return { n };
    });
    await waitUntil(() => sent >= 300, 30_000, '300 gifts sent');
    doomed.child.kill('SIGKILL');
    await sending;
    for (const connected of watching) {
      await connected.waitForSeq(1000, 30_000);
      assert.equal(seqViolation(connected.seqs, 1, 1000), undefined);
    }

    const successor = ownerOf(shards, 'acme/failover');
    assert.ok(successor !== undefined && successor !== doomed);
  });
});
