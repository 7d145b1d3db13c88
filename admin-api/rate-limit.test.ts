import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminClient } from '../loadtest/admin-client.js';
import { errorCode, TEST_KEYS, useTestServer } from '../test/harness.js';

// 5 requests a second per key, bursts of 10: small enough to pass quickly.
const PER_SECOND = 5;
const server = useTestServer({ adminRequestsPerSecond: PER_SECOND });

async function get(key: string): Promise<Response> {
  return fetch(`${server.adminUrl}/v1/rooms`, {
    headers: { authorization: `Bearer ${key}` },
  });
}

test('admin api - past ROOMCAST_ADMIN_REQUESTS_PER_SECOND a key gets 429 with Retry-After; other keys do not', async () => {
  const answers = await Promise.all(
    Array.from({ length: 4 * PER_SECOND }, () => get(TEST_KEYS.t1)),
  );
  const refused = answers.filter((answer) => answer.status === 429);
  // The burst (twice the rate) passes; the rest of the 20 is refused.
  assert.ok(refused.length >= 2 * PER_SECOND - 1, `${refused.length} refused`);
  assert.ok(answers.every((a) => a.status === 200 || a.status === 429));
  const first = refused[0] as Response;
  assert.ok(Number(first.headers.get('retry-after')) >= 1);
  assert.equal(
    errorCode((await first.json()) as Record<string, unknown>),
    'rate_limited',
  );
  assert.equal((await get(TEST_KEYS.t2)).status, 200);
});

test('loadtest - minting tokens waits out 429 answers as Retry-After says', async () => {
  await server.api('POST', '/v1/rooms', { id: 'mint' }, { key: TEST_KEYS.t2 });
  const client = new AdminClient({
    url: server.adminUrl,
    apiKey: TEST_KEYS.t2,
  });
  try {
    // Three times the burst: most mints are refused at first and retried.
    const tokens = await Promise.all(
      Array.from({ length: 6 * PER_SECOND }, (_, i) =>
        client.mintToken('mint', `u${i}`, `viewer ${i}`),
      ),
    );
    assert.equal(new Set(tokens).size, 6 * PER_SECOND);
  } finally {
    client.close();
  }
});
