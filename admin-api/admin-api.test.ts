import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode, TEST_KEYS, useTestServer } from '../test/harness.js';

const server = useTestServer({ maxBodyBytes: 2048 });

test('admin api - rooms are created with a given or generated id and 409 on a duplicate', async () => {
  const named = await server.api('POST', '/v1/rooms', {
    id: 'stage',
    title: 'Main stage',
  });
  assert.equal(named.status, 201);
  assert.equal(named.body['id'], 'stage');
  assert.equal(named.body['title'], 'Main stage');
  assert.equal(named.body['viewers'], 0);
  assert.match(named.body['createdAt'] as string, /^\d{4}-\d\d-\d\dT/);
  const generated = await server.api('POST', '/v1/rooms', {});
  assert.equal(generated.status, 201);
  assert.match(generated.body['id'] as string, /^[0-9]+$/);
  const duplicate = await server.api('POST', '/v1/rooms', { id: 'stage' });
  assert.equal(duplicate.status, 409);
  assert.equal(errorCode(duplicate.body), 'room_exists');
  const fetched = await server.api('GET', '/v1/rooms/stage');
  assert.equal(fetched.status, 200);
  assert.equal(fetched.body['title'], 'Main stage');
});

test('admin api - a key sees only its own tenant', async () => {
  await server.api('POST', '/v1/rooms', { id: 'private' });
  const other = await server.api('GET', '/v1/rooms/private', undefined, {
    key: TEST_KEYS.t2,
  });
  assert.equal(other.status, 404);
  const publish = await server.api(
    'POST',
    '/v1/rooms/private/messages',
    { type: 'host', data: {} },
    { key: TEST_KEYS.t2 },
  );
  assert.equal(publish.status, 404);
  const list = await server.api('GET', '/v1/rooms', undefined, {
    key: TEST_KEYS.t2,
  });
  assert.equal(list.status, 200);
  assert.ok(
    !(list.body['rooms'] as { id: string }[]).some(
      (room) => room.id === 'private',
    ),
  );
  const same = await server.api(
    'POST',
    '/v1/rooms',
    { id: 'private' },
    { key: TEST_KEYS.t2 },
  );
  assert.equal(same.status, 201, 'room ids are per tenant');
});

test('admin api - publishing answers 202 with an id, and a seq for reliable types', async () => {
  await server.api('POST', '/v1/rooms', { id: 'pub' });
  const host = await server.api('POST', '/v1/rooms/pub/messages', {
    type: 'host',
    data: { a: 1 },
  });
  assert.equal(host.status, 202);
  assert.equal(host.body['seq'], 1);
  assert.match(host.body['id'] as string, /^[0-9]+$/);
  const chat = await server.api('POST', '/v1/rooms/pub/messages', {
    type: 'chat',
    from: { id: 'u', name: 'U' },
    data: { text: 'hi' },
  });
  assert.equal(chat.status, 202);
  assert.equal(chat.body['seq'], undefined);
  const like = await server.api('POST', '/v1/rooms/pub/messages', {
    type: 'like',
    data: { count: 5 },
  });
  assert.equal(like.status, 202);
});

test('admin api - bad input gets the documented error codes and statuses', async () => {
  await server.api('POST', '/v1/rooms', { id: 'errs' });
  const cases: [
    string,
    Promise<{ status: number; body: Record<string, unknown> }>,
    number,
    string,
  ][] = [
    [
      'no key',
      server.api('GET', '/v1/rooms/errs', undefined, { key: '' }),
      401,
      'unauthorized',
    ],
    [
      'wrong key',
      server.api('GET', '/v1/rooms/errs', undefined, {
        key: 'nope-nope-nope-nope',
      }),
      401,
      'unauthorized',
    ],
    [
      'unknown room',
      server.api('GET', '/v1/rooms/nowhere'),
      404,
      'room_not_found',
    ],
    ['unknown route', server.api('GET', '/v1/nothing'), 404, 'not_found'],
    [
      'unknown field',
      server.api('POST', '/v1/rooms', { id: 'x1', colour: 'red' }),
      400,
      'invalid_request',
    ],
    [
      'bad room id',
      server.api('POST', '/v1/rooms', { id: 'has spaces/slash' }),
      400,
      'invalid_request',
    ],
    [
      'bad type',
      server.api('POST', '/v1/rooms/errs/messages', { type: 'shout' }),
      422,
      'unknown_message_type',
    ],
    [
      'chat without text',
      server.api('POST', '/v1/rooms/errs/messages', {
        type: 'chat',
        from: { id: 'u' },
      }),
      400,
      'invalid_request',
    ],
    [
      'malformed json',
      server.api('POST', '/v1/rooms', '{"id": '),
      400,
      'invalid_json',
    ],
    [
      'a __proto__ key at the top',
      server.api('POST', '/v1/rooms', '{"id":"p1","__proto__":{"x":1}}'),
      400,
      'reserved_key',
    ],
    [
      'a __proto__ key deep in data',
      server.api(
        'POST',
        '/v1/rooms/errs/messages',
        '{"type":"host","data":{"a":[{"__proto__":{"admin":true}}]}}',
      ),
      400,
      'reserved_key',
    ],
    [
      'constructor.prototype in data',
      server.api(
        'POST',
        '/v1/rooms/errs/messages',
        '{"type":"host","data":{"constructor":{"prototype":{"x":1}}}}',
      ),
      400,
      'reserved_key',
    ],
    [
      'too large',
      server.api('POST', '/v1/rooms/errs/messages', {
        type: 'host',
        data: { blob: 'x'.repeat(4096) },
      }),
      413,
      'payload_too_large',
    ],
    [
      'not json',
      server.api('POST', '/v1/rooms', 'id=x', {
        headers: { 'content-type': 'text/plain' },
      }),
      415,
      'unsupported_media_type',
    ],
    [
      'undecodable url',
      server.api('GET', '/v1/rooms/%'),
      400,
      'invalid_request',
    ],
    [
      'overlong path segment',
      server.api('GET', `/v1/rooms/${'x'.repeat(2000)}`),
      400,
      'invalid_request',
    ],
    [
      'longest user id is routed',
      server.api('GET', `/v1/rooms/errs/members/${'\u00e9'.repeat(128)}`),
      404,
      'member_not_found',
    ],
    [
      'token for unknown room',
      server.api('POST', '/v1/tokens', { room: 'nowhere', user: 'u' }),
      404,
      'room_not_found',
    ],
    [
      'token ttl too short',
      server.api('POST', '/v1/tokens', {
        room: 'errs',
        user: 'u',
        ttlSeconds: 1,
      }),
      400,
      'invalid_request',
    ],
  ];
  for (const [name, pending, status, code] of cases) {
    const result = await pending;
    assert.equal(
      result.status,
      status,
      `${name}: ${JSON.stringify(result.body)}`,
    );
    assert.equal(errorCode(result.body), code, name);
    assert.equal(
      typeof (result.body['error'] as { message?: unknown }).message,
      'string',
    );
  }
});

test('admin api - a __proto__ key is refused as reserved_key wherever it is, changes nothing, and look-alikes pass', async () => {
  const escaped = await server.api(
    'POST',
    '/v1/rooms',
    '{"id":"p2","title":"t","\\u005f_proto__":{"polluted":true}}',
  );
  assert.equal(escaped.status, 400, JSON.stringify(escaped.body));
  assert.equal(errorCode(escaped.body), 'reserved_key');
  assert.deepEqual((escaped.body['error'] as { details?: unknown }).details, [
    { path: '$.__proto__' },
  ]);
  assert.equal((await server.api('GET', '/v1/rooms/p2')).status, 404);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);

  await server.api('POST', '/v1/rooms', { id: 'proto-ok' });
  const lookAlikes = await server.api(
    'POST',
    '/v1/rooms/proto-ok/messages',
    '{"type":"host","data":{"constructor":1,"proto":"x","prototype":{},"text":"\\u00e9"}}',
  );
  assert.equal(lookAlikes.status, 202, JSON.stringify(lookAlikes.body));
});

test('admin api - tokens are minted with an expiry', async () => {
  await server.api('POST', '/v1/rooms', { id: 'tok' });
  const minted = await server.api('POST', '/v1/tokens', {
    room: 'tok',
    user: 'u1',
    name: 'Ann',
    role: 'moderator',
    ttlSeconds: 120,
  });
  assert.equal(minted.status, 201);
  assert.equal((minted.body['token'] as string).split('.').length, 3);
  const expiresInMs =
    Date.parse(minted.body['expiresAt'] as string) - Date.now();
  assert.ok(expiresInMs > 100_000 && expiresInMs <= 121_000);
});

test('admin api - /metrics, /healthz and /readyz answer on both ports', async () => {
  for (const base of [
    server.adminUrl,
    server.edgeUrl.replace('ws://', 'http://').replace('/ws', ''),
  ]) {
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assert.match(text, /roomcast_edge_connections/);
    assert.match(text, /roomcast_priority_items_total/);
    assert.match(text, /nodejs_eventloop_lag_seconds/);
  }
});

test('admin api - data nested past the limit is refused with 400 and the process keeps serving', async () => {
  await server.api('POST', '/v1/rooms', { id: 'deep' });
  let nested: unknown = 1;
  for (let depth = 0; depth < 100; depth++) {
    nested = [nested];
  }

  const refused = await server.api('POST', '/v1/rooms/deep/messages', {
    type: 'host',
    data: { a: nested },
  });
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.equal(errorCode(refused.body), 'invalid_request');
  const fine = await server.api('POST', '/v1/rooms/deep/messages', {
    type: 'host',
    data: { a: [[[1]]] },
  });
  assert.equal(fine.status, 202);
  assert.equal(fine.body['seq'], 1, 'the refused message used no seq');
  const health = await fetch(`${server.adminUrl}/healthz`);
  assert.equal(health.status, 200);
});
