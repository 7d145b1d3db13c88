import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BatchItem, ReliableItem } from '../protocol/index.js';
import { RoomEngine, type EngineInput } from './index.js';

let seq = 0;

function gift(
  sender: string,
  giftId: string | undefined,
  ts: number,
): EngineInput {
  seq++;
  return {
    type: 'gift',
    id: `g${seq}`,
    seq,
    ts,
    from: { id: sender },
    data: giftId === undefined ? { note: 'no id' } : { giftId },
  };
}

function reliableOf(items: BatchItem[]): ReliableItem[] {
  return items.filter((item): item is ReliableItem => 'seq' in item);
}

/** Every seq an item stands for, as a client counts them. */
function covered(items: ReliableItem[]): number[] {
  return items.flatMap((item) => item.seqs ?? [item.seq]);
}

describe('gift combos', () => {
  test('gift combo - folds the same gift from the same sender in a tick into one item listing every seq', () => {
    seq = 0;
    const engine = new RoomEngine({ giftCombo: { windowMs: 2_000 } });
    engine.offer(gift('ann', 'rose', 0));
    engine.offer({ type: 'host', id: 'h', seq: ++seq, ts: 10 });
    engine.offer(gift('ann', 'rose', 20));
    engine.offer(gift('bob', 'rose', 30));
    engine.offer(gift('ann', 'rose', 40));
    const items = reliableOf(engine.tick(100).items);
    assert.deepEqual(
      items.map((item) => [item.seq, item.seqs, item.combo]),
      [
        [1, [1, 3, 5], { id: 'g1', count: 3, total: 3 }],
        [2, undefined, undefined],
        [4, undefined, { id: 'g4', count: 1, total: 1 }],
      ],
    );
    assert.deepEqual(
      covered(items).sort((a, b) => a - b),
      [1, 2, 3, 4, 5],
    );
    const gifts = engine.accounting().classes.gift;
    assert.equal(gifts.delivered, 2);
    assert.equal(gifts.merged, 2);
  });

  test('gift combo - keeps counting across ticks inside the window and starts over after it', () => {
    seq = 0;
    const engine = new RoomEngine({ giftCombo: { windowMs: 1_000 } });
    engine.offer(gift('ann', 'rose', 0));
    engine.tick(100);
    engine.offer(gift('ann', 'rose', 900));
    engine.offer(gift('ann', 'rose', 950));
    const second = reliableOf(engine.tick(1_000).items);
    assert.deepEqual(second[0]?.combo, { id: 'g1', count: 2, total: 3 });
    assert.deepEqual(second[0]?.seqs, [2, 3]);
    engine.offer(gift('ann', 'rose', 2_100));
    const third = reliableOf(engine.tick(2_200).items);
    assert.deepEqual(third[0]?.combo, { id: 'g4', count: 1, total: 1 });
  });

  test('gift combo - never merges different gifts, gifts without an id, or when the room has combos off', () => {
    seq = 0;
    const on = new RoomEngine({ giftCombo: { windowMs: 5_000 } });
    const off = new RoomEngine();
    for (const engine of [on, off]) {
      seq = 0;
      engine.offer(gift('ann', 'rose', 0));
      engine.offer(gift('ann', 'lion', 1));
      engine.offer(gift('ann', undefined, 2));
      engine.offer(gift('ann', undefined, 3));
    }

    const withCombos = reliableOf(on.tick(0).items);
    assert.equal(withCombos.length, 4);
    assert.deepEqual(
      withCombos.map((item) => item.combo?.total),
      [1, 1, undefined, undefined],
    );
    const without = reliableOf(off.tick(0).items);
    assert.equal(without.length, 4);
    assert.equal(
      without.every((item) => item.combo === undefined),
      true,
    );
  });

  test('gift combo - turning combos off mid-stream sends later gifts whole', () => {
    seq = 0;
    const engine = new RoomEngine({ giftCombo: { windowMs: 5_000 } });
    engine.offer(gift('ann', 'rose', 0));
    engine.offer(gift('ann', 'rose', 1));
    assert.equal(engine.tick(0).items.length, 1);
    engine.updateSettings({ giftCombo: false });
    engine.offer(gift('ann', 'rose', 2));
    engine.offer(gift('ann', 'rose', 3));
    assert.equal(engine.tick(100).items.length, 2);
  });
});
