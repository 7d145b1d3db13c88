import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeFrame, type BatchItem } from '../protocol/index.js';
import { DeliveryStats } from './delivery-stats.js';
import { RoomFrameCache } from './frame-summary.js';
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
