/**
 * Sends a few thousand random and malformed requests to a real standalone
 * server and checks that every answer is a success or one of the documented
 * 4xx errors with its documented status, never a 5xx, and that the process
 * still serves afterwards. The generator is seeded; a failure prints the
 * seed and the request, and FUZZ_SEED=<seed> replays the run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { API_ERRORS } from './errors.js';
import {
  rawRequest,
  TEST_KEYS,
  startTestServer,
  type TestServer,
} from '../test/harness.js';

const REQUESTS = 3000;
const CONCURRENCY = 16;

let server: TestServer;
// A connection per request: a refused request's unread body must not be
// taken for the next request on the same connection.
const agent = new Agent({ keepAlive: false, maxSockets: CONCURRENCY });

before(async () => {
  server = await startTestServer({ maxBodyBytes: 64 * 1024 });
  for (const id of ['fz-a', 'fz-b']) {
    await server.api('POST', '/v1/rooms', { id });
  }
});

after(async () => {
  agent.destroy();
  await server.close();
});

/** mulberry32: small, seeded, good enough to pick test cases. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

class Generator {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = random(seed);
  }

  int(max: number): number {
    return Math.floor(this.#next() * max);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  chance(probability: number): boolean {
    return this.#next() < probability;
  }

  string(): string {
    return this.pick([
      () => '',
      () => 'fz-a',
      () => 'x'.repeat(this.int(2000)),
      () => '\u{1F600}\u0000\u202e\uFFFF\u00e9',
      () => '../../etc/passwd',
      () => '%00%ff%',
      () => String(this.int(1e12)),
      () => '-1',
      () => 'NaN',
      () => '1e309',
      () => '<script>',
      () => ' '.repeat(this.int(10)),
      () =>
        String.fromCharCode(
          ...Array.from({ length: 1 + this.int(20) }, () => this.int(0xd7ff)),
        ),
    ])();
  }

  json(depth = 0): unknown {
    const kind = this.int(depth > 4 ? 5 : 8);
    switch (kind) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 1000]);
      case 3:
      case 4:
        return this.string();
      case 5:
        return Array.from({ length: this.int(5) }, () => this.json(depth + 1));
      default: {
        const fields = [
          'id',
          'title',
          'type',
          'data',
          'from',
          'settings',
          'rooms',
          'all',
          'message',
          'deliverAt',
          'url',
          'events',
          'secret',
          'role',
          'name',
          'reason',
          'durationSeconds',
          'idleCloseSeconds',
          'room',
          'user',
          'ttlSeconds',
          'customTypes',
          '__proto__',
          'constructor',
        ];
        const value: Record<string, unknown> = {};
        for (let i = this.int(5); i > 0; i -= 1) {
          value[this.pick(fields)] = this.json(depth + 1);
        }

        return value;
      }
    }
  }

  body(): Buffer | undefined {
    return this.pick([
      () => undefined,
      () => Buffer.from(JSON.stringify(this.json())),
      () => Buffer.from(JSON.stringify(this.plausible())),
      () => Buffer.from('{"id": '),
      () => Buffer.from('{"a":1}{"b":2}'),
      () => Buffer.from('['.repeat(5000) + ']'.repeat(5000)),
      () =>
        Buffer.from(
          `{"type":"host","data":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}`,
        ),
      () =>
        Buffer.from(JSON.stringify({ type: 'host', data: 'x'.repeat(70_000) })),
      () => Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80]),
      () => Buffer.from('\uFEFF{"id":"bom"}'),
      () => Buffer.from('null'),
      () => Buffer.from('"string"'),
      () => Buffer.from('1e999999'),
      () => Buffer.from('id=x&title=y'),
    ])();
  }

  /** Bodies close to valid ones, so validation goes deep. */
  plausible(): Record<string, unknown> {
    return this.pick([
      () => ({ type: this.pick(['host', 'chat', 'like', 'gift', 'poll']) }),
      () => ({
        type: 'chat',
        from: { id: this.string(), name: this.string() },
        data: { text: this.string() },
      }),
      () => ({ type: 'like', data: { count: this.json() } }),
      () => ({ type: 'host', deliverAt: this.string() }),
      () => ({ id: this.string(), settings: { customTypes: this.json() } }),
      () => ({ rooms: [this.string()], message: { type: 'host' } }),
      () => ({ all: this.json(), message: this.json() }),
      () => ({ url: this.string(), events: [this.string()] }),
      () => ({ room: 'fz-a', user: this.string(), ttlSeconds: this.json() }),
      () => ({ durationSeconds: this.json(), reason: this.string() }),
      () => ({ settings: { lossyItemsPerSecond: this.json() } }),
    ])();
  }

  path(): string {
    const segment = () =>
      this.pick([
        'fz-a',
        'fz-b',
        'nope',
        '123',
        '99999999999999999999999',
        encodeURIComponent(this.string()),
        '%',
        '..',
      ]);
    const path = this.pick([
      () => '/v1/rooms',
      () => `/v1/rooms/${segment()}`,
      () => `/v1/rooms/${segment()}/messages`,
      () => `/v1/rooms/${segment()}/members`,
      () => `/v1/rooms/${segment()}/members/${segment()}`,
      () =>
        `/v1/rooms/${segment()}/members/${segment()}/${this.pick(['kick', 'ban', 'mute', 'x'])}`,
      () =>
        `/v1/rooms/${segment()}/${this.pick(['bans', 'mutes'])}/${segment()}`,
      () => `/v1/rooms/${segment()}/${this.pick(['bans', 'mutes'])}`,
      () => '/v1/broadcasts',
      () => `/v1/broadcasts/${segment()}`,
      () => '/v1/tokens',
      () => '/v1/keys',
      () => `/v1/keys/${segment()}`,
      () => '/v1/webhooks',
      () => `/v1/webhooks/${segment()}`,
      () => `/v1/webhooks/${segment()}/deliveries`,
      () => '/v1/openapi.json',
      () => `/${segment()}`,
      () => '/v1//rooms',
    ])();
    if (!this.chance(0.3)) {
      return path;
    }

    const params = ['cursor', 'limit', 'prefix', 'minViewers', 'x', 'limit'];
    const query = Array.from(
      { length: 1 + this.int(3) },
      () => `${this.pick(params)}=${encodeURIComponent(this.string())}`,
    ).join('&');
    return `${path}?${this.chance(0.1) ? '%%' : query}`;
  }

  request(): FuzzRequest {
    const method = this.pick([
      'GET',
      'POST',
      'POST',
      'PATCH',
      'DELETE',
      'PUT',
      'HEAD',
      'OPTIONS',
    ]);
    const headers: Record<string, string> = {};
    const auth = this.int(10);
    if (auth < 7) {
      headers['authorization'] =
        `Bearer ${this.pick([TEST_KEYS.t1, TEST_KEYS.t2])}`;
    } else if (auth < 9) {
      headers['authorization'] = this.pick([
        'Bearer ',
        'Basic abc',
        `Bearer ${'k'.repeat(5000)}`,
        'bearer t1_key_0123456789abcdef',
      ]);
    }

    const body = this.body();
    if (body !== undefined || this.chance(0.2)) {
      headers['content-type'] = this.pick([
        'application/json',
        'application/json',
        'application/json; charset=utf-8',
        'application/json; charset=utf-16',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/octet-stream',
        '',
        'application/json;;;',
      ]);
    }

    if (this.chance(0.2)) {
      headers['idempotency-key'] = this.pick([
        'k1',
        'same-key',
        'x'.repeat(200),
        'has space',
      ]);
    }

    if (body !== undefined) {
      headers['content-length'] = String(body.length);
    }

    return { method, path: this.path(), headers, body };
  }
}

interface Answer {
  status: number;
  text: string;
}

function send(port: number, fuzz: FuzzRequest): Promise<Answer> {
  return rawRequest(
    {
      host: '127.0.0.1',
      port,
      method: fuzz.method,
      path: fuzz.path,
      headers: fuzz.headers,
      agent,
    },
    fuzz.body,
  );
}

/** Undefined when the answer is one the API documents. */
function problem(fuzz: FuzzRequest, answer: Answer): string | undefined {
  if (answer.status >= 200 && answer.status < 300) {
    return undefined;
  }

  if (answer.status >= 500 || answer.status < 400) {
    return `status ${answer.status}`;
  }

  if (fuzz.method === 'HEAD') {
    return undefined;
  }

  let code: unknown;
  try {
    const body = JSON.parse(answer.text) as {
      error?: { code?: unknown; message?: unknown };
    };
    code = body.error?.code;
    if (typeof body.error?.message !== 'string') {
      return 'an error without a message';
    }
  } catch {
    return `a ${answer.status} that is not JSON`;
  }

  if (typeof code !== 'string' || !(code in API_ERRORS)) {
    return `undocumented code ${String(code)}`;
  }

  const documented = API_ERRORS[code as keyof typeof API_ERRORS];
  return documented === answer.status
    ? undefined
    : `code ${code} answered ${answer.status}, documented ${documented}`;
}

test('admin api fuzz - thousands of random and malformed requests get only documented 4xx answers', async () => {
  const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 1_000_000);
  const generator = new Generator(seed);
  const port = Number(new URL(server.adminUrl).port);
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  let sent = 0;
  const worker = async () => {
    while (sent < REQUESTS) {
      sent += 1;
      const fuzz = generator.request();
      const answer = await send(port, fuzz).catch((error: unknown) => {
        throw new Error(
          `${fuzz.method} ${fuzz.path} ${JSON.stringify(fuzz.headers)} ${fuzz.body?.subarray(0, 100).toString() ?? ''}`,
          { cause: error },
        );
      });
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      const found = problem(fuzz, answer);
      if (found !== undefined && failures.length < 3) {
        failures.push(
          `${found}: ${fuzz.method} ${fuzz.path} ${JSON.stringify(fuzz.headers)} ` +
            `${fuzz.body?.subarray(0, 100).toString() ?? ''} -> ${answer.text.slice(0, 300)}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));

  assert.deepEqual(failures, [], `FUZZ_SEED=${seed}`);
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  assert.equal(total, REQUESTS);
  const errorAnswers = [...statuses]
    .filter(([status]) => status >= 400)
    .reduce((sum, [, count]) => sum + count, 0);
  assert.ok(
    errorAnswers > REQUESTS / 2,
    `most fuzz is refused: ${JSON.stringify([...statuses])}`,
  );

  const health = await fetch(`${server.adminUrl}/healthz`);
  assert.equal(health.status, 200, 'still healthy');
  // The fuzz may have closed fz-a and fz-b with a well-formed DELETE.
  const created = await server.api('POST', '/v1/rooms', { id: 'fz-after' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const published = await server.api('POST', '/v1/rooms/fz-after/messages', {
    type: 'host',
    data: { text: 'still works' },
  });
  assert.equal(published.status, 202, JSON.stringify(published.body));
});
