import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ViewerTokens } from '../tokens/index.js';
import {
  RefusedError,
  TEST_KEYS,
  TEST_SECRET,
  TestViewer,
  startTestServer,
  type TestServer,
} from './harness.js';

let server: TestServer;
let roomCounter = 0;

async function newRoom(body: Record<string, unknown> = {}): Promise<string> {
  const id = `room-${++roomCounter}`;
  const created = await server.api('POST', '/v1/rooms', { id, ...body });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return id;
}

async function viewer(
  room: string,
  user = 'u1',
  query = '',
): Promise<TestViewer> {
  const token = await server.token(room, user, { name: user.toUpperCase() });
  return TestViewer.connect(`${server.edgeUrl}?token=${token}${query}`);
}

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.close();
});

describe('standalone', () => {
  test('standalone - a viewer receives a host message and a gift with consecutive seqs', async () => {
    const room = await newRoom();
    const ann = await viewer(room);
    const host = await server.api('POST', `/v1/rooms/${room}/messages`, {
      type: 'host',
      data: { text: 'welcome everyone' },
    });
    const gift = await server.api('POST', `/v1/rooms/${room}/messages`, {
      type: 'gift',
      from: { id: 'fan', name: 'Fan' },
      data: { gift: 'rose', value: 5 },
    });
    assert.equal(host.status, 202);
    assert.equal(gift.status, 202);
    assert.equal(gift.body['seq'], (host.body['seq'] as number) + 1);
    await ann.waitUntil(
      () => ann.items().filter((item) => 'seq' in item).length >= 2,
    );
    const reliable = ann.items().filter((item) => 'seq' in item);
    assert.deepEqual(
      reliable.map((item) => [item['type'], item['seq'], item['id']]),
      [
        ['host', host.body['seq'], host.body['id']],
        ['gift', gift.body['seq'], gift.body['id']],
      ],
    );
    assert.deepEqual(reliable[1]?.['data'], { gift: 'rose', value: 5 });
    ann.close();
  });

  test('standalone - the welcome frame names the room, user, viewers and last seq', async () => {
    const room = await newRoom();
    await server.api('POST', `/v1/rooms/${room}/messages`, {
      type: 'system',
      data: {},
    });
    const ann = await viewer(room, 'ann');
    const welcome = ann.frames[0];
    assert.equal(welcome?.t, 'welcome');
    assert.equal(welcome?.['room'], room);
    assert.equal(welcome?.['user'], 'ann');
    assert.equal(welcome?.['seq'], 1);
    assert.ok((welcome?.['viewers'] as number) >= 1);
    ann.close();
  });

  test('standalone - 1,000 likes arrive as merged items whose counts sum to 1,000', async () => {
    const room = await newRoom();
    const ann = await viewer(room);
    await Promise.all(
      Array.from({ length: 1000 }, (_, index) =>
        server.api('POST', `/v1/rooms/${room}/messages`, {
          type: 'like',
          from: { id: `fan-${index % 50}`, name: `Fan ${index % 50}` },
        }),
      ),
    );
    const likesSum = () =>
      ann
        .items()
        .filter((item) => item['type'] === 'likes')
        .reduce((sum, item) => sum + (item['count'] as number), 0);
    await ann.waitUntil(() => likesSum() === 1000);
    const likes = ann.items().filter((item) => item['type'] === 'likes');
    assert.equal(likes.at(-1)?.['total'], 1000);
    const batches = ann.frames.filter((frame) => frame.t === 'batch');
    for (const batch of batches) {
      const perFrame = (batch['items'] as { type: string }[]).filter(
        (item) => item.type === 'likes',
      );
      assert.ok(perFrame.length <= 1, 'at most one likes item per tick');
    }

    assert.ok(likes.length < 1000, 'likes were merged');
    ann.close();
  });

  test('standalone - a chat flood beyond the budget is delivered up to the budget and the rest counted as dropped', async () => {
    const room = await newRoom({ settings: { lossyItemsPerSecond: 20 } });
    const ann = await viewer(room);
    const sent = 400;
    await Promise.all(
      Array.from({ length: sent }, (_, index) =>
        server.api('POST', `/v1/rooms/${room}/messages`, {
          type: 'chat',
          from: { id: `fan-${index % 40}`, name: `Fan ${index % 40}` },
          data: { text: `message ${index}` },
        }),
      ),
    );
    let chat:
      | {
          received: number;
          delivered: number;
          dropped: Record<string, number>;
          pending: number;
        }
      | undefined;
    await ann.waitUntil(() => true);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const state = await server.api('GET', `/v1/rooms/${room}`);
      const stats = state.body['stats'] as { classes: { chat: typeof chat } };
      chat = stats.classes.chat;
      if (chat !== undefined && chat.received === sent && chat.pending === 0) {
        break;
      }

      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    assert.ok(chat !== undefined);
    assert.equal(chat.received, sent);
    const dropped = Object.values(chat.dropped).reduce((a, b) => a + b, 0);
    assert.ok(dropped > 0, 'some chat was dropped');
    assert.equal(chat.delivered + dropped + chat.pending, sent);
    await ann.waitUntil(
      () =>
        ann.items().filter((item) => item['type'] === 'chat').length >=
        chat.delivered,
    );
    assert.equal(
      ann.items().filter((item) => item['type'] === 'chat').length,
      chat.delivered,
    );
    ann.close();
  });

  test('standalone - closing a room sends the control frame before the close', async () => {
    const room = await newRoom();
    const ann = await viewer(room);
    const closed = await server.api('DELETE', `/v1/rooms/${room}`);
    assert.equal(closed.status, 204);
    const { code, reason } = await ann.closed;
    assert.equal(code, 4004);
    assert.equal(reason, 'room_closed');
    const control = ann.frames.find((frame) => frame.t === 'control');
    assert.equal(control?.['reason'], 'room_closed');
    assert.equal(ann.frames.at(-1), control);
    const gone = await server.api('GET', `/v1/rooms/${room}`);
    assert.equal(gone.status, 404);
  });

  test('standalone - a viewer that reconnects with resume gets exactly what it missed', async () => {
    const room = await newRoom();
    const ann = await viewer(room);
    await server.api('POST', `/v1/rooms/${room}/messages`, {
      type: 'host',
      data: { n: 1 },
    });
    await ann.waitUntil(() => ann.items().some((item) => item['seq'] === 1));
    ann.close();
    await ann.closed;
    for (let n = 2; n <= 5; n++) {
      await server.api('POST', `/v1/rooms/${room}/messages`, {
        type: 'host',
        data: { n },
      });
    }

    const back = await viewer(room, 'u1', '&resume=1');
    await back.waitFor(
      (frame) => frame.t === 'control' && frame['reason'] === 'resumed',
    );
    await server.api('POST', `/v1/rooms/${room}/messages`, {
      type: 'host',
      data: { n: 6 },
    });
    await back.waitUntil(() => back.items().some((item) => item['seq'] === 6));
    const seqs = back
      .items()
      .filter((item) => 'seq' in item)
      .map((item) => item['seq']);
    assert.deepEqual(seqs, [2, 3, 4, 5, 6]);
    back.close();
  });

  test('standalone - a resume from before the kept history is told to reload', async () => {
    const small = await startTestServer({ historyMaxItems: 3 });
    try {
      const created = await small.api('POST', '/v1/rooms', { id: 'r' });
      assert.equal(created.status, 201);
      for (let n = 1; n <= 6; n++) {
        await small.api('POST', '/v1/rooms/r/messages', {
          type: 'host',
          data: { n },
        });
      }

      const token = await small.token('r', 'u1');
      const back = await TestViewer.connect(
        `${small.edgeUrl}?token=${token}&resume=1`,
      );
      const control = await back.waitFor((frame) => frame.t === 'control');
      assert.equal(control['reason'], 'reload');
      assert.equal(control['seq'], 6);
      back.close();
    } finally {
      await small.close();
    }
  });
});

describe('standalone tokens', () => {
  async function refusedStatus(url: string): Promise<number> {
    const attempt = new TestViewer(url);
    const error = await attempt.opened.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    assert.ok(error instanceof RefusedError, 'the upgrade was refused');
    return error.status;
  }

  test('edge - missing, garbage, expired and forged tokens are refused with 401', async () => {
    const room = await newRoom();
    assert.equal(await refusedStatus(server.edgeUrl), 401);
    assert.equal(await refusedStatus(`${server.edgeUrl}?token=garbage`), 401);
    assert.equal(await refusedStatus(`${server.edgeUrl}?token=a.b.c`), 401);
    const past = new ViewerTokens(TEST_SECRET, () => Date.now() - 3_600_000);
    const expired = await past.mint(
      { tenant: 't1', room, user: 'u1', name: 'U1', role: 'viewer', level: 0 },
      60,
    );
    assert.equal(
      await refusedStatus(`${server.edgeUrl}?token=${expired.token}`),
      401,
    );
    const other = new ViewerTokens('another-secret-0123456789-0123456789');
    const foreign = await other.mint(
      { tenant: 't1', room, user: 'u1', name: 'U1', role: 'viewer', level: 0 },
      60,
    );
    assert.equal(
      await refusedStatus(`${server.edgeUrl}?token=${foreign.token}`),
      401,
    );
  });

  test('edge - a token of another tenant is refused with 401', async () => {
    const room = await newRoom();
    const created = await server.api(
      'POST',
      '/v1/rooms',
      { id: 'theirs' },
      { key: TEST_KEYS.t2 },
    );
    assert.equal(created.status, 201);
    const theirs = await server.api(
      'POST',
      '/v1/tokens',
      { room: 'theirs', user: 'mallory' },
      { key: TEST_KEYS.t2 },
    );
    const [header, payload, signature] = (theirs.body['token'] as string).split(
      '.',
    );
    const claims = JSON.parse(
      Buffer.from(payload ?? '', 'base64url').toString(),
    ) as Record<string, unknown>;
    claims['tid'] = 't1';
    claims['room'] = room;
    const forged = [
      header,
      Buffer.from(JSON.stringify(claims)).toString('base64url'),
      signature,
    ].join('.');
    assert.equal(await refusedStatus(`${server.edgeUrl}?token=${forged}`), 401);
    const denied = await server.api(
      'POST',
      '/v1/tokens',
      { room, user: 'm' },
      { key: TEST_KEYS.t2 },
    );
    assert.equal(denied.status, 404);
    const ownRoom = await server.api('GET', `/v1/rooms/${room}`, undefined, {
      key: TEST_KEYS.t2,
    });
    assert.equal(ownRoom.status, 404);
  });

  test('edge - a token for a closed room is refused with 404', async () => {
    const room = await newRoom();
    const token = await server.token(room, 'u1');
    await server.api('DELETE', `/v1/rooms/${room}`);
    assert.equal(await refusedStatus(`${server.edgeUrl}?token=${token}`), 404);
  });
});

test('edge - a viewer resuming into a room new to the edge does not get its last item again', async () => {
  const slow = await startTestServer({ tickMs: 1000 });
  try {
    await slow.api('POST', '/v1/rooms', { id: 'fresh' });
    const published = await slow.api('POST', '/v1/rooms/fresh/messages', {
      type: 'host',
      data: { n: 1 },
    });
    assert.equal(published.body['seq'], 1);
    // The shard publishes seq 1 at its next tick, up to a second away; the
    // viewer says it already has seq 1.
    const token = await slow.token('fresh', 'u1');
    const viewer = await TestViewer.connect(
      `${slow.edgeUrl}?token=${token}&resume=1`,
    );
    await viewer.waitFor(
      (frame) => frame.t === 'control' && frame['reason'] === 'resumed',
    );
    await slow.api('POST', '/v1/rooms/fresh/messages', {
      type: 'host',
      data: { n: 2 },
    });
    await viewer.waitUntil(
      () => viewer.items().some((item) => item['seq'] === 2),
      5000,
    );
    assert.deepEqual(
      viewer
        .items()
        .filter((item) => 'seq' in item)
        .map((item) => item['seq']),
      [2],
    );
    viewer.close();
  } finally {
    await slow.close();
  }
});
