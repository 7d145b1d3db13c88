import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../harness/wait.js';
import {
  errorCode,
  RefusedError,
  TestViewer,
  encode,
  useTestServer,
} from '../test/harness.js';

const server = useTestServer();
const { viewers } = server;

async function connectUrl(room: string, user: string): Promise<string> {
  const token = await server.token(room, user, { name: user });
  return `${server.edgeUrl}?token=${token}`;
}

async function join(room: string, user: string): Promise<TestViewer> {
  const viewer = await TestViewer.connect(await connectUrl(room, user));
  viewers.push(viewer);
  return viewer;
}

async function memberCount(room: string): Promise<unknown> {
  const list = await server.api('GET', `/v1/rooms/${room}/members`);
  return list.body['count'];
}

async function mutedChatCount(): Promise<number> {
  const text = await (await fetch(`${server.adminUrl}/metrics`)).text();
  const line = /^roomcast_shard_muted_chat_total (\d+)/m.exec(text);
  return Number(line?.[1] ?? 0);
}

test('moderation - kick sends control kicked with the reason, closes 4005 and allows a rejoin', async () => {
  await server.createRoom('kick-room');
  const kim = await join('kick-room', 'kim');
  const bystander = await join('kick-room', 'bea');
  await waitUntil(
    async () => (await memberCount('kick-room')) === 2,
    10_000,
    'two members',
  );

  const kicked = await server.api(
    'POST',
    '/v1/rooms/kick-room/members/kim/kick',
    { reason: 'spamming links' },
  );
  assert.equal(kicked.status, 204, JSON.stringify(kicked.body));
  const closed = await kim.closed;
  assert.equal(closed.code, 4005);
  const controls = kim.frames.filter((frame) => frame.t === 'control');
  assert.deepEqual(
    controls.map((frame) => [frame['reason'], frame['message']]),
    [['kicked', 'spamming links']],
    'one control frame, before the close',
  );
  assert.equal(bystander.closeCode, undefined, 'only kim is kicked');

  const back = await join('kick-room', 'kim');
  assert.equal(back.closeCode, undefined, 'a kick does not block a rejoin');
  const missing = await server.api(
    'POST',
    '/v1/rooms/no-room/members/kim/kick',
    {},
  );
  assert.equal(missing.status, 404);
  assert.equal(errorCode(missing.body), 'room_not_found');
});

test('moderation - a ban closes 4006 and refuses the user at the upgrade until it ends', async () => {
  await server.createRoom('ban-room');
  const bo = await join('ban-room', 'bo');
  const banned = await server.api('POST', '/v1/rooms/ban-room/members/bo/ban', {
    reason: 'abuse',
    durationSeconds: 2,
  });
  assert.equal(banned.status, 200, JSON.stringify(banned.body));
  assert.equal(banned.body['user'], 'bo');
  assert.equal(banned.body['reason'], 'abuse');
  const untilMs = Date.parse(banned.body['until'] as string);
  assert.ok(
    untilMs > Date.now() && untilMs <= Date.now() + 2100,
    `until is about two seconds ahead: ${banned.body['until'] as string}`,
  );

  const closed = await bo.closed;
  assert.equal(closed.code, 4006);
  const control = bo.frames.find((frame) => frame.t === 'control');
  assert.equal(control?.['reason'], 'banned');

  const list = await server.api('GET', '/v1/rooms/ban-room/bans');
  assert.deepEqual(
    (list.body['bans'] as { user: string }[]).map((ban) => ban.user),
    ['bo'],
  );
  const url = await connectUrl('ban-room', 'bo');
  const refused = await TestViewer.connect(url).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(refused instanceof RefusedError, `refused: ${String(refused)}`);
  assert.equal(refused.status, 403);
  assert.equal(refused.code, 'banned');
  const other = await join('ban-room', 'bella');
  assert.equal(other.closeCode, undefined, 'other users still join');

  let rejoined: TestViewer | undefined;
  await waitUntil(
    async () => {
      rejoined = await TestViewer.connect(
        await connectUrl('ban-room', 'bo'),
      ).catch(() => undefined);
      return rejoined !== undefined;
    },
    10_000,
    'the ban to end',
    200,
  );
  assert.ok(Date.now() >= untilMs, 'admitted only once the ban ended');
  rejoined?.close();
});

test('moderation - a lifted ban admits the user again; lifting none is 404', async () => {
  await server.createRoom('lift-room');
  const banned = await server.api(
    'POST',
    '/v1/rooms/lift-room/members/lee/ban',
    {},
  );
  assert.equal(banned.status, 200);
  assert.equal(banned.body['until'], null, 'no duration: until lifted');
  const refused = await TestViewer.connect(
    await connectUrl('lift-room', 'lee'),
  ).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(refused instanceof RefusedError, 'refused while banned');
  const lifted = await server.api('DELETE', '/v1/rooms/lift-room/bans/lee');
  assert.equal(lifted.status, 204);
  await join('lift-room', 'lee');
  const again = await server.api('DELETE', '/v1/rooms/lift-room/bans/lee');
  assert.equal(again.status, 404);
  assert.equal(errorCode(again.body), 'member_not_found');
  const badDuration = await server.api(
    'POST',
    '/v1/rooms/lift-room/members/lee/ban',
    { durationSeconds: 0 },
  );
  assert.equal(badDuration.status, 400);
});

test('moderation - a muted user\u2019s chat gets error muted and is counted; unmute restores it', async () => {
  await server.createRoom('mute-room');
  const max = await join('mute-room', 'max');
  const listener = await join('mute-room', 'lia');
  await waitUntil(
    async () => (await memberCount('mute-room')) === 2,
    10_000,
    'two members',
  );
  const mutedBefore = await mutedChatCount();

  const muted = await server.api(
    'POST',
    '/v1/rooms/mute-room/members/max/mute',
    { reason: 'cool down' },
  );
  assert.equal(muted.status, 200, JSON.stringify(muted.body));
  await waitUntil(
    async () => {
      const member = await server.api('GET', '/v1/rooms/mute-room/members/max');
      return member.body['muted'] === true;
    },
    5000,
    'max to show as muted',
  );

  // The mute travels to the shard on the bus; chat until the shard answers.
  let sent = 0;
  await waitUntil(
    () => {
      max.send(encode({ t: 'chat', text: `muted ${++sent}` }));
      return max.frames.some(
        (frame) => frame.t === 'error' && frame['code'] === 'muted',
      );
    },
    10_000,
    'an error muted frame',
  );
  await waitUntil(
    async () => (await mutedChatCount()) > mutedBefore,
    5000,
    'the muted chat counter to rise',
  );
  const mutedErrors = () =>
    max.frames.filter(
      (frame) => frame.t === 'error' && frame['code'] === 'muted',
    ).length;
  // Let the answers to the chat sent while waiting arrive first.
  await waitUntil(
    async () => (await mutedChatCount()) - mutedBefore === mutedErrors(),
    5000,
    'every muted chat to be answered',
  );
  const errorsBefore = mutedErrors();
  const lateText = 'after the mute took effect';
  max.send(encode({ t: 'chat', text: lateText }));
  await max.waitUntil(() => mutedErrors() > errorsBefore);

  const unmuted = await server.api('DELETE', '/v1/rooms/mute-room/mutes/max');
  assert.equal(unmuted.status, 204);
  const freeText = 'free to talk again';
  await waitUntil(
    () => {
      max.send(encode({ t: 'chat', text: freeText }));
      return listener
        .items()
        .some((item) => item['type'] === 'chat' && item['text'] === freeText);
    },
    10_000,
    'chat from max after the unmute',
    200,
  );
  assert.ok(
    !listener
      .items()
      .some((item) => item['type'] === 'chat' && item['text'] === lateText),
    'chat sent while muted never reached the room',
  );
  const member = await server.api('GET', '/v1/rooms/mute-room/members/max');
  assert.equal(member.body['muted'], false);
  const again = await server.api('DELETE', '/v1/rooms/mute-room/mutes/max');
  assert.equal(again.status, 404);
});
