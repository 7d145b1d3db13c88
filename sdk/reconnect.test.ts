import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Packr, Unpackr } from 'msgpackr';
import WebSocket, { WebSocketServer } from 'ws';
import {
  CloseCodes,
  MAX_CHAT_TEXT_LENGTH,
  MAX_LIKES_PER_FRAME,
} from '../protocol/index.js';
import type { ServerFrame } from '../protocol/index.js';
import {
  CHAT_TEXT_MAX_LENGTH,
  LIKES_PER_FRAME_MAX,
  connect,
  type ReliableItem,
  type RoomcastClient,
} from './index.js';
import { backoffDelayMs, closeVerdict } from './reconnect.js';
import { ReliableOrder } from './reliable-order.js';
import { nextEvent } from './test-fixture.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

test('reconnect - close codes map to the advice in the protocol table', () => {
  for (const entry of Object.values(CloseCodes)) {
    assert.deepEqual(closeVerdict(entry.code, true), {
      reason: entry.name,
      advice: entry.advice,
    });
  }

  assert.equal(closeVerdict(4005, true).advice, 'never');
  assert.deepEqual(closeVerdict(1006, true), {
    reason: 'connection_lost',
    advice: 'resume',
  });
  assert.deepEqual(closeVerdict(1006, false, 401), {
    reason: 'token_rejected',
    advice: 'refresh-token',
  });
  assert.equal(closeVerdict(1006, false, 403).advice, 'never');
  assert.equal(closeVerdict(1006, false, 404).advice, 'backoff');
  assert.equal(closeVerdict(1006, false).advice, 'backoff');
});

test('sdk - its own limits agree with the protocol codec', () => {
  assert.equal(CHAT_TEXT_MAX_LENGTH, MAX_CHAT_TEXT_LENGTH);
  assert.equal(LIKES_PER_FRAME_MAX, MAX_LIKES_PER_FRAME);
});

test('reconnect - full jitter stays under the doubling cap', () => {
  const backoff = { baseMs: 500, maxMs: 30_000 };
  assert.equal(backoffDelayMs(backoff, 0, 0.999), 499);
  assert.equal(backoffDelayMs(backoff, 3, 0.5), 2000);
  assert.equal(backoffDelayMs(backoff, 12, 0.5), 15_000);
  assert.equal(backoffDelayMs(backoff, 1000, 0.999), 29_970);
  assert.equal(backoffDelayMs(backoff, 5, 0), 0);
});

function reliable(seq: number, extra: Partial<ReliableItem> = {}) {
  return { type: 'gift', id: `id-${seq}`, seq, ts: 0, ...extra };
}

test('reliable order - drops repeats, holds early items, honours merged seqs', () => {
  const order = new ReliableOrder();
  order.start(2);
  assert.deepEqual(order.offer(reliable(1)), []);
  assert.deepEqual(order.offer(reliable(2)), []);
  assert.deepEqual(
    order.offer(reliable(3, { seqs: [3, 4, 5] })).map((i) => i.seq),
    [3],
  );
  assert.equal(order.seq, 5);
  assert.deepEqual(order.offer(reliable(4)), []);
  assert.deepEqual(order.offer(reliable(8)), []);
  assert.deepEqual(order.offer(reliable(7)), []);
  assert.equal(order.waiting, true);
  assert.deepEqual(
    order.offer(reliable(6)).map((i) => i.seq),
    [6, 7, 8],
  );
  assert.equal(order.waiting, false);
  assert.deepEqual(order.offer(reliable(9, { id: 'id-8' })), []);
  assert.equal(order.seq, 9);

  // The server says 10 will not come: what waits is released in order.
  order.offer(reliable(12));
  order.offer(reliable(11));
  assert.deepEqual(
    order.skipTo(10).map((i) => i.seq),
    [11, 12],
  );

  // A reload restarts the sequence, even backwards.
  assert.deepEqual(order.skipTo(0, true), []);
  assert.deepEqual(
    order.offer(reliable(1, { id: 'fresh-1' })).map((i) => i.id),
    ['fresh-1'],
  );
});

/** A hand-rolled edge: tests script what each connection gets. */
class FakeEdge {
  readonly server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  readonly urls: URL[] = [];
  readonly received: Record<string, unknown>[][] = [];
  onConnection: (ws: WebSocket, index: number) => void = () => undefined;
  #waiters = new Set<() => boolean>();

  constructor() {
    this.server.on('connection', (ws, request) => {
      const index = this.urls.length;
      this.urls.push(new URL(request.url ?? '/', 'ws://x'));
      this.received.push([]);
      ws.on('message', (data) => {
        this.received[index]?.push(
          unpackr.unpack(data as Buffer) as Record<string, unknown>,
        );
        for (const waiter of this.#waiters) {
          if (waiter()) {
            this.#waiters.delete(waiter);
          }
        }
      });
      this.onConnection(ws, index);
    });
  }

  /** Resolves once connection `index` has sent a frame matching `match`. */
  frame(
    index: number,
    match: (frame: Record<string, unknown>) => boolean,
  ): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        const found = (this.received[index] ?? []).some(match);
        if (found) {
          resolve();
        }

        return found;
      };
      if (!check()) {
        this.#waiters.add(check);
      }
    });
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `ws://127.0.0.1:${port}/ws`;
  }

  async listening(): Promise<void> {
    await once(this.server, 'listening');
  }

  close(): Promise<void> {
    for (const client of this.server.clients) {
      client.terminate();
    }

    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function send(ws: WebSocket, frame: ServerFrame): void {
  ws.send(packr.pack(frame));
}

function welcome(seq: number): ServerFrame {
  return {
    t: 'welcome',
    room: 'r',
    user: 'u',
    viewers: 1,
    seq,
    idleTimeoutMs: 60_000,
    limits: { chatPerSecond: 2, likesPerSecond: 20, maxFrameBytes: 4096 },
    backoff: { baseMs: 500, maxMs: 30_000 },
  };
}

let edge: FakeEdge;
const clients: RoomcastClient[] = [];

before(async () => {
  edge = new FakeEdge();
  await edge.listening();
});

after(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await edge.close();
});

function client(
  options: Partial<Parameters<typeof connect>[0]> = {},
): RoomcastClient {
  const created = connect({
    url: edge.url,
    token: 'token-1',
    WebSocket,
    random: () => 0,
    ...options,
  });
  clients.push(created);
  return created;
}

test('reconnect - kicked (4005) closes for good, with no second attempt', async () => {
  const first = edge.urls.length;
  edge.onConnection = (ws) => {
    send(ws, welcome(0));
    send(ws, { t: 'control', reason: 'kicked', message: 'bye' });
    ws.close(CloseCodes.kicked.code, CloseCodes.kicked.name);
  };
  const kicked = client();
  const closed = await kicked.closed;
  assert.equal(closed.reason, 'kicked');
  assert.equal(closed.message, 'bye');
  assert.equal(closed.willReconnect, false);
  assert.equal(edge.urls.length - first, 1);
});

test('reconnect - any close with advice never is final, even without a control frame', async () => {
  const first = edge.urls.length;
  edge.onConnection = (ws) => {
    send(ws, welcome(0));
    ws.close(CloseCodes.banned.code, CloseCodes.banned.name);
  };
  const closed = await client().closed;
  assert.equal(closed.reason, 'banned');
  assert.equal(closed.advice, 'never');
  assert.equal(edge.urls.length - first, 1);
});

test('reconnect - token_expired (4003) calls the hook and resumes with the new token', async () => {
  const first = edge.urls.length;
  edge.onConnection = (ws, index) => {
    send(ws, welcome(4));
    if (index === first) {
      send(ws, { t: 'batch', room: 'r', items: [reliable(5)] });
      ws.close(CloseCodes.tokenExpired.code, CloseCodes.tokenExpired.name);
    } else {
      send(ws, { t: 'control', reason: 'resumed', seq: 5 });
    }
  };
  const reasons: string[] = [];
  const viewer = client({
    refreshToken: ({ reason }) => {
      reasons.push(reason);
      return 'token-2';
    },
  });
  await nextEvent(viewer, 'resumed');
  assert.deepEqual(reasons, ['expired']);
  const second = edge.urls[first + 1];
  assert.equal(second?.searchParams.get('token'), 'token-2');
  assert.equal(second?.searchParams.get('resume'), '5');
});

test('reconnect - a draining control moves the client within the advised window', async () => {
  const first = edge.urls.length;
  edge.onConnection = (ws, index) => {
    send(ws, welcome(0));
    if (index === first) {
      send(ws, {
        t: 'control',
        reason: 'draining',
        reconnect: { afterMs: 10_000 },
      });
    } else {
      send(ws, { t: 'control', reason: 'resumed', seq: 0 });
    }
  };
  const viewer = client({ random: () => 0.001 });
  const moved = await nextEvent(viewer, 'closed');
  assert.equal(moved.reason, 'reconnect_advised');
  assert.equal(moved.message, 'draining');
  assert.ok((moved.reconnectInMs ?? Infinity) <= 10);
  await nextEvent(viewer, 'resumed');
  assert.equal(edge.urls[first + 1]?.searchParams.get('resume'), '0');
});

test('reconnect - a gap asks the edge to resume, and acks are coalesced', async () => {
  const first = edge.urls.length;
  edge.onConnection = (ws) => {
    send(ws, welcome(0));
    send(ws, { t: 'batch', room: 'r', items: [reliable(1), reliable(3)] });
    ws.on('message', (data) => {
      const frame = unpackr.unpack(data as Buffer) as { t: string };
      if (frame.t === 'resume') {
        send(ws, { t: 'batch', room: 'r', items: [reliable(2), reliable(3)] });
        send(ws, { t: 'control', reason: 'resumed', seq: 3 });
        send(ws, { t: 'batch', room: 'r', items: [reliable(4)] });
      }
    });
  };
  const viewer = client({ ackIntervalMs: 50 });
  const seqs: number[] = [];
  viewer.on('gift', (item) => seqs.push(item.seq));
  await nextEvent(viewer, 'gift', (item) => item.seq === 4);
  assert.deepEqual(seqs, [1, 2, 3, 4]);
  await edge.frame(first, (frame) => frame['t'] === 'ack');
  const frames = edge.received[first] ?? [];
  assert.deepEqual(
    frames.filter((frame) => frame['t'] !== 'ping'),
    [
      { t: 'resume', seq: 1 },
      { t: 'ack', seq: 4 },
    ],
  );
});
