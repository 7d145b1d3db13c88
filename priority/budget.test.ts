import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LAG_FREE_MS, LAG_FULL_MS, LossyBudget, pressureOf } from './budget.js';
import type { BatchItem, LikesItem } from '../protocol/index.js';
import { RoomEngine } from './index.js';
import { DEFAULT_SETTINGS } from './settings.js';

function budget(overrides: Partial<typeof DEFAULT_SETTINGS> = {}): LossyBudget {
  return new LossyBudget({ ...DEFAULT_SETTINGS, ...overrides });
}

function isLikes(item: BatchItem): item is LikesItem {
  return item.type === 'likes';
}

function drain(b: LossyBudget, bytes = 1): number {
  let admitted = 0;
  while (b.canAdmit()) {
    b.spend(bytes);
    admitted++;
  }

  return admitted;
}

describe('LossyBudget', () => {
  test('LossyBudget - starts full, refills by elapsed time and carries over at most the burst', () => {
    const b = budget({ lossyItemsPerSecond: 30, lossyBurstMs: 500 });
    b.refill(0, 100);
    assert.equal(drain(b), 15);
    b.refill(100, 100);
    assert.equal(drain(b), 3);
    // A skipped tick is paid on the next one.
    b.refill(300, 100);
    assert.equal(drain(b), 6);
    // A long silence fills the bucket, no more.
    b.refill(60_300, 100);
    assert.equal(drain(b), 15);
  });

  test('LossyBudget - carries fractions over so 25 items/s at 100 ms ticks alternates 3 and 2', () => {
    const b = budget({ lossyItemsPerSecond: 25 });
    b.refill(0, 100);
    drain(b);
    const perTick: number[] = [];
    for (let t = 1; t <= 4; t++) {
      b.refill(t * 100, 100);
      perTick.push(drain(b));
    }

    assert.deepEqual(perTick, [3, 2, 3, 2]);
  });

  test('LossyBudget - lets bytes go into debt by one item and repays it before the next', () => {
    const b = budget({ lossyBytesPerSecond: 1_000, lossyBurstMs: 1_000 });
    b.refill(0, 100);
    assert.equal(b.canAdmit(), true);
    b.spend(3_000);
    assert.ok(!b.canAdmit(), 'bytes spent');
    b.refill(1_900, 100);
    assert.ok(!b.canAdmit(), 'still 100 bytes in debt');
    b.refill(2_001, 100);
    assert.equal(b.canAdmit(), true);
  });

  test('LossyBudget - shrinks at once under load and recovers linearly over loadRecoveryMs', () => {
    const b = budget({ minLoadFactor: 0.1, loadRecoveryMs: 9_000 });
    b.refill(0, 100);
    b.setLoad({ backpressure: 1 });
    b.refill(100, 100);
    assert.equal(b.factor, 0.1);
    assert.equal(b.itemCapacity, 1.5);
    b.setLoad({ backpressure: 0 });
    b.refill(4_600, 100);
    assert.ok(Math.abs(b.factor - 0.55) < 1e-9, `factor ${b.factor}`);
    b.refill(9_100, 100);
    assert.equal(b.factor, 1);
  });

  test('LossyBudget - keeps each load report until replaced and takes the worse of the two', () => {
    const b = budget({ minLoadFactor: 0.2 });
    b.setLoad({ loopLagMs: (LAG_FREE_MS + LAG_FULL_MS) / 2 });
    b.setLoad({ backpressure: 0.25 });
    b.refill(0, 100);
    assert.ok(Math.abs(b.factor - 0.6) < 1e-9, `factor ${b.factor}`);
    assert.equal(pressureOf(0, LAG_FREE_MS), 0);
    assert.equal(pressureOf(0, LAG_FULL_MS * 10), 1);
    assert.equal(pressureOf(2, 0), 1);
  });

  test('LossyBudget - never holds less than one item, so a small room under load can speak', () => {
    const b = budget({ lossyItemsPerSecond: 1, minLoadFactor: 0.1 });
    b.setLoad({ backpressure: 1 });
    b.refill(0, 100);
    drain(b);
    b.refill(20_000, 100);
    assert.equal(drain(b), 1);
  });
});

describe('RoomEngine load', () => {
  test('RoomEngine - under load sends likes every ceil(1 / factor) ticks with nothing lost', () => {
    const engine = new RoomEngine({ minLoadFactor: 0.25 });
    engine.setLoad({ backpressure: 1 });
    let likes = 0;
    let items = 0;
    for (let t = 0; t <= 20; t++) {
      engine.offer({ type: 'like', ts: t * 100, count: 2 });
      for (const item of engine.tick(t * 100).items) {
        items++;
        likes += isLikes(item) ? item.count : 0;
      }
    }

    // Ticks 0, 4, 8, 12, 16 and 20.
    assert.equal(items, 6);
    assert.equal(likes, 42);
  });

  test('RoomEngine - load leaves reliable items alone and cuts chat to the shrunk budget', () => {
    const engine = new RoomEngine({ minLoadFactor: 0.1 });
    engine.setLoad({ loopLagMs: 1_000 });
    for (let i = 0; i < 100; i++) {
      engine.offer({
        type: 'chat',
        id: `c${i}`,
        ts: 0,
        from: { id: `u${i}` },
        text: 'x',
      });
    }

    engine.offer({ type: 'host', id: 'h', seq: 1, ts: 0 });
    const { items } = engine.tick(0);
    assert.equal(engine.loadFactor, 0.1);
    assert.equal(items.filter((item) => item.type === 'chat').length, 1);
    assert.equal(items.filter((item) => item.type === 'host').length, 1);
  });
});
