import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  errorCode,
  rawRequest,
  TEST_KEYS,
  useTestServer,
} from '../test/harness.js';

const server = useTestServer();

const JSON_TYPE = { 'content-type': 'application/json' };

test('strict input - an empty JSON body is no body on routes that take none', async () => {
  await server.createRoom('empty-delete');
  const banned = await server.api(
    'POST',
    '/v1/rooms/empty-delete/members/lee/ban',
    {},
  );
  assert.equal(banned.status, 200);
  const lifted = await server.api(
    'DELETE',
    '/v1/rooms/empty-delete/bans/lee',
    '',
    { headers: JSON_TYPE },
  );
  assert.equal(lifted.status, 204);
  const closed = await server.api('DELETE', '/v1/rooms/empty-delete', '', {
    headers: JSON_TYPE,
  });
  assert.equal(closed.status, 204);
});

test('strict input - an empty JSON body where one is needed is invalid_request', async () => {
  await server.createRoom('empty-post');
  for (const path of ['/v1/rooms', '/v1/rooms/empty-post/messages']) {
    const answer = await server.api('POST', path, '', { headers: JSON_TYPE });
    assert.equal(answer.status, 400, path);
    assert.equal(errorCode(answer.body), 'invalid_request', path);
  }
});

test('strict input - a cursor the API did not give is 400 on every list', async () => {
  await server.createRoom('cursor-room');
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

test('strict input - a charset other than UTF-8 is 415', async () => {
  for (const charset of ['utf-16', 'latin1', '"iso-8859-1"']) {
    const answer = await server.api('POST', '/v1/rooms', '{}', {
      headers: { 'content-type': `application/json; charset=${charset}` },
    });
    assert.equal(answer.status, 415, charset);
    assert.equal(errorCode(answer.body), 'unsupported_media_type', charset);
  }

  const utf8 = await server.api('POST', '/v1/rooms', '{"id":"utf8-room"}', {
    headers: { 'content-type': 'application/json; charset=UTF-8' },
  });
  assert.equal(utf8.status, 201);
});

test('strict input - a number JSON.parse makes infinite is 400 with its path', async () => {
  await server.createRoom('huge-room');
  for (const text of [
    '{"type":"host","data":{"n":1e400}}',
    `{"type":"host","data":{"list":[1,-${'9'.repeat(400)}]}}`,
  ]) {
    const answer = await server.api(
      'POST',
      '/v1/rooms/huge-room/messages',
      text,
    );
    assert.equal(answer.status, 400);
    assert.equal(errorCode(answer.body), 'invalid_request');
    const error = answer.body['error'] as { details: { path: string }[] };
    assert.match(error.details[0]?.path ?? '', /^\$\.data\./);
  }

  const small = await server.api(
    'POST',
    '/v1/rooms/huge-room/messages',
    '{"type":"host","data":{"n":1e300,"m":1e-400}}',
  );
  assert.equal(small.status, 202);
});

test('strict input - a deliverAt that names no real date is invalid_request', async () => {
  await server.createRoom('date-room');
  for (const deliverAt of [
    '2026-02-30T10:00:00Z',
    '2027-02-29T10:00:00Z',
    '2026-04-31T10:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T10:60:00Z',
  ]) {
    const answer = await server.api('POST', '/v1/rooms/date-room/messages', {
      type: 'host',
      data: {},
      deliverAt,
    });
    assert.equal(answer.status, 400, deliverAt);
    assert.equal(errorCode(answer.body), 'invalid_request', deliverAt);
  }
});

test('strict input - a webhook URL is taken only as the URL parser writes it', async () => {
  for (const url of [
    'http://[::1]:23001/x y',
    'http://127.0.0.1:1/x\ty',
    'http://Example.com/x',
    'http://127.0.0.1:1',
  ]) {
    const answer = await server.api('POST', '/v1/webhooks', {
      url,
      events: ['room.created'],
    });
    assert.equal(answer.status, 400, url);
    assert.equal(errorCode(answer.body), 'invalid_request', url);
  }

  const created = await server.api(
    'POST',
    '/v1/webhooks',
    { url: 'http://[::1]:23001/x%20y', events: ['room.created'] },
    { key: TEST_KEYS.t2 },
  );
  assert.equal(created.status, 201);
});
