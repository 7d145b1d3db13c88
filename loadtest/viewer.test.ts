import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { encodeFrame, type BatchItem } from '../protocol/index.js';
import { DeliveryStats } from './delivery-stats.js';
import { RoomFrameCache } from './frame-summary.js';
import {
  FIRST_SOURCE_PORT,
  LAST_SOURCE_PORT,
  SourcePorts,
} from './source-ports.js';
import { Viewer, type RoomTrack, type ViewerEvents } from './viewer.js';

class Events implements ViewerEvents {
  readonly stats = new DeliveryStats();
  readonly protocol = 'roomcast';
  caughtUp = 0;
  onWelcomed(): void {
    // counted in stats
  }

  onCaughtUp(): void {
    this.caughtUp += 1;
  }

  onEnded(): void {
    // nothing to release here
  }

  readonly anomalies: string[] = [];
  onSeqAnomaly(_viewer: Viewer, kind: string, seq: number): void {
    this.anomalies.push(`${kind} ${seq}`);
  }
}

function welcome(seq: number): Buffer {
  return encodeFrame({
    t: 'welcome',
    room: 'r',
    user: 'u',
    viewers: 1,
    seq,
    idleTimeoutMs: 60_000,
    limits: { chatPerSecond: 1, likesPerSecond: 1, maxFrameBytes: 1024 },
    backoff: { baseMs: 1, maxMs: 2 },
  });
}

function gifts(...seqs: number[]): Buffer {
  const items: BatchItem[] = seqs.map((seq) => ({
    type: 'gift',
    id: String(seq),
    seq,
    ts: 0,
    data: { lt: Date.now() },
  }));
  return encodeFrame({ t: 'batch', room: 'r', items });
}

for (const sampled of [false, true]) {
  test(`viewer - counts gaps and duplicates (${sampled ? 'sampled' : 'cached'})`, () => {
    const events = new Events();
    const room: RoomTrack = {
      id: 'r',
      cache: new RoomFrameCache(),
      finalSeq: -1,
    };
    const viewer = new Viewer(room, sampled, 0, events);
    viewer.onMessage(welcome(3), true);
    viewer.onMessage(gifts(4, 5), true);
    viewer.onMessage(gifts(8), true);
    viewer.onMessage(gifts(8, 9), true);
    viewer.onMessage(gifts(7), true);
    const delivery = events.stats.delivery;
    assert.equal(delivery.reliable, 6);
    assert.equal(delivery.gapLost, 2);
    assert.equal(delivery.duplicated, 2);
    assert.equal(viewer.lastSeq, 9);
    assert.equal(viewer.welcomeSeq, 3);
    assert.deepEqual(events.anomalies, ['gap 8', 'duplicate 8', 'duplicate 7']);
    room.finalSeq = 9;
    viewer.checkCaughtUp();
    assert.equal(events.caughtUp, 1);
    const snapshot = events.stats.takeSnapshot(0, 0);
    assert.equal(snapshot.reliableLatency !== '', sampled);
  });
}

test('viewer - binds the next source port when one is still held, without counting a failure', async () => {
  // A WebSocket server that welcomes, and a socket holding the first port.
  const { WebSocketServer } = await import('ws');
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  server.on('connection', (ws) => ws.send(welcome(0)));
  const address = '127.0.0.230';
  const ports = new SourcePorts();
  const held = FIRST_SOURCE_PORT;
  const holder = createServer();
  holder.listen(held, address);
  await once(holder, 'listening');
  try {
    const events = new (class extends Events {
      readonly sourcePorts = ports;
      welcomed = 0;
      override onWelcomed(): void {
        this.welcomed += 1;
      }
    })();
    const room: RoomTrack = {
      id: 'r',
      cache: new RoomFrameCache(),
      finalSeq: -1,
    };
    const viewer = new Viewer(room, false, 0, events);
    viewer.connect({
      host: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      path: '/',
      localAddress: address,
      connectTimeoutMs: 5000,
    });
    const deadline = Date.now() + 5000;
    while (events.welcomed === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    assert.equal(events.welcomed, 1);
    assert.deepEqual(events.stats.connections.failed, {});
    assert.equal(events.stats.connections.attempted, 1);
    // The port after the held one went to this viewer; the next is free.
    assert.equal(ports.next(address), held + 2);
    viewer.destroy();
  } finally {
    holder.close();
    server.close();
  }
});

test('source ports - each address cycles through its own range', () => {
  const ports = new SourcePorts();
  assert.equal(ports.next('127.0.0.2'), FIRST_SOURCE_PORT);
  assert.equal(ports.next('127.0.0.2'), FIRST_SOURCE_PORT + 1);
  assert.equal(ports.next('127.0.0.3'), FIRST_SOURCE_PORT);
  for (let port = FIRST_SOURCE_PORT + 2; port <= LAST_SOURCE_PORT; port++) {
    ports.next('127.0.0.2');
  }

  assert.equal(ports.next('127.0.0.2'), FIRST_SOURCE_PORT);
});
