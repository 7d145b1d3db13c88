import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TestViewer,
  encode,
  startTestServer,
  type TestServer,
} from './harness.js';
import { PROTO_POLLUTION_FRAME } from './hostile-frames.js';

let server: TestServer;

before(async () => {
  server = await startTestServer({ maxFrameBytes: 4096, rateLimitStrikes: 50 });
  await server.api('POST', '/v1/rooms', { id: 'arena' });
});

after(async () => {
  await server.close();
});

async function connect(user: string): Promise<TestViewer> {
  const token = await server.token('arena', user);
  return TestViewer.connect(`${server.edgeUrl}?token=${token}`);
}

function errorsOf(viewer: TestViewer) {
  return viewer.frames.filter((frame) => frame.t === 'error');
}

const protoFrame = PROTO_POLLUTION_FRAME;

test('edge - every hostile frame of case C5 gets an error frame, the process stays up and other viewers notice nothing', async () => {
  const attacker = await connect('mallory');
  const bystander = await connect('bob');
  const hostile: [string, Buffer][] = [
    ['extension 0x70', Buffer.from([0xd4, 0x70, 0x01])],
    ['24,000 nested arrays', Buffer.alloc(4000, 0x91)],
    ['__proto__ and constructor keys', protoFrame],
    [
      'array32 claiming 4,294,967,295 elements',
      Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]),
    ],
    ['not a map', encode([1, 2, 3])],
    ['unknown t', encode({ t: 'teleport' })],
    ['text instead of binary', Buffer.from('{"t":"chat"}')],
  ];
  for (const [name, bytes] of hostile) {
    const before = errorsOf(attacker).length;
    if (name === 'text instead of binary') {
      attacker.ws.send(bytes.toString());
    } else {
      attacker.send(bytes);
    }

    await attacker.waitUntil(() => errorsOf(attacker).length > before);
  }

  const codes = errorsOf(attacker).map((frame) => frame['code']);
  assert.deepEqual(codes, [
    'bad_frame',
    'bad_frame',
    'bad_frame',
    'bad_frame',
    'bad_frame',
    'unknown_type',
    'bad_frame',
  ]);
  assert.equal(({} as Record<string, unknown>)['admin'], undefined);
  assert.equal(({} as Record<string, unknown>)['owned'], undefined);

  const gift = await server.api('POST', '/v1/rooms/arena/messages', {
    type: 'gift',
    data: { gift: 'star' },
  });
  await bystander.waitUntil(() =>
    bystander.items().some((item) => item['id'] === gift.body['id']),
  );
  await attacker.waitUntil(() =>
    attacker.items().some((item) => item['id'] === gift.body['id']),
  );
  assert.equal(errorsOf(bystander).length, 0);
  assert.equal(bystander.closeCode, undefined);
  attacker.close();
  bystander.close();
});

test('edge - a frame larger than the limit gets an error frame and close 4009', async () => {
  const viewer = await connect('big');
  viewer.send(encode({ t: 'chat', text: 'x'.repeat(5000) }));
  const { code } = await viewer.closed;
  assert.equal(code, 4009);
  assert.equal(errorsOf(viewer)[0]?.['code'], 'frame_too_large');
});

test('edge - a frame beyond what uWS accepts closes the socket without harming others', async () => {
  const viewer = await connect('huge');
  const bystander = await connect('calm');
  viewer.send(Buffer.alloc(1024 * 1024, 0x80));
  const { code } = await viewer.closed;
  assert.ok(code === 1009 || code === 1006, `closed with ${code}`);
  bystander.send(encode({ t: 'ping' }));
  await bystander.waitFor((frame) => frame.t === 'pong');
  bystander.close();
});

test('edge - chat beyond the rate limit gets rate_limited errors, then a close 4002 if it continues', async () => {
  const limited = await startTestServer({
    chatPerSecond: 1,
    chatBurst: 2,
    rateLimitStrikes: 5,
  });
  try {
    await limited.api('POST', '/v1/rooms', { id: 'r' });
    const token = await limited.token('r', 'spammer');
    const viewer = await TestViewer.connect(
      `${limited.edgeUrl}?token=${token}`,
    );
    for (let index = 0; index < 20; index++) {
      viewer.send(encode({ t: 'chat', text: `spam ${index}` }));
    }

    const { code } = await viewer.closed;
    assert.equal(code, 4002);
    const errors = errorsOf(viewer);
    assert.ok(errors.length >= 5);
    assert.ok(errors.every((frame) => frame['code'] === 'rate_limited'));
  } finally {
    await limited.close();
  }
});

test('edge - a viewer that keeps sending invalid frames gets an error for each, then a close 4001', async () => {
  const strict = await startTestServer({ rateLimitStrikes: 3 });
  try {
    await strict.api('POST', '/v1/rooms', { id: 'r' });
    const token = await strict.token('r', 'garbler');
    const viewer = await TestViewer.connect(`${strict.edgeUrl}?token=${token}`);
    const watcher = await TestViewer.connect(
      `${strict.edgeUrl}?token=${await strict.token('r', 'watcher')}`,
    );
    for (let index = 0; index < 10; index++) {
      viewer.send(encode({ t: 'teleport', n: index }));
    }

    const { code, reason } = await viewer.closed;
    assert.deepEqual({ code, reason }, { code: 4001, reason: 'bad_frame' });
    assert.deepEqual(
      errorsOf(viewer).map((frame) => frame['code']),
      ['unknown_type', 'unknown_type', 'unknown_type'],
    );
    // The others are not touched.
    watcher.send(encode({ t: 'ping' }));
    await watcher.waitFor((frame) => frame.t === 'pong');
    assert.equal(watcher.closeCode, undefined);
    watcher.close();
  } finally {
    await strict.close();
  }
});

test('edge - a viewer chat reaches the room and likes are merged with exact totals', async () => {
  const alice = await connect('alice');
  const bob = await connect('bob2');
  alice.send(encode({ t: 'chat', text: 'hello room' }));
  for (let index = 0; index < 10; index++) {
    bob.send(encode({ t: 'like', count: 3 }));
  }

  await alice.waitUntil(() =>
    alice
      .items()
      .some((item) => item['type'] === 'chat' && item['text'] === 'hello room'),
  );
  const liked = () =>
    alice
      .items()
      .filter((item) => item['type'] === 'likes')
      .reduce((sum, item) => sum + (item['count'] as number), 0);
  await alice.waitUntil(() => liked() === 30);
  alice.close();
  bob.close();
});
