import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { ViewerTokens } from '../tokens/index.js';
import {
  RefusedError,
  TEST_KEYS,
  TEST_SECRET,
  TestViewer,
  startTestServer,
  type TestServer,
} from '../test/harness.js';

let server: TestServer;

before(async () => {
  server = await startTestServer();
  await server.api('POST', '/v1/rooms', { id: 'lobby' });
});

after(async () => {
  await server.close();
});

async function refusal(url: string, origin?: string): Promise<RefusedError> {
  const attempt = new TestViewer(url, origin);
  const error = await attempt.opened.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof RefusedError);
  return error;
}

test('edge - a token that expires on a live connection closes it with 4003', async () => {
  const tokens = new ViewerTokens(TEST_SECRET, () => Date.now() - 56_000);
  const { token } = await tokens.mint(
    {
      tenant: 't1',
      room: 'lobby',
      user: 'brief',
      name: 'Brief',
      role: 'viewer',
      level: 0,
    },
    60,
  );
  const viewer = await TestViewer.connect(`${server.edgeUrl}?token=${token}`);
  const { code, reason } = await viewer.closed;
  assert.equal(code, 4003);
  assert.equal(reason, 'token_expired');
});

test('edge - connects beyond the admission rate are refused with 503 and Retry-After', async () => {
  const limited = await startTestServer({ maxConnectsPerSecond: 5 });
  try {
    await limited.api('POST', '/v1/rooms', { id: 'r' });
    const token = await limited.token('r', 'u');
    const attempts = Array.from(
      { length: 30 },
      () => new TestViewer(`${limited.edgeUrl}?token=${token}`),
    );
    const outcomes = await Promise.all(
      attempts.map((viewer) =>
        viewer.opened.then(
          () => 'open',
          (error: unknown) => error,
        ),
      ),
    );
    const opened = outcomes.filter((outcome) => outcome === 'open').length;
    const refused = outcomes.filter(
      (outcome) => outcome instanceof RefusedError,
    );
    assert.ok(opened >= 5 && opened <= 7, `opened ${opened}`);
    assert.equal(opened + refused.length, 30);
    assert.ok(refused.every((error) => (error as RefusedError).status === 503));
    const sample = refused[0] as RefusedError;
    const retryAfter = Number(sample.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 10, `retry-after ${retryAfter}`);
    assert.equal(sample.code, 'overloaded');
    attempts.forEach((viewer) => viewer.close());
  } finally {
    await limited.close();
  }
});

test('edge - an Origin outside the allowlist is refused with 403; a listed one and none (an app, not a browser) get in', async () => {
  const strict = await startTestServer({
    allowedOrigins: 'https://app.example',
  });
  try {
    await strict.api('POST', '/v1/rooms', { id: 'r' });
    const url = `${strict.edgeUrl}?token=${await strict.token('r', 'u')}`;
    for (const origin of ['https://evil.example', 'null']) {
      const error = await refusal(url, origin);
      assert.equal(error.status, 403, `Origin: ${origin}`);
      assert.match(error.body, /origin_not_allowed/);
    }

    for (const origin of ['https://app.example', undefined]) {
      const viewer = await TestViewer.connect(url, origin);
      viewer.close();
    }
  } finally {
    await strict.close();
  }
});

test('edge - drain sends each viewer a control frame, closes it with 4007 and refuses newcomers (case C6)', async () => {
  const draining = await startTestServer();
  await draining.api('POST', '/v1/rooms', { id: 'r' });
  const viewers = await Promise.all(
    Array.from({ length: 20 }, async (_, index) =>
      TestViewer.connect(
        `${draining.edgeUrl}?token=${await draining.token('r', `v${index}`)}`,
      ),
    ),
  );
  const token = await draining.token('r', 'late');
  const done = draining.running.drain(1500);
  const health = draining.edgeUrl
    .replace('ws://', 'http://')
    .replace('/ws', '/readyz');
  assert.equal((await fetch(health)).status, 503);
  // One process: its admin port says so too.
  assert.equal((await fetch(`${draining.adminUrl}/readyz`)).status, 503);
  assert.equal(
    (await refusal(`${draining.edgeUrl}?token=${token}`)).status,
    503,
  );
  const closes = await Promise.all(viewers.map((viewer) => viewer.closed));
  await done;
  for (const [index, viewer] of viewers.entries()) {
    assert.equal(closes[index]?.code, 4007);
    const last = viewer.frames.at(-1);
    assert.equal(last?.t, 'control');
    assert.equal(last?.['reason'], 'draining');
  }
});

/** `roomcast standalone` as its own process, on ports 0. */
function spawnStandalone(drainGraceSeconds: number) {
  return spawn(process.execPath, ['bin/roomcast.js'], {
    cwd: new URL('..', import.meta.url),
    env: {
      ...process.env,
      ROOMCAST_ADMIN_PORT: '0',
      ROOMCAST_EDGE_PORT: '0',
      ROOMCAST_HOST: '127.0.0.1',
      ROOMCAST_API_KEYS: `t1:${TEST_KEYS.t1}`,
      ROOMCAST_JWT_SECRET: TEST_SECRET,
      ROOMCAST_DRAIN_GRACE_SECONDS: String(drainGraceSeconds),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

test('edge - SIGTERM drains and the process exits 0', async () => {
  const child = spawnStandalone(2);
  const ports: Record<string, number> = {};
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg: string; port?: number };
    if (entry.msg === 'edge listening' || entry.msg === 'admin api listening') {
      ports[entry.msg] = entry.port ?? 0;
    }

    if (Object.keys(ports).length === 2) {
      break;
    }
  }

  const admin = `http://127.0.0.1:${ports['admin api listening']}`;
  const headers = {
    authorization: `Bearer ${TEST_KEYS.t1}`,
    'content-type': 'application/json',
  };
  await fetch(`${admin}/v1/rooms`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ id: 'r' }),
  });
  const minted = await fetch(`${admin}/v1/tokens`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ room: 'r', user: 'u' }),
  });
  const { token } = (await minted.json()) as { token: string };
  const viewer = await TestViewer.connect(
    `ws://127.0.0.1:${ports['edge listening']}/ws?token=${token}`,
  );
  child.kill('SIGTERM');
  const { code } = await viewer.closed;
  assert.equal(code, 4007);
  const [exitCode] = (await once(child, 'exit')) as [number];
  assert.equal(exitCode, 0);
});

test('edge - resume must be digits: other spellings of a number are refused with 400 bad_resume', async () => {
  const token = await server.token('lobby', 'resumer');
  for (const resume of [
    '',
    '-1',
    '1e3',
    '0x10',
    '+7',
    ' 7',
    '1.5',
    '99999999999999999',
  ]) {
    const refused = await refusal(
      `${server.edgeUrl}?token=${token}&resume=${encodeURIComponent(resume)}`,
    );
    assert.equal(refused.status, 400, `resume=${resume}`);
    assert.match(refused.body, /bad_resume/);
  }

  for (const resume of ['0', '00000000000000000000000000']) {
    const accepted = await TestViewer.connect(
      `${server.edgeUrl}?token=${token}&resume=${resume}`,
    );
    accepted.close();
  }
});

test("edge - a resume past the room's last seq is told to reload, saying why", async () => {
  await server.api('POST', '/v1/rooms/lobby/messages', {
    type: 'host',
    data: { n: 1 },
  });
  const token = await server.token('lobby', 'ahead');
  const viewer = await TestViewer.connect(
    `${server.edgeUrl}?token=${token}&resume=500`,
  );
  try {
    const control = await viewer.waitFor((frame) => frame.t === 'control');
    assert.equal(control['reason'], 'reload');
    assert.match(String(control['message']), /no seq 500/);
  } finally {
    viewer.close();
  }
});

test('edge - SIGTERM while the process is still starting up stops it cleanly, exit 0', async () => {
  const child = spawnStandalone(1);
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  // The first port logged: start-up has not returned yet.
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.includes('listening')) {
      child.kill('SIGTERM');
      break;
    }
  }

  child.stdout.resume();
  const [code, signal] = await exited;
  assert.deepEqual({ code, signal }, { code: 0, signal: null });
});
