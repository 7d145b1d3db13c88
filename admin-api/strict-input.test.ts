import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  errorCode,
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
