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

async function join(room: string, user: string): Promise<TestViewer> {
  const token = await server.token(room, user, { name: user.toUpperCase() });
  const viewer = await TestViewer.connect(`${server.edgeUrl}?token=${token}`);
  viewers.push(viewer);
  return viewer;
}

function ids(body: Record<string, unknown>): string[] {
  return (body['rooms'] as { id: string }[]).map((room) => room.id);
}

test('rooms - list pages in id order with a cursor and filters by prefix', async () => {
  for (const id of ['pg-c', 'pg-a', 'pg-e', 'pg-b', 'pg-d', 'other-1']) {
    await server.createRoom(id);
  }

  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string =
      cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await server.api(
      'GET',
      `/v1/rooms?prefix=pg-&limit=2${query}`,
    );
    assert.equal(page.status, 200, JSON.stringify(page.body));
    const pageIds = ids(page.body);
    assert.ok(pageIds.length <= 2, `a page holds at most 2: ${pageIds}`);
    seen.push(...pageIds);
    cursor = page.body['nextCursor'] as string | null;
    pages += 1;
  } while (cursor !== null && pages < 10);
  assert.deepEqual(seen, ['pg-a', 'pg-b', 'pg-c', 'pg-d', 'pg-e']);
  assert.equal(pages, 3);

  const all = await server.api('GET', '/v1/rooms?limit=500');
  assert.ok(ids(all.body).includes('other-1'), 'no prefix lists every room');
  assert.equal(all.body['nextCursor'], null);
});

test('rooms - list filters by minViewers once a viewer is counted', async () => {
  await server.createRoom('watched');
  await server.createRoom('empty-room');
  await join('watched', 'w1');
  await waitUntil(
    async () => {
      const page = await server.api('GET', '/v1/rooms?minViewers=1');
      return ids(page.body).includes('watched');
    },
    10_000,
    'the watched room to be listed with minViewers=1',
  );
  const page = await server.api('GET', '/v1/rooms?minViewers=1&limit=500');
  assert.ok(
    !ids(page.body).includes('empty-room'),
    'a room without viewers is filtered out',
  );
});

test('rooms - list refuses a forged cursor and unknown or bad query fields', async () => {
  for (const query of [
    'cursor=%21%21%21',
    'limit=0',
    'limit=501',
    'limit=abc',
    'colour=red',
    'minViewers=-1',
  ]) {
    const result = await server.api('GET', `/v1/rooms?${query}`);
    assert.equal(
      result.status,
      400,
      `${query}: ${JSON.stringify(result.body)}`,
    );
    assert.equal(errorCode(result.body), 'invalid_request', query);
  }
});

test('rooms - PATCH merges settings, adds a custom type and sets idle close', async () => {
  await server.createRoom('patched', { settings: { lossyItemsPerSecond: 50 } });
  const before = await server.api('POST', '/v1/rooms/patched/messages', {
    type: 'poll',
    data: { q: 'yes?' },
  });
  assert.equal(before.status, 422);
  assert.equal(errorCode(before.body), 'unknown_message_type');

  const patched = await server.api('PATCH', '/v1/rooms/patched', {
    settings: {
      customTypes: { poll: { class: 'reliable', priority: 5 } },
      joinsIntervalMs: 2000,
    },
    idleCloseSeconds: 600,
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.deepEqual(patched.body['settings'], {
    lossyItemsPerSecond: 50,
    customTypes: { poll: { class: 'reliable', priority: 5 } },
    joinsIntervalMs: 2000,
  });
  assert.equal(patched.body['idleCloseSeconds'], 600);
  const fetched = await server.api('GET', '/v1/rooms/patched');
  assert.deepEqual(fetched.body['settings'], patched.body['settings']);

  const after = await server.api('POST', '/v1/rooms/patched/messages', {
    type: 'poll',
    data: { q: 'yes?' },
  });
  assert.equal(after.status, 202, JSON.stringify(after.body));
  assert.equal(after.body['seq'], 1, 'a reliable custom type gets a seq');

  const cleared = await server.api('PATCH', '/v1/rooms/patched', {
    idleCloseSeconds: null,
  });
  assert.equal(cleared.status, 200);
  assert.equal(cleared.body['idleCloseSeconds'], undefined);
});

test('rooms - PATCH refuses bad settings, an empty body and unknown rooms', async () => {
  await server.createRoom('patch-errs');
  const cases: [string, string, unknown, number, string][] = [
    ['empty body', 'patch-errs', {}, 400, 'invalid_request'],
    ['unknown field', 'patch-errs', { colour: 1 }, 400, 'invalid_request'],
    [
      'budget out of range',
      'patch-errs',
      { settings: { lossyItemsPerSecond: 0 } },
      400,
      'invalid_request',
    ],
    [
      'joins interval under 100 ms',
      'patch-errs',
      { settings: { joinsIntervalMs: 50 } },
      400,
      'invalid_request',
    ],
    [
      'built-in name as custom type',
      'patch-errs',
      { settings: { customTypes: { chat: { class: 'lossy', priority: 1 } } } },
      422,
      'invalid_settings',
    ],
    [
      'unknown room',
      'no-such-room',
      { idleCloseSeconds: 60 },
      404,
      'room_not_found',
    ],
  ];
  for (const [name, room, body, status, code] of cases) {
    const result = await server.api('PATCH', `/v1/rooms/${room}`, body);
    assert.equal(
      result.status,
      status,
      `${name}: ${JSON.stringify(result.body)}`,
    );
    assert.equal(errorCode(result.body), code, name);
  }
});

test('rooms - DELETE closes a room, tells its viewers, and 404s after', async () => {
  await server.createRoom('closing');
  const viewer = await join('closing', 'c1');
  const closed = await server.api('DELETE', '/v1/rooms/closing');
  assert.equal(closed.status, 204);
  await viewer.waitFor(
    (frame) => frame.t === 'control' && frame['reason'] === 'room_closed',
  );
  const gone = await server.api('GET', '/v1/rooms/closing');
  assert.equal(gone.status, 404);
  const again = await server.api('DELETE', '/v1/rooms/closing');
  assert.equal(again.status, 404);
  assert.equal(errorCode(again.body), 'room_not_found');
});

test('members - count, paged list and one member, with 404 for strangers', async () => {
  await server.createRoom('crowd');
  await join('crowd', 'amy');
  await join('crowd', 'bob');
  await join('crowd', 'bob');
  await join('crowd', 'cal');
  await waitUntil(
    async () => {
      const list = await server.api('GET', '/v1/rooms/crowd/members');
      return list.body['count'] === 3;
    },
    10_000,
    'three members',
  );

  const first = await server.api('GET', '/v1/rooms/crowd/members?limit=2');
  assert.equal(first.status, 200);
  assert.equal(first.body['count'], 3);
  const firstPage = first.body['members'] as { id: string }[];
  assert.deepEqual(
    firstPage.map((member) => member.id),
    ['amy', 'bob'],
  );
  const cursor = first.body['nextCursor'];
  assert.equal(typeof cursor, 'string', 'a full page has a next cursor');
  const second = await server.api(
    'GET',
    `/v1/rooms/crowd/members?limit=2&cursor=${cursor as string}`,
  );
  assert.deepEqual(
    (second.body['members'] as { id: string }[]).map((member) => member.id),
    ['cal'],
  );
  assert.equal(second.body['nextCursor'], null);

  const bob = await server.api('GET', '/v1/rooms/crowd/members/bob');
  assert.equal(bob.status, 200);
  assert.deepEqual(bob.body, {
    id: 'bob',
    name: 'BOB',
    role: 'viewer',
    connections: 1,
    muted: false,
  });

  const stranger = await server.api('GET', '/v1/rooms/crowd/members/zed');
  assert.equal(stranger.status, 404);
  assert.equal(errorCode(stranger.body), 'member_not_found');
  const noRoom = await server.api('GET', '/v1/rooms/nowhere/members');
  assert.equal(noRoom.status, 404);
  assert.equal(errorCode(noRoom.body), 'room_not_found');
  const stats = await server.api('GET', '/v1/rooms/crowd');
  assert.equal(
    (stats.body['stats'] as { members?: unknown } | undefined)?.members,
    3,
  );
});

test('members - another tenant cannot see a room\u2019s members', async () => {
  await server.createRoom('tenant-one');
  const other = await server.api(
    'GET',
    '/v1/rooms/tenant-one/members',
    undefined,
    { key: TEST_KEYS.t2 },
  );
  assert.equal(other.status, 404);
  assert.equal(errorCode(other.body), 'room_not_found');
});
