import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { Settings } from '../config/index.js';
import {
  TestViewer,
  metric,
  startTestServer,
  type TestServer,
} from '../test/harness.js';

function reliableSeqs(viewer: TestViewer): number[] {
  return viewer
    .items()
    .filter((item) => typeof item['seq'] === 'number')
    .map((item) => item['seq'] as number);
}

const upTo = (count: number) =>
  Array.from({ length: count }, (_, index) => index + 1);

/**
 * A busy room (case C1): three fast viewers and one whose socket stops
 * reading. Publishes big reliable items and chat in rounds until `done`
 * says so (or a bound is reached), returning how many reliable items went.
 */
async function busyRoom(
  overrides: Partial<Settings>,
  done: (server: TestServer) => Promise<boolean>,
) {
  const server = await startTestServer({
    historyMaxItems: 10_000,
    maxBodyBytes: 65_536,
    ...overrides,
  });
  await server.api('POST', '/v1/rooms', {
    id: 'busy',
    settings: {
      lossyItemsPerSecond: 1000,
      lossyBytesPerSecond: 10 * 1024 * 1024,
    },
  });
  const connect = async (user: string) =>
    TestViewer.connect(
      `${server.edgeUrl}?token=${await server.token('busy', user)}`,
    );
  const fast = await Promise.all(['f1', 'f2', 'f3'].map(connect));
  const slow = await connect('slow');
  const slowSocket = (slow.ws as unknown as { _socket: Socket })._socket;
  slowSocket.pause();
  const blob = 'x'.repeat(16 * 1024);
  const publish = (body: unknown) =>
    server.api('POST', '/v1/rooms/busy/messages', body);
  let reliable = 0;
  for (let round = 0; round < 40 && !(await done(server)); round++) {
    await Promise.all([
      ...Array.from({ length: 20 }, (_, index) =>
        publish({
          type: index % 10 === 0 ? 'gift' : 'host',
          data: { n: reliable + index, blob },
        }),
      ),
      ...Array.from({ length: 20 }, (_, index) =>
        publish({
          type: 'chat',
          from: { id: `c${index}`, name: 'C' },
          data: { text: 'y'.repeat(400) },
        }),
      ),
    ]);
    reliable += 20;
  }

  for (const viewer of fast) {
    await viewer.waitUntil(
      () => reliableSeqs(viewer).length === reliable,
      20_000,
    );
    assert.deepEqual(
      reliableSeqs(viewer),
      upTo(reliable),
      'fast viewers get every reliable item in order',
    );
    assert.equal(
      viewer.items().some((item) => item['type'] === 'chat'),
      true,
    );
    assert.equal(viewer.closeCode, undefined);
  }

  return { server, fast, slow, slowSocket, reliable };
}

test('edge - a slow viewer is moved to the reliable lane, its missed lossy items counted, and keeps every reliable item (case C1)', async () => {
  let shedAtRound = -1;
  let rounds = 0;
  const { server, fast, slow, slowSocket, reliable } = await busyRoom(
    {
      softBackpressureBytes: 16 * 1024,
      hardBackpressureBytes: 256 * 1024 * 1024,
    },
    async (running) => {
      rounds++;
      if (
        shedAtRound < 0 &&
        (await metric(
          running,
          'roomcast_edge_lane_changes_total{lane="reliable"}',
        )) > 0
      ) {
        shedAtRound = rounds;
      }

      // Keep the room busy for a few rounds after the viewer was shed, so
      // there is chat it does not get.
      return shedAtRound > 0 && rounds >= shedAtRound + 3;
    },
  );
  try {
    assert.ok(
      shedAtRound > 0,
      'the slow viewer was moved to the reliable lane',
    );
    assert.ok(
      (await metric(
        server,
        'roomcast_edge_dropped_items_total{reason="slow_viewer"}',
      )) > 0,
      'lossy items the slow viewer missed are counted',
    );
    slowSocket.resume();
    await slow.waitUntil(() => reliableSeqs(slow).length === reliable, 30_000);
    assert.deepEqual(reliableSeqs(slow), upTo(reliable));
    assert.equal(slow.closeCode, undefined);
  } finally {
    fast.forEach((viewer) => viewer.close());
    slow.close();
    await server.close();
  }
});

test('edge - a viewer past the hard bound is closed with slow_consumer and gets what it missed on resume (case C1)', async () => {
  const { server, fast, slow, slowSocket, reliable } = await busyRoom(
    {
      softBackpressureBytes: 16 * 1024,
      hardBackpressureBytes: 256 * 1024,
    },
    async (running) =>
      (await metric(running, 'roomcast_edge_slow_closes_total')) > 0,
  );
  try {
    assert.ok(
      (await metric(server, 'roomcast_edge_slow_closes_total')) >= 1,
      'the slow viewer was closed',
    );
    slowSocket.resume();
    const { code } = await slow.closed;
    assert.ok(code === 4000 || code === 1006, `closed with ${code}`);
    const seen = reliableSeqs(slow);
    assert.deepEqual(seen, upTo(seen.length), 'no gap before the close');
    const back = await TestViewer.connect(
      `${server.edgeUrl}?token=${await server.token('busy', 'slow')}&resume=${seen.length}`,
    );
    await back.waitFor(
      (frame) => frame.t === 'control' && frame['reason'] === 'resumed',
      10_000,
    );
    assert.deepEqual([...seen, ...reliableSeqs(back)], upTo(reliable));
    back.close();
  } finally {
    fast.forEach((viewer) => viewer.close());
    await server.close();
  }
});
