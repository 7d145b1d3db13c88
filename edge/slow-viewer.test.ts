import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import {
  TestViewer,
  startTestServer,
  type TestServer,
} from '../test/harness.js';

let server: TestServer;

before(async () => {
  server = await startTestServer({
    softBackpressureBytes: 64 * 1024,
    hardBackpressureBytes: 512 * 1024,
    historyMaxItems: 5000,
    maxBodyBytes: 65_536,
  });
  await server.api('POST', '/v1/rooms', {
    id: 'busy',
    settings: {
      lossyItemsPerSecond: 1000,
      lossyBytesPerSecond: 10 * 1024 * 1024,
    },
  });
});

after(async () => {
  await server.close();
});

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${server.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && !line.startsWith('#')) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }

  return sum;
}

function reliableSeqs(viewer: TestViewer): number[] {
  return viewer
    .items()
    .filter((item) => typeof item['seq'] === 'number')
    .map((item) => item['seq'] as number);
}

test('edge - one slow viewer in a busy room is shed, closed to resume, and gets every reliable item back (case C1)', async () => {
  const connect = async (user: string) =>
    TestViewer.connect(
      `${server.edgeUrl}?token=${await server.token('busy', user)}`,
    );
  const fast = await Promise.all(['f1', 'f2', 'f3'].map(connect));
  const slow = await connect('slow');
  const slowSocket = (slow.ws as unknown as { _socket: Socket })._socket;
  slowSocket.pause();

  const hostMessages = 400;
  const blob = 'x'.repeat(16 * 1024);
  const publish = (body: unknown) =>
    server.api('POST', '/v1/rooms/busy/messages', body);
  for (let batch = 0; batch < hostMessages / 20; batch++) {
    await Promise.all([
      ...Array.from({ length: 20 }, (_, index) =>
        publish({
          type: index % 10 === 0 ? 'gift' : 'host',
          data: { n: batch * 20 + index, blob },
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
  }

  for (const viewer of fast) {
    await viewer.waitUntil(
      () => reliableSeqs(viewer).length === hostMessages,
      20_000,
    );
    assert.deepEqual(
      reliableSeqs(viewer),
      Array.from({ length: hostMessages }, (_, index) => index + 1),
    );
    assert.ok(viewer.items().some((item) => item['type'] === 'chat'));
    assert.equal(viewer.closeCode, undefined);
  }

  const deadline = Date.now() + 10_000;
  while (
    (await metric('roomcast_edge_slow_closes_total')) < 1 &&
    Date.now() < deadline
  ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  assert.ok(
    (await metric('roomcast_edge_slow_closes_total')) >= 1,
    'the slow viewer was closed',
  );
  assert.ok(
    (await metric('roomcast_edge_dropped_items_total{reason="slow_viewer"}')) >
      0,
    'lossy items the slow viewer missed are counted',
  );
  slowSocket.resume();
  const { code } = await slow.closed;
  assert.ok(code === 4000 || code === 1006, `closed with ${code}`);
  const seen = reliableSeqs(slow);
  const lastSeen = seen.length === 0 ? 0 : Math.max(...seen);
  assert.deepEqual(
    seen,
    Array.from({ length: seen.length }, (_, index) => index + 1),
    'no gap before the close',
  );

  const back = await TestViewer.connect(
    `${server.edgeUrl}?token=${await server.token('busy', 'slow')}&resume=${lastSeen}`,
  );
  await back.waitFor(
    (frame) => frame.t === 'control' && frame['reason'] === 'resumed',
    10_000,
  );
  assert.deepEqual(
    [...seen, ...reliableSeqs(back)],
    Array.from({ length: hostMessages }, (_, index) => index + 1),
  );
  back.close();
  fast.forEach((viewer) => viewer.close());
});
