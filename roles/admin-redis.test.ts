/**
 * The admin role as real processes on the Redis at 127.0.0.1:6379, under a
 * random key prefix that is deleted afterwards: idempotency records and jobs
 * live on Redis, so they hold across admin processes and survive a worker
 * killed mid-job.
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { API_KEY, Fleet } from '../harness/fleet.js';
import type { RoomcastProcess } from '../harness/processes.js';
import { waitUntil } from '../harness/wait.js';
import { RefusedError, TestViewer } from '../test/harness.js';

const REDIS = { env: { REDIS_URL: 'redis://127.0.0.1:6379' } };
const fleets: Fleet[] = [];

after(async () => {
  await Promise.all(fleets.map((fleet) => fleet.stop()));
});

async function startAdmin(fleet: Fleet): Promise<{
  process: RoomcastProcess;
  port: number;
}> {
  const started = fleet.start('admin');
  const port = await started.listening('admin');
  await waitUntil(
    async () =>
      (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))
        ?.status === 200,
    30_000,
    `/readyz on port ${port}`,
  );
  return { process: started, port };
}

async function call(
  port: number,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}> {
  const response = await fetch(`http://127.0.0.1:${port}/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    headers: response.headers,
  };
}

test('admin on redis - concurrent retries with one Idempotency-Key across two admin processes publish once', async () => {
  const fleet = new Fleet(REDIS);
  fleets.push(fleet);
  const [a, b] = await Promise.all([startAdmin(fleet), startAdmin(fleet)]);
  const created = await call(a.port, 'POST', '/rooms', { id: 'idem' });
  assert.equal(created.status, 201, JSON.stringify(created.body));

  const message = { type: 'host', data: { text: 'exactly once' } };
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, index) =>
      call(
        index % 2 === 0 ? a.port : b.port,
        'POST',
        '/rooms/idem/messages',
        message,
        { 'idempotency-key': 'retry-me' },
      ),
    ),
  );
  for (const answer of answers) {
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
  }

  assert.deepEqual(
    new Set(
      answers.map(
        (answer) =>
          `${String(answer.body['id'])}/${String(answer.body['seq'])}`,
      ),
    ).size,
    1,
    'one id and seq in every answer',
  );
  assert.equal(answers[0]?.body['seq'], 1);
  assert.equal(
    answers.filter(
      (answer) => answer.headers.get('idempotent-replayed') === 'true',
    ).length,
    19,
  );
  const room = await call(b.port, 'GET', '/rooms/idem');
  assert.equal(room.body['lastSeq'], 1, 'published once');
  const reused = await call(
    b.port,
    'POST',
    '/rooms/idem/messages',
    { type: 'host', data: { text: 'other' } },
    { 'idempotency-key': 'retry-me' },
  );
  assert.equal(reused.status, 422, 'the record is shared');
});

test('admin on redis - a webhook delivery survives its worker being SIGKILLed mid-delivery', async () => {
  const held: ServerResponse[] = [];
  const received: { id: string; answered: number }[] = [];
  const receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const id = String(request.headers['roomcast-webhook-id']);
      if (received.length === 0) {
        // The first attempt never gets an answer: its worker dies first.
        received.push({ id, answered: 0 });
        held.push(response);
        return;
      }

      received.push({ id, answered: 204 });
      response.statusCode = 204;
      response.end();
    });
  });
  await new Promise<void>((resolve) =>
    receiver.listen(0, '127.0.0.1', resolve),
  );
  const { port: receiverPort } = receiver.address() as AddressInfo;
  const fleet = new Fleet(REDIS);
  fleets.push(fleet);
  try {
    const first = await startAdmin(fleet);
    const hook = await call(first.port, 'POST', '/webhooks', {
      url: `http://127.0.0.1:${receiverPort}/hook`,
      events: ['room.created'],
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    const created = await call(first.port, 'POST', '/rooms', { id: 'hooked' });
    assert.equal(created.status, 201);
    await waitUntil(() => received.length === 1, 10_000, 'the first attempt');

    first.process.child.kill('SIGKILL');
    await first.process.exited;
    const second = await startAdmin(fleet);
    await waitUntil(
      () => received.some((attempt) => attempt.answered === 204),
      30_000,
      'the delivery to be retried by the surviving worker',
    );
    assert.equal(
      new Set(received.map((attempt) => attempt.id)).size,
      1,
      'the retry carries the same delivery id',
    );

    const hookId = hook.body['id'] as string;
    let log: Record<string, unknown>[] = [];
    await waitUntil(
      async () => {
        const answer = await call(
          second.port,
          'GET',
          `/webhooks/${hookId}/deliveries`,
        );
        log = answer.body['deliveries'] as Record<string, unknown>[];
        return log.length > 0;
      },
      5000,
      'the delivery log',
    );
    assert.deepEqual(
      log.map((record) => [record['deliveryId'], record['outcome']]),
      [[received[0]?.id, 'delivered']],
      'delivered once; the killed attempt left no record',
    );
  } finally {
    for (const response of held) {
      response.destroy();
    }

    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  }
});

test('admin on redis - a ban set through one process closes the user 4006 and an edge process refuses them', async () => {
  const fleet = new Fleet(REDIS);
  fleets.push(fleet);
  const { edgePorts } = await fleet.startAll(1, 1);
  const url = async () =>
    `ws://127.0.0.1:${edgePorts[0] ?? 0}/ws?token=${await fleet.token('banned-room', 'bo')}`;
  await fleet.createRoom('banned-room');
  const viewer = await TestViewer.connect(await url());
  // The shard may still be claiming the room: ban once bo is a member.
  await waitUntil(
    async () =>
      (await fleet.api('GET', '/rooms/banned-room')).json['viewers'] === 1,
    15_000,
    'bo to be counted',
  );
  const banned = await fleet.api('POST', '/rooms/banned-room/members/bo/ban', {
    durationSeconds: 600,
  });
  assert.equal(banned.status, 200, JSON.stringify(banned.json));
  const closed = await viewer.closed;
  assert.equal(closed.code, 4006);

  const refused = await TestViewer.connect(await url()).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(refused instanceof RefusedError, `refused: ${String(refused)}`);
  assert.equal(refused.status, 403);
  assert.equal(refused.code, 'banned');
  const lifted = await fleet.api('DELETE', '/rooms/banned-room/bans/bo');
  assert.equal(lifted.status, 204);
  const back = await TestViewer.connect(await url());
  back.close();
});

test('admin on redis - a broadcast whose worker is SIGKILLed mid-run reaches every room exactly once', async (t) => {
  const fleet = new Fleet(REDIS);
  fleets.push(fleet);
  const redis = new Redis('redis://127.0.0.1:6379');
  try {
    const first = await startAdmin(fleet);
    const rooms = Array.from({ length: 1000 }, (_, index) => `b${index}`);
    for (let start = 0; start < rooms.length; start += 50) {
      await Promise.all(
        rooms.slice(start, start + 50).map(async (id) => {
          const created = await call(first.port, 'POST', '/rooms', { id });
          assert.equal(created.status, 201, JSON.stringify(created.body));
        }),
      );
    }

    const started = await call(first.port, 'POST', '/broadcasts', {
      rooms,
      message: { type: 'system', data: { text: 'once per room' } },
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const id = started.body['id'] as string;
    // Kill the worker while some rooms have been appended to and not yet
    // recorded as published: the window a worker can die in.
    const seqKeys = rooms.map((room) => `${fleet.prefix}seq:{acme/${room}}`);
    const publishedSet = `${fleet.prefix}kv:broadcast-published:acme:${id}`;
    const appendedCount = async () =>
      (await redis.mget(...seqKeys)).filter((value) => value !== null).length;
    await waitUntil(
      async () => (await appendedCount()) > (await redis.scard(publishedSet)),
      30_000,
      'a room appended to and not yet recorded',
      1,
    );
    first.process.child.kill('SIGKILL');
    await first.process.exited;
    const appended = await appendedCount();
    const recorded = await redis.scard(publishedSet);
    t.diagnostic(
      `at the kill: ${appended} rooms appended to, ${recorded} recorded`,
    );
    assert.ok(appended < rooms.length, 'killed before the broadcast ended');

    const second = await startAdmin(fleet);
    let status: Record<string, unknown> = {};
    await waitUntil(
      async () => {
        status = (await call(second.port, 'GET', `/broadcasts/${id}`)).body;
        return status['state'] === 'completed';
      },
      60_000,
      'the broadcast to be run again to completion',
      100,
    );
    assert.equal(status['published'], rooms.length);
    assert.equal(status['skipped'], 0);
    const seqs = await redis.mget(...seqKeys);
    const lengths = await Promise.all(
      rooms.map((room) => redis.xlen(`${fleet.prefix}log:{acme/${room}}`)),
    );
    const wrong = rooms.filter(
      (_room, index) => seqs[index] !== '1' || lengths[index] !== 1,
    );
    assert.deepEqual(wrong, [], 'every room holds the message once');
    const history = await call(second.port, 'GET', '/rooms/b0');
    assert.equal(history.body['lastSeq'], 1);
  } finally {
    redis.disconnect();
  }
});
