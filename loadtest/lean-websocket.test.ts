import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  LeanWebSocket,
  type ConnectFailure,
  type LeanSocketHandler,
} from './lean-websocket.js';

/** Records what the client saw and lets a test wait for it. */
class Recorder implements LeanSocketHandler {
  readonly messages: Buffer[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly failed: Promise<{ failure: ConnectFailure; status: number }>;
  #onOpen!: () => void;
  #onClose!: (value: { code: number; reason: string }) => void;
  #onFailed!: (value: { failure: ConnectFailure; status: number }) => void;
  #waiting: { count: number; resolve: () => void } | null = null;

  constructor() {
    this.opened = new Promise((resolve) => (this.#onOpen = resolve));
    this.closed = new Promise((resolve) => (this.#onClose = resolve));
    this.failed = new Promise((resolve) => (this.#onFailed = resolve));
  }

  messagesArrived(count: number): Promise<void> {
    if (this.messages.length >= count) {
      return Promise.resolve();
    }

    return new Promise((resolve) => (this.#waiting = { count, resolve }));
  }

  onOpen(): void {
    this.#onOpen();
  }

  onMessage(payload: Buffer): void {
    this.messages.push(Buffer.from(payload));
    if (this.#waiting !== null && this.messages.length >= this.#waiting.count) {
      this.#waiting.resolve();
      this.#waiting = null;
    }
  }

  onConnectFailed(failure: ConnectFailure, _detail: string, status: number) {
    this.#onFailed({ failure, status });
  }

  onClose(code: number, reason: string): void {
    this.#onClose({ code, reason });
  }
}

let server: WebSocketServer;
let port: number;
const serverSockets: WebSocket[] = [];
let nextServerSocket: ((socket: WebSocket) => void) | null = null;

before(async () => {
  server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info, done) => {
      done(!(info.req.url ?? '').includes('refuse'), 401);
    },
  });
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  server.on('connection', (socket) => {
    serverSockets.push(socket);
    nextServerSocket?.(socket);
    nextServerSocket = null;
  });
});

after(() => {
  for (const socket of serverSockets) {
    socket.terminate();
  }

  server.close();
});

async function open(): Promise<{
  client: LeanWebSocket;
  recorder: Recorder;
  peer: WebSocket;
}> {
  const recorder = new Recorder();
  const client = new LeanWebSocket(recorder, 1024 * 1024);
  const peer = new Promise<WebSocket>((resolve) => {
    nextServerSocket = resolve;
  });
  client.connect({
    host: '127.0.0.1',
    port,
    path: '/ws?token=abc',
    connectTimeoutMs: 5000,
  });
  await recorder.opened;
  return { client, recorder, peer: await peer };
}

test('lean websocket - receives small, 64-bit-length and fragmented messages', async () => {
  const { client, recorder, peer } = await open();
  const large = Buffer.alloc(70_000, 7);
  peer.send(Buffer.from([1, 2, 3]));
  peer.send(large);
  peer.send(Buffer.from('frag'), { fin: false });
  peer.send(Buffer.from('mented'), { fin: true });
  await recorder.messagesArrived(3);
  assert.deepEqual(recorder.messages[0], Buffer.from([1, 2, 3]));
  assert.deepEqual(recorder.messages[1], large);
  assert.equal(recorder.messages[2]?.toString(), 'fragmented');
  client.destroy();
});

test('lean websocket - sends masked frames and answers ping with pong', async () => {
  const { client, peer } = await open();
  const received = once(peer, 'message');
  client.send(Buffer.from('hello from a viewer'));
  const [data] = (await received) as [Buffer];
  assert.equal(data.toString(), 'hello from a viewer');
  const pong = once(peer, 'pong');
  peer.ping(Buffer.from('are you there'));
  const [payload] = (await pong) as [Buffer];
  assert.equal(payload.toString(), 'are you there');
  client.destroy();
});

test('lean websocket - reports the server close code and reason', async () => {
  const { recorder, peer } = await open();
  const peerClosed = once(peer, 'close');
  peer.close(4004, 'room_closed');
  assert.deepEqual(await recorder.closed, {
    code: 4004,
    reason: 'room_closed',
  });
  const [code] = (await peerClosed) as [number];
  assert.equal(code, 4004);
});

test('lean websocket - closes with a handshake the server sees', async () => {
  const { client, recorder, peer } = await open();
  const peerClosed = once(peer, 'close');
  client.close(1000, 'done');
  const [code, reason] = (await peerClosed) as [number, Buffer];
  assert.equal(code, 1000);
  assert.equal(reason.toString(), 'done');
  assert.equal((await recorder.closed).code, 1000);
});

test('lean websocket - a refused upgrade reports its HTTP status', async () => {
  const recorder = new Recorder();
  const client = new LeanWebSocket(recorder, 1024);
  client.connect({
    host: '127.0.0.1',
    port,
    path: '/ws?refuse=1',
    connectTimeoutMs: 5000,
  });
  assert.deepEqual(await recorder.failed, { failure: 'refused', status: 401 });
});

test('lean websocket - a message over the limit closes with 1009', async () => {
  const recorder = new Recorder();
  const client = new LeanWebSocket(recorder, 1024);
  const peerReady = new Promise<WebSocket>((resolve) => {
    nextServerSocket = resolve;
  });
  client.connect({
    host: '127.0.0.1',
    port,
    path: '/ws',
    connectTimeoutMs: 5000,
  });
  await recorder.opened;
  const peer = await peerReady;
  peer.send(Buffer.alloc(2048));
  assert.equal((await recorder.closed).code, 1009);
  assert.equal(recorder.messages.length, 0);
});
