import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LoadtestError } from './loadtest-error.js';
import { waitUntilReady } from './readiness.js';

/** A server whose /readyz answers 503 `notReadyFor` times, then 200. */
async function readyAfter(
  notReadyFor: number,
): Promise<{ server: Server; port: number; asked: () => number }> {
  let asked = 0;
  const server = createServer((request, response) => {
    if (request.url !== '/readyz') {
      response.writeHead(404).end();
      return;
    }

    asked += 1;
    response.writeHead(asked > notReadyFor ? 200 : 503).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, port, asked: () => asked };
}

test('readiness - waits until every port answers /readyz with 200', async () => {
  const slow = await readyAfter(3);
  const ready = await readyAfter(0);
  try {
    await waitUntilReady([slow.port, ready.port], 'service', {
      timeoutMs: 5000,
      intervalMs: 10,
    });
    assert.equal(slow.asked(), 4, 'three 503s, then the 200');
    assert.equal(ready.asked(), 1, 'a ready port is not asked again');
  } finally {
    slow.server.close();
    ready.server.close();
  }
});

test('readiness - names the ports still not ready at the deadline', async () => {
  const never = await readyAfter(Infinity);
  try {
    await assert.rejects(
      waitUntilReady([never.port], 'roomcast cluster', {
        timeoutMs: 100,
        intervalMs: 10,
      }),
      (error: unknown) =>
        error instanceof LoadtestError &&
        error.code === 'LOADTEST_SPAWN_FAILED' &&
        error.message.includes(`port ${never.port}`),
    );
  } finally {
    never.server.close();
  }
});

test('readiness - stops waiting when the service goes away', async () => {
  const never = await readyAfter(Infinity);
  const started = Date.now();
  try {
    await assert.rejects(
      waitUntilReady([never.port], 'roomcast standalone', {
        timeoutMs: 30_000,
        intervalMs: 10,
        stopped: () => 'exited with code 1',
      }),
      /roomcast standalone exited with code 1 before it was ready/,
    );
    assert.ok(Date.now() - started < 5000);
  } finally {
    never.server.close();
  }
});
