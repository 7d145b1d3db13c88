import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitUntil } from '../harness/wait.js';
import { errorCode, TEST_KEYS, useTestServer } from '../test/harness.js';

const server = useTestServer();

interface Received {
  id: string;
  event: string;
  body: Record<string, unknown>;
  signatureValid: boolean;
  timestampSeconds: number;
  answered: number;
}

/**
 * A webhook receiver on 127.0.0.1: verifies each delivery's signature the
 * way docs/api.md tells platforms to, and answers 500 to the first
 * `failFirst` deliveries.
 */
class Receiver {
  readonly received: Received[] = [];
  readonly #server: Server;
  #secret = '';
  #failuresLeft: number;

  constructor(failFirst = 0) {
    this.#failuresLeft = failFirst;
    this.#server = createServer((request, response) => {
      let raw = '';
      request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      request.on('end', () => {
        const timestamp = String(request.headers['roomcast-timestamp']);
        const signature = String(request.headers['roomcast-signature']);
        const expected = `v1=${createHmac('sha256', this.#secret)
          .update(`${timestamp}.${raw}`)
          .digest('hex')}`;
        const answered = this.#failuresLeft > 0 ? 500 : 204;
        this.#failuresLeft -= 1;
        this.received.push({
          id: String(request.headers['roomcast-webhook-id']),
          event: String(request.headers['roomcast-event']),
          body: JSON.parse(raw) as Record<string, unknown>,
          signatureValid:
            signature.length === expected.length &&
            timingSafeEqual(Buffer.from(signature), Buffer.from(expected)),
          timestampSeconds: Number(timestamp),
          answered,
        });
        response.statusCode = answered;
        response.end();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) =>
      this.#server.listen(0, '127.0.0.1', resolve),
    );
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/hook`;
  }

  set secret(secret: string) {
    this.#secret = secret;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

test('keys - an admin key creates, lists and revokes keys; a revoked key is 401', async () => {
  const created = await server.api('POST', '/v1/keys', {
    name: 'publisher one',
    role: 'publisher',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const secret = created.body['key'] as string;
  const id = created.body['id'] as string;
  assert.match(secret, /^rc_/);
  assert.equal(created.body['prefix'], secret.slice(0, 7));

  const listed = await server.api('GET', '/v1/keys');
  assert.equal(listed.status, 200);
  const keys = listed.body['keys'] as Record<string, unknown>[];
  const entry = keys.find((key) => key['id'] === id);
  assert.equal(entry?.['name'], 'publisher one');
  assert.equal(entry['role'], 'publisher');
  assert.ok(
    !JSON.stringify(listed.body).includes(secret),
    'the list holds no secrets',
  );
  const otherTenant = await server.api('GET', '/v1/keys', undefined, {
    key: TEST_KEYS.t2,
  });
  assert.ok(
    !(otherTenant.body['keys'] as { id: string }[]).some((k) => k.id === id),
    'keys are per tenant',
  );

  const room = await server.api(
    'POST',
    '/v1/rooms',
    { id: 'by-key' },
    {
      key: secret,
    },
  );
  assert.equal(room.status, 201, 'a publisher key works on rooms');
  const revoked = await server.api('DELETE', `/v1/keys/${id}`);
  assert.equal(revoked.status, 204);
  const after = await server.api('GET', '/v1/rooms/by-key', undefined, {
    key: secret,
  });
  assert.equal(after.status, 401);
  assert.equal(errorCode(after.body), 'unauthorized');
  const again = await server.api('DELETE', `/v1/keys/${id}`);
  assert.equal(again.status, 404);
  assert.equal(errorCode(again.body), 'key_not_found');
});

test('keys - a publisher key may not manage keys (403)', async () => {
  const created = await server.api('POST', '/v1/keys', {});
  assert.equal(created.status, 201);
  assert.equal(created.body['role'], 'publisher', 'publisher by default');
  const publisher = created.body['key'] as string;
  for (const [method, path, body] of [
    ['POST', '/v1/keys', { role: 'admin' }],
    ['GET', '/v1/keys', undefined],
    ['DELETE', `/v1/keys/${created.body['id'] as string}`, undefined],
  ] as const) {
    const answer = await server.api(method, path, body, { key: publisher });
    assert.equal(answer.status, 403, `${method} ${path}`);
    assert.equal(errorCode(answer.body), 'forbidden');
  }

  const bad = await server.api('POST', '/v1/keys', { role: 'root' });
  assert.equal(bad.status, 400);
});

test('webhooks - signed room.created and room.closed deliveries reach the receiver', async () => {
  const receiver = new Receiver();
  const url = await receiver.listen();
  try {
    const created = await server.api('POST', '/v1/webhooks', {
      url,
      events: ['room.created', 'room.closed'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    receiver.secret = created.body['secret'] as string;
    assert.match(created.body['secret'] as string, /^whsec_/);
    const id = created.body['id'] as string;
    const shown = await server.api('GET', `/v1/webhooks/${id}`);
    assert.equal(shown.body['secret'], undefined, 'the secret is shown once');
    const listed = await server.api('GET', '/v1/webhooks');
    assert.ok(
      (listed.body['webhooks'] as { id: string }[]).some((w) => w.id === id),
      'the webhook is listed',
    );

    assert.equal(
      (await server.api('POST', '/v1/rooms', { id: 'hooked' })).status,
      201,
    );
    assert.equal((await server.api('DELETE', '/v1/rooms/hooked')).status, 204);
    await waitUntil(
      () => receiver.received.length >= 2,
      10_000,
      'two deliveries',
    );
    const events = receiver.received.map((delivery) => delivery.event);
    assert.deepEqual(events.sort(), ['room.closed', 'room.created']);
    const nowSeconds = Date.now() / 1000;
    for (const delivery of receiver.received) {
      assert.ok(delivery.signatureValid, `${delivery.event} is signed`);
      assert.ok(
        Math.abs(delivery.timestampSeconds - nowSeconds) < 30,
        'the timestamp is current',
      );
      assert.equal(delivery.body['id'], delivery.id);
      assert.equal(delivery.body['event'], delivery.event);
      assert.equal(
        (delivery.body['data'] as { room?: unknown }).room,
        'hooked',
      );
    }

    const removed = await server.api('DELETE', `/v1/webhooks/${id}`);
    assert.equal(removed.status, 204);
    const gone = await server.api('GET', `/v1/webhooks/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(errorCode(gone.body), 'webhook_not_found');
  } finally {
    await receiver.close();
  }
});

test('webhooks - a delivery is retried after the receiver fails twice, and logged', async () => {
  const receiver = new Receiver(2);
  const url = await receiver.listen();
  try {
    const created = await server.api('POST', '/v1/webhooks', {
      url,
      events: ['member.banned'],
      secret: 'a-secret-of-my-own-choosing',
    });
    assert.equal(created.status, 201);
    receiver.secret = 'a-secret-of-my-own-choosing';
    const id = created.body['id'] as string;
    await server.api('POST', '/v1/rooms', { id: 'retry-room' });
    const banned = await server.api(
      'POST',
      '/v1/rooms/retry-room/members/troll/ban',
      { durationSeconds: 60 },
    );
    assert.equal(banned.status, 200);

    await waitUntil(
      () => receiver.received.some((delivery) => delivery.answered === 204),
      20_000,
      'a successful delivery',
    );
    assert.deepEqual(
      receiver.received.map((delivery) => delivery.answered),
      [500, 500, 204],
    );
    const deliveryIds = new Set(receiver.received.map((d) => d.id));
    assert.equal(deliveryIds.size, 1, 'one delivery id on every attempt');
    assert.ok(
      receiver.received.every((delivery) => delivery.signatureValid),
      'every attempt is signed',
    );
    assert.equal(
      (receiver.received[2]?.body['data'] as { user?: unknown }).user,
      'troll',
    );

    const log = await server.api('GET', `/v1/webhooks/${id}/deliveries`);
    assert.equal(log.status, 200);
    const records = log.body['deliveries'] as Record<string, unknown>[];
    assert.deepEqual(
      records.map((r) => [r['attempt'], r['status'], r['outcome']]),
      [
        [3, 204, 'delivered'],
        [2, 500, 'failed'],
        [1, 500, 'failed'],
      ],
      'newest first',
    );
    const limited = await server.api(
      'GET',
      `/v1/webhooks/${id}/deliveries?limit=1`,
    );
    assert.equal((limited.body['deliveries'] as unknown[]).length, 1);
  } finally {
    await receiver.close();
  }
});

test('webhooks - bad registrations are 400 and unknown ids 404', async () => {
  const cases: [string, unknown][] = [
    ['no events', { url: 'http://127.0.0.1:1/x', events: [] }],
    ['unknown event', { url: 'http://127.0.0.1:1/x', events: ['room.eaten'] }],
    ['not http', { url: 'ftp://127.0.0.1/x', events: ['room.created'] }],
    [
      'short secret',
      { url: 'http://127.0.0.1:1/x', events: ['room.idle'], secret: 'short' },
    ],
  ];
  for (const [name, body] of cases) {
    const answer = await server.api('POST', '/v1/webhooks', body);
    assert.equal(answer.status, 400, `${name}: ${JSON.stringify(answer.body)}`);
    assert.equal(errorCode(answer.body), 'invalid_request', name);
  }

  for (const path of ['/v1/webhooks/999', '/v1/webhooks/999/deliveries']) {
    const answer = await server.api('GET', path);
    assert.equal(answer.status, 404, path);
    assert.equal(errorCode(answer.body), 'webhook_not_found', path);
  }
});
