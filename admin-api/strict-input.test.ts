import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  errorCode,
  rawRequest,
  startTestServer,
  type TestServer,
} from '../test/harness.js';

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.close();
});

async function createRoom(id: string): Promise<void> {
  const created = await server.api('POST', '/v1/rooms', { id });
  assert.equal(created.status, 201);
}

test('strict input - a cursor the API did not give is 400 on every list', async () => {
  await createRoom('cursor-room');
  for (const path of [
    '/v1/rooms?cursor=%25%25%25',
    '/v1/rooms/cursor-room/members?cursor=%25%25%25',
    '/v1/rooms/cursor-room/members?cursor=not-base64-',
  ]) {
    const answer = await server.api('GET', path);
    assert.equal(answer.status, 400, path);
    assert.equal(errorCode(answer.body), 'invalid_request', path);
  }

  const first = await server.api('GET', '/v1/rooms/cursor-room/members');
  assert.equal(first.status, 200);
  const valid = await server.api(
    'GET',
    `/v1/rooms/cursor-room/members?cursor=${Buffer.from('u1').toString('base64url')}`,
  );
  assert.equal(valid.status, 200);
});

test('strict input - headers past the size limit get 431 header_too_large in the API shape', async () => {
  const url = new URL('/v1/rooms', server.adminUrl);
  const answer = await rawRequest({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    headers: { authorization: `Bearer ${'k'.repeat(20_000)}` },
  });
  assert.equal(answer.status, 431);
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  assert.equal(errorCode(body), 'header_too_large');
});
