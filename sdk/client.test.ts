import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { ViewerTokens } from '../tokens/index.js';
import {
  connect,
  type BatchItem,
  type ClosedEvent,
  type ConnectOptions,
  type GiftItem,
  type HostItem,
  type ReliableItem,
  type RoomcastClient,
} from './index.js';
import {
  DropProxy,
  TEST_JWT_SECRET,
  TEST_TENANT,
  TestRoomcast,
  nextEvent,
} from './test-fixture.js';

let server: TestRoomcast;
const clients: RoomcastClient[] = [];

before(async () => {
  server = await TestRoomcast.start();
});

after(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server.close();
});

function open(options: Omit<ConnectOptions, 'WebSocket'>): RoomcastClient {
  const client = connect({ ...options, WebSocket });
  clients.push(client);
  return client;
}

/** A random source that replays `values` in a loop and records each draw. */
function scriptedRandom(values: number[]): {
  random: () => number;
  drawn: number[];
} {
  const drawn: number[] = [];
  return {
    drawn,
    random: () => {
      const value = values[drawn.length % values.length] ?? 0;
      drawn.push(value);
      return value;
    },
  };
}

/** Collects reliable items and resolves once `count` have arrived. */
function collectReliable(client: RoomcastClient): {
  items: ReliableItem[];
  until(count: number): Promise<void>;
} {
  const items: ReliableItem[] = [];
  let waiter: { count: number; resolve: () => void } | undefined;
  client.on('item', (item) => {
    if ('seq' in item && typeof item.seq === 'number') {
      items.push(item as ReliableItem);
      if (waiter !== undefined && items.length >= waiter.count) {
        waiter.resolve();
        waiter = undefined;
      }
    }
  });
  return {
    items,
    until(count) {
      if (items.length >= count) {
        return Promise.resolve();
      }

      return new Promise((resolve) => {
        waiter = { count, resolve };
      });
    },
  };
}

test('client - every item type arrives as its typed event', async () => {
  await server.createRoom('typed');
  const client = open({
    url: server.wsUrl,
    token: await server.token('typed', 'ana', { name: 'Ana' }),
  });
  const opened = await nextEvent(client, 'open');
  assert.equal(opened.room, 'typed');
  assert.equal(opened.user, 'ana');
  assert.equal(opened.resuming, false);
  assert.ok(opened.limits.chatPerSecond > 0);

  const host = nextEvent(client, 'host');
  const gift = nextEvent(client, 'gift');
  const system = nextEvent(client, 'system');
  const chat = nextEvent(client, 'chat', (item) => item.text === 'hi all');
  const likes = nextEvent(client, 'likes');
  const joins = nextEvent(client, 'joins', (item) => item.names.includes('Bo'));
  const viewers = nextEvent(client, 'viewers', (item) => item.count >= 2);

  const other = open({
    url: server.wsUrl,
    token: await server.token('typed', 'bo', { name: 'Bo' }),
  });
  await nextEvent(other, 'open');
  await server.publish('typed', 'host', { text: 'welcome' });
  await server.publish(
    'typed',
    'gift',
    { gift: 'rose', value: 5 },
    {
      id: 'bo',
      name: 'Bo',
    },
  );
  await server.publish('typed', 'system', { text: 'slow mode on' });
  client.chat('hi all');
  client.like(3);

  const hostItem: HostItem = await host;
  assert.equal(hostItem.type, 'host');
  assert.deepEqual(hostItem.data, { text: 'welcome' });
  assert.equal(typeof hostItem.seq, 'number');
  assert.equal(typeof hostItem.id, 'string');
  const giftItem: GiftItem = await gift;
  assert.deepEqual(giftItem.data, { gift: 'rose', value: 5 });
  assert.equal(giftItem.from?.name, 'Bo');
  assert.equal(giftItem.seq, hostItem.seq + 1);
  assert.equal((await system).seq, hostItem.seq + 2);
  const chatItem = await chat;
  assert.equal(chatItem.from.id, 'ana');
  assert.equal(chatItem.from.name, 'Ana');
  const likesItem = await likes;
  assert.equal(likesItem.count, 3);
  assert.equal(likesItem.total, 3);
  assert.ok((await joins).count >= 1);
  assert.ok((await viewers).count >= 2);
  assert.equal(client.seq, hostItem.seq + 2);
  assert.equal(client.state, 'open');
});

test('client - a dropped connection reconnects with full jitter and resumes without loss or duplicates', async () => {
  await server.createRoom('drop');
  const proxy = new DropProxy(server.edgePort);
  await proxy.listen();
  const jitter = scriptedRandom([0.1, 0.3, 0.05]);
  const client = open({
    url: proxy.wsUrl,
    token: await server.token('drop', 'cy'),
    random: jitter.random,
    ackIntervalMs: 20,
  });
  const received = collectReliable(client);
  const closes: ClosedEvent[] = [];
  client.on('closed', (event) => closes.push(event));
  await nextEvent(client, 'open');

  await server.publish('drop', 'gift', { gift: 'rose' });
  await server.publish('drop', 'host', { text: 'one' });
  await received.until(2);

  proxy.blocked = true;
  const dropped = nextEvent(client, 'closed');
  const failedAgain = nextEvent(
    client,
    'closed',
    (event) => event.reason === 'connect_failed',
  );
  proxy.cut();
  assert.equal((await dropped).reason, 'connection_lost');
  for (let index = 0; index < 4; index++) {
    await server.publish('drop', 'gift', { gift: 'star', index });
  }

  await failedAgain;
  proxy.blocked = false;
  const resumed = await nextEvent(client, 'resumed');
  assert.equal(resumed.replayed, 4);
  assert.equal(resumed.seq, 6);
  await server.publish('drop', 'system', { text: 'after' });
  await received.until(7);

  assert.deepEqual(
    received.items.map((item) => item.seq),
    [1, 2, 3, 4, 5, 6, 7],
  );
  assert.equal(new Set(received.items.map((item) => item.id)).size, 7);
  // Full jitter: each delay is the drawn fraction of min(max, base * 2^n).
  assert.ok(closes.length >= 2);
  closes.forEach((event, index) => {
    assert.equal(event.willReconnect, true);
    assert.equal(
      event.reconnectInMs,
      Math.floor(
        (jitter.drawn[index] ?? 0) * Math.min(30_000, 500 * 2 ** index),
      ),
    );
  });
  await proxy.close();
});

test('client - a closed room closes the client for good', async () => {
  await server.createRoom('closing');
  const client = open({
    url: server.wsUrl,
    token: await server.token('closing', 'di'),
  });
  let attempts = 0;
  client.on('connecting', () => attempts++);
  await nextEvent(client, 'open');

  const response = await server.api('DELETE', '/rooms/closing');
  assert.equal(response.status, 204);
  const closed = await client.closed;
  assert.equal(closed.reason, 'room_closed');
  assert.equal(closed.code, 4004);
  assert.equal(closed.advice, 'never');
  assert.equal(closed.willReconnect, false);
  assert.equal(client.state, 'closed');
  assert.equal(attempts, 1);
  assert.throws(() => client.chat('anyone?'), { code: 'closed' });
});

test('client - an expired token calls the refresh hook, then connects', async () => {
  await server.createRoom('expiry');
  const pastTokens = new ViewerTokens(
    TEST_JWT_SECRET,
    () => Date.now() - 3_600_000,
  );
  const expired = await pastTokens.mint(
    {
      tenant: TEST_TENANT,
      room: 'expiry',
      user: 'ed',
      name: 'Ed',
      role: 'viewer',
      level: 0,
    },
    60,
  );
  const calls: string[] = [];
  const client = open({
    url: server.wsUrl,
    token: expired.token,
    refreshToken: async ({ reason, token }) => {
      assert.equal(token, expired.token);
      calls.push(reason);
      return server.token('expiry', 'ed');
    },
  });
  const opened = await nextEvent(client, 'open');
  assert.equal(opened.user, 'ed');
  assert.deepEqual(calls, ['expired']);
});

test('client - a token the edge refuses (401) calls the refresh hook', async () => {
  await server.createRoom('refused');
  const good = await server.token('refused', 'fay');
  const [header, payload] = good.split('.');
  const forged = `${header}.${payload}.${'A'.repeat(43)}`;
  const calls: string[] = [];
  const client = open({
    url: server.wsUrl,
    token: forged,
    random: () => 0,
    refreshToken: ({ reason }) => {
      calls.push(reason);
      return good;
    },
  });
  const closed = await nextEvent(client, 'closed');
  assert.equal(closed.reason, 'token_rejected');
  assert.equal(closed.advice, 'refresh-token');
  await nextEvent(client, 'open');
  assert.deepEqual(calls, ['rejected']);
});

test('client - without a refresh hook an expired token closes the client', async () => {
  await server.createRoom('no-hook');
  const pastTokens = new ViewerTokens(
    TEST_JWT_SECRET,
    () => Date.now() - 3_600_000,
  );
  const expired = await pastTokens.mint(
    {
      tenant: TEST_TENANT,
      room: 'no-hook',
      user: 'gus',
      name: 'Gus',
      role: 'viewer',
      level: 0,
    },
    60,
  );
  const client = open({ url: server.wsUrl, token: expired.token });
  const closed = await client.closed;
  assert.equal(closed.reason, 'token_expired');
  assert.equal(closed.willReconnect, false);
});

test('client - chat over the welcome limit throws rate_limited instead of sending', async () => {
  await server.createRoom('limits');
  const client = open({
    url: server.wsUrl,
    token: await server.token('limits', 'hal'),
  });
  const opened = await nextEvent(client, 'open');
  const serverErrors: string[] = [];
  client.on('error', (error) => serverErrors.push(error.code));
  const chats: string[] = [];
  client.on('chat', (item) => chats.push(item.text));
  const chatsSeen = nextEvent(
    client,
    'chat',
    () => chats.length === opened.limits.chatPerSecond,
  );

  let sent = 0;
  let refusal: unknown;
  for (let index = 0; index < 50 && refusal === undefined; index++) {
    try {
      client.chat(`message ${index}`);
      sent++;
    } catch (error) {
      refusal = error;
    }
  }

  assert.equal(sent, opened.limits.chatPerSecond);
  assert.ok(refusal instanceof Error);
  assert.equal((refusal as { code?: string }).code, 'rate_limited');
  assert.ok(((refusal as { retryAfterMs?: number }).retryAfterMs ?? 0) > 0);
  assert.throws(() => client.chat(' '), { code: 'invalid_argument' });
  assert.throws(() => client.chat('x'.repeat(501)), { code: 'text_too_long' });
  assert.throws(() => client.like(0), { code: 'invalid_argument' });

  // Likes merge: far more taps than like frames allowed, all of them counted.
  const likes = nextEvent(client, 'likes', (item) => item.total === 5_000);
  for (let index = 0; index < 50; index++) {
    client.like(100);
  }

  await likes;
  await chatsSeen;
  assert.deepEqual(chats, ['message 0', 'message 1']);
  assert.deepEqual(serverErrors, []);
});

test('client - a server restart loses history, so the client resets and goes on', async () => {
  const restartable = await TestRoomcast.start();
  const proxy = new DropProxy(restartable.edgePort);
  await proxy.listen();
  try {
    await restartable.createRoom('phoenix');
    const client = open({
      url: proxy.wsUrl,
      token: await restartable.token('phoenix', 'ivy'),
      random: () => 0.02,
    });
    const received = collectReliable(client);
    await nextEvent(client, 'open');
    await restartable.publish('phoenix', 'gift', { gift: 'rose' });
    await restartable.publish('phoenix', 'host', { text: 'before' });
    await received.until(2);

    const reset = nextEvent(client, 'reset');
    const goingAway = nextEvent(client, 'closed');
    await restartable.restart();
    proxy.targetPort = restartable.edgePort;
    assert.equal((await goingAway).reason, 'going_away');
    await restartable.createRoom('phoenix');
    assert.equal((await reset).seq, 0);
    assert.equal(client.seq, 0);

    await restartable.publish('phoenix', 'host', { text: 'after' });
    await received.until(3);
    const after: BatchItem | undefined = received.items[2];
    assert.deepEqual(after && 'data' in after ? after.data : undefined, {
      text: 'after',
    });
    assert.deepEqual(
      received.items.map((item) => item.seq),
      [1, 2, 1],
    );
    await client.close();
  } finally {
    await proxy.close();
    await restartable.close();
  }
});
