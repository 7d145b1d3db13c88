import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../harness/wait.js';
import {
  errorCode,
  TEST_KEYS,
  TestViewer,
  useTestServer,
} from '../test/harness.js';

const server = useTestServer();
const { viewers } = server;

/** A publish with an Idempotency-Key, answering headers too. */
async function publish(
  room: string,
  key: string,
  body: unknown,
  apiKey: string = TEST_KEYS.t1,
): Promise<{
  status: number;
  body: Record<string, unknown>;
  replayed: string | null;
}> {
  const response = await fetch(`${server.adminUrl}/v1/rooms/${room}/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${apiKey}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    replayed: response.headers.get('idempotent-replayed'),
  };
}

async function lastSeq(room: string): Promise<unknown> {
  return (await server.api('GET', `/v1/rooms/${room}`)).body['lastSeq'];
}

test('messages - 20 concurrent publishes with one Idempotency-Key publish once and answer the same', async () => {
  await server.createRoom('idem');
  const body = { type: 'host', data: { text: 'once' } };
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => publish('idem', 'order-42', body)),
  );
  for (const answer of answers) {
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
  }

  const first = answers[0]?.body;
  assert.ok(first !== undefined, 'twenty answers');
  assert.ok(
    answers.every((answer) => answer.body['id'] === first['id']),
    `one id: ${answers.map((answer) => String(answer.body['id'])).join()}`,
  );
  assert.ok(
    answers.every((answer) => answer.body['seq'] === 1),
    'one seq, 1',
  );
  assert.equal(
    answers.filter((answer) => answer.replayed === 'true').length,
    19,
    'all but the first are replays',
  );
  assert.equal(await lastSeq('idem'), 1, 'published once');

  const later = await publish('idem', 'order-42', body);
  assert.equal(later.replayed, 'true');
  assert.deepEqual(later.body, first);
  const otherTenant = await server.api(
    'POST',
    '/v1/rooms',
    { id: 'idem' },
    {
      key: TEST_KEYS.t2,
    },
  );
  assert.equal(otherTenant.status, 201);
  const scoped = await publish('idem', 'order-42', body, TEST_KEYS.t2);
  assert.equal(scoped.status, 202);
  assert.equal(scoped.replayed, null, 'keys are per tenant');
});

test('messages - an Idempotency-Key reused with a different body is 422', async () => {
  await server.createRoom('idem-reuse');
  const first = await publish('idem-reuse', 'k-1', { type: 'host', data: 1 });
  assert.equal(first.status, 202);
  const reused = await publish('idem-reuse', 'k-1', { type: 'host', data: 2 });
  assert.equal(reused.status, 422);
  assert.equal(errorCode(reused.body), 'idempotency_key_reused');
  const otherRoom = await publish('idem', 'k-1', { type: 'host', data: 1 });
  assert.equal(otherRoom.status, 422, 'the room is part of the request');
  assert.equal(await lastSeq('idem-reuse'), 1);
});

test('messages - a failed first attempt frees its Idempotency-Key', async () => {
  const missing = await publish('idem-later', 'k-2', { type: 'host' });
  assert.equal(missing.status, 404);
  assert.equal(errorCode(missing.body), 'room_not_found');
  await server.createRoom('idem-later');
  const retried = await publish('idem-later', 'k-2', { type: 'host' });
  assert.equal(retried.status, 202, JSON.stringify(retried.body));
  assert.equal(retried.replayed, null);
});

test('messages - a malformed Idempotency-Key is 400', async () => {
  await server.createRoom('idem-bad');
  for (const key of ['has space', 'x'.repeat(129), '']) {
    const answer = await publish('idem-bad', key, { type: 'host' });
    assert.equal(answer.status, 400, `${JSON.stringify(key)}`);
    assert.equal(errorCode(answer.body), 'invalid_request');
  }

  assert.equal(await lastSeq('idem-bad'), 0, 'nothing published');
});

test('messages - deliverAt delivers no earlier than its time', async () => {
  await server.createRoom('later');
  const token = await server.token('later', 'watcher');
  const viewer = await TestViewer.connect(`${server.edgeUrl}?token=${token}`);
  viewers.push(viewer);
  const atMs = Date.now() + 1500;
  const scheduled = await server.api('POST', '/v1/rooms/later/messages', {
    type: 'host',
    data: { text: 'on the hour' },
    deliverAt: new Date(atMs).toISOString(),
  });
  assert.equal(scheduled.status, 202, JSON.stringify(scheduled.body));
  assert.equal(scheduled.body['deliverAt'], new Date(atMs).toISOString());
  assert.equal(scheduled.body['seq'], undefined, 'no seq until it is sent');
  assert.equal(await lastSeq('later'), 0);

  await viewer.waitUntil(
    () => viewer.items().some((item) => item['id'] === scheduled.body['id']),
    10_000,
  );
  const receivedMs = Date.now();
  const item = viewer.items().find((i) => i['id'] === scheduled.body['id']);
  assert.ok(receivedMs >= atMs, `received ${atMs - receivedMs} ms early`);
  assert.ok(
    typeof item?.['ts'] === 'number' && item['ts'] >= atMs,
    `ts ${String(item?.['ts'])} is not before ${atMs}`,
  );
  assert.equal(item['seq'], 1);
});

test('messages - deliverAt out of range is 422 and not a date is 400', async () => {
  await server.createRoom('later-errs');
  const cases: [string, number, string][] = [
    [
      new Date(Date.now() - 60_000).toISOString(),
      422,
      'deliver_at_out_of_range',
    ],
    [
      new Date(Date.now() + 31 * 24 * 3600 * 1000).toISOString(),
      422,
      'deliver_at_out_of_range',
    ],
    ['tomorrow', 400, 'invalid_request'],
  ];
  for (const [deliverAt, status, code] of cases) {
    const answer = await server.api('POST', '/v1/rooms/later-errs/messages', {
      type: 'host',
      deliverAt,
    });
    assert.equal(
      answer.status,
      status,
      `${deliverAt}: ${JSON.stringify(answer.body)}`,
    );
    assert.equal(errorCode(answer.body), code, deliverAt);
  }

  const badChat = await server.api('POST', '/v1/rooms/later-errs/messages', {
    type: 'chat',
    deliverAt: new Date(Date.now() + 60_000).toISOString(),
  });
  assert.equal(badChat.status, 400, 'a scheduled message is checked now');
});

test('broadcasts - one message to 1,000 rooms completes with progress visible', async () => {
  const rooms = Array.from({ length: 1000 }, (_, i) => `bc-${i}`);
  for (let start = 0; start < rooms.length; start += 50) {
    await Promise.all(
      rooms.slice(start, start + 50).map((id) => server.createRoom(id)),
    );
  }

  const started = await server.api('POST', '/v1/broadcasts', {
    rooms: [...rooms, 'bc-missing'],
    message: { type: 'system', data: { text: 'maintenance at noon' } },
  });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  assert.equal(started.body['total'], 1001);
  assert.equal(started.body['published'], 0);
  const id = started.body['id'] as string;
  const seen: number[] = [];
  let final: Record<string, unknown> = {};
  await waitUntil(
    async () => {
      const status = await server.api('GET', `/v1/broadcasts/${id}`);
      assert.equal(status.status, 200);
      seen.push(status.body['published'] as number);
      final = status.body;
      return status.body['state'] === 'completed';
    },
    30_000,
    'the broadcast to complete',
    20,
  );
  assert.equal(final['published'], 1000);
  assert.equal(final['skipped'], 1, 'the missing room is skipped');
  assert.match(final['completedAt'] as string, /^\d{4}-/);
  assert.deepEqual(
    seen,
    [...seen].sort((a, b) => a - b),
    'progress never goes back',
  );
  for (const room of ['bc-0', 'bc-499', 'bc-999']) {
    assert.equal(await lastSeq(room), 1, `${room} got it once`);
  }
});

test('broadcasts - all: true reaches every room of the tenant only', async () => {
  const t2 = (method: string, path: string, body?: unknown) =>
    server.api(method, path, body, { key: TEST_KEYS.t2 });
  for (const id of ['all-a', 'all-b']) {
    assert.equal((await t2('POST', '/v1/rooms', { id })).status, 201);
  }

  const before = await server.api('GET', '/v1/rooms/bc-0');
  const started = await t2('POST', '/v1/broadcasts', {
    all: true,
    message: { type: 'host', data: {} },
  });
  assert.equal(started.status, 202);
  assert.equal(started.body['total'], null, 'unknown until the job runs');
  await waitUntil(
    async () =>
      (await t2('GET', `/v1/broadcasts/${started.body['id'] as string}`)).body[
        'state'
      ] === 'completed',
    10_000,
    'the broadcast to complete',
  );
  const done = await t2(
    'GET',
    `/v1/broadcasts/${started.body['id'] as string}`,
  );
  const roomsOfT2 = await t2('GET', '/v1/rooms?limit=500');
  assert.equal(
    done.body['total'],
    (roomsOfT2.body['rooms'] as unknown[]).length,
  );
  assert.equal((await t2('GET', '/v1/rooms/all-a')).body['lastSeq'], 1);
  const after = await server.api('GET', '/v1/rooms/bc-0');
  assert.equal(after.body['lastSeq'], before.body['lastSeq'], 'not tenant t1');
  const hidden = await server.api(
    'GET',
    `/v1/broadcasts/${started.body['id'] as string}`,
  );
  assert.equal(hidden.status, 404);
  assert.equal(errorCode(hidden.body), 'broadcast_not_found');
});

test('broadcasts - bad requests get 400 and 422', async () => {
  const cases: [string, unknown, number, string][] = [
    ['neither', { message: { type: 'host' } }, 400, 'invalid_request'],
    [
      'both',
      { rooms: ['a'], all: true, message: { type: 'host' } },
      400,
      'invalid_request',
    ],
    [
      'empty list',
      { rooms: [], message: { type: 'host' } },
      400,
      'invalid_request',
    ],
    [
      'unknown type',
      { all: true, message: { type: 'poll' } },
      422,
      'unknown_message_type',
    ],
  ];
  for (const [name, body, status, code] of cases) {
    const answer = await server.api('POST', '/v1/broadcasts', body);
    assert.equal(
      answer.status,
      status,
      `${name}: ${JSON.stringify(answer.body)}`,
    );
    assert.equal(errorCode(answer.body), code, name);
  }

  const unknown = await server.api('GET', '/v1/broadcasts/12345');
  assert.equal(unknown.status, 404);
  const notAnId = await server.api('GET', '/v1/broadcasts/abc');
  assert.equal(notAnId.status, 400);
});
