import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownerOf } from './index.js';

const rooms = Array.from({ length: 3000 }, (_, index) => `acme/room-${index}`);

test('rendezvous - every process picks the same owner whatever the order of the live list', () => {
  const shards = ['s-a', 's-b', 's-c', 's-d'];
  for (const room of rooms.slice(0, 200)) {
    assert.equal(ownerOf(room, shards), ownerOf(room, [...shards].reverse()));
  }

  assert.equal(ownerOf('acme/x', []), undefined);
});

test('rendezvous - rooms spread evenly and a leaving shard moves only its own rooms', () => {
  const before = ['s-a', 's-b', 's-c'];
  const counts = new Map<string, number>();
  for (const room of rooms) {
    const owner = ownerOf(room, before) ?? '';
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }

  for (const shard of before) {
    const share = (counts.get(shard) ?? 0) / rooms.length;
    assert.ok(share > 0.28 && share < 0.39, `${shard} holds ${share}`);
  }

  const after = ['s-a', 's-c'];
  for (const room of rooms) {
    const was = ownerOf(room, before);
    if (was !== 's-b') {
      assert.equal(ownerOf(room, after), was, `${room} moved needlessly`);
    }
  }

  let moved = 0;
  for (const room of rooms) {
    if (ownerOf(room, [...before, 's-d']) !== ownerOf(room, before)) {
      moved++;
    }
  }

  assert.ok(moved / rooms.length < 0.32, `a join moved ${moved} rooms`);
});
