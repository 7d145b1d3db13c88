import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeFrame, type BatchItem } from '../protocol/index.js';
import { emptyDeliveryCounts } from './delivery-stats.js';
import { ITEM_CLASSES, RoomFrameCache } from './frame-summary.js';

function batch(items: BatchItem[]): Buffer {
  return encodeFrame({ t: 'batch', room: 'r1', items });
}

const items: BatchItem[] = [
  { type: 'gift', id: '10', seq: 4, ts: 1, data: { lt: 1 } },
  { type: 'chat', id: '11', ts: 1, from: { id: 'u1' }, text: 'hi' },
  { type: 'likes', count: 7, total: 70 },
  { type: 'host', id: '12', seq: 5, ts: 1 },
];

test('frame summary - counts items by class, likes and reliable seqs', () => {
  const counts = emptyDeliveryCounts();
  const summary = new RoomFrameCache().summarize(batch(items), counts);
  assert.equal(summary.kind, 'batch');
  assert.deepEqual(summary.seqs, [4, 5]);
  assert.equal(summary.likes, 7);
  const byClass = Object.fromEntries(
    ITEM_CLASSES.map((name, i) => [name, summary.counts[i]]),
  );
  assert.equal(byClass['gift'], 1);
  assert.equal(byClass['host'], 1);
  assert.equal(byClass['chat'], 1);
  assert.equal(byClass['likes'], 1);
});

test('frame summary - identical bytes hit the cache, other bytes decode', () => {
  const counts = emptyDeliveryCounts();
  const cache = new RoomFrameCache(4);
  const first = cache.summarize(batch(items), counts);
  const again = cache.summarize(Buffer.from(batch(items)), counts);
  assert.equal(again, first);
  assert.equal(counts.cacheHits, 1);
  const other = cache.summarize(batch(items.slice(0, 1)), counts);
  assert.deepEqual(other.seqs, [4]);
  assert.equal(counts.cacheMisses, 2);
});

test('frame summary - malformed bytes give an other summary', () => {
  const counts = emptyDeliveryCounts();
  const summary = new RoomFrameCache().summarize(
    Buffer.from([0xc1, 0xff]),
    counts,
  );
  assert.equal(summary.kind, 'other');
  assert.deepEqual(summary.seqs, []);
});
