import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdGenerator, parseId, ID_EPOCH_MS } from './index.js';

test('ids - a million ids stay unique and increasing while the clock steps back 5 ms', () => {
  let now = ID_EPOCH_MS + 1_000_000;
  let calls = 0;
  const regressions: number[] = [];
  const ids = new IdGenerator({
    workerId: 7,
    clock: () => {
      calls++;
      if (calls % 1000 === 0) {
        now++;
      }

      if (calls === 500_500) {
        now -= 5;
      }

      return now;
    },
    onClockRegression: (backwardsMs) => regressions.push(backwardsMs),
  });
  let previous = -1n;
  const seen = new Set<bigint>();
  for (let index = 0; index < 1_000_000; index++) {
    const id = ids.nextBigInt();
    assert.ok(id > previous, `id ${index} increases`);
    previous = id;
    if (index % 97 === 0) {
      seen.add(id);
    }
  }

  assert.equal(ids.clockRegressions, 1);
  assert.deepEqual(regressions, [5]);
});

test('ids - a restarted generator told its last id continues after it though the clock went back', () => {
  let now = ID_EPOCH_MS + 5_000;
  const first = new IdGenerator({ workerId: 3, clock: () => now });
  let last = '';
  for (let index = 0; index < 10_000; index++) {
    last = first.next();
  }

  now -= 5;
  const restarted = new IdGenerator({
    workerId: 3,
    clock: () => now,
    after: last,
  });
  const next = restarted.next();
  assert.ok(BigInt(next) > BigInt(last));
  assert.equal(restarted.clockRegressions, 1);
});

test('ids - more than 4,096 ids in one millisecond borrow the next millisecond', () => {
  const ids = new IdGenerator({ workerId: 1, clock: () => ID_EPOCH_MS + 10 });
  const values = Array.from({ length: 10_000 }, () => ids.nextBigInt());
  assert.equal(new Set(values).size, values.length);
  const parsed = parseId((values.at(-1) as bigint).toString());
  assert.equal(parsed.workerId, 1);
  assert.ok(parsed.timestampMs > ID_EPOCH_MS + 10);
});

test('ids - ids are decimal strings that parse back into their parts', () => {
  const ids = new IdGenerator({
    workerId: 1023,
    clock: () => ID_EPOCH_MS + 42,
  });
  const id = ids.next();
  assert.match(id, /^[0-9]+$/);
  assert.deepEqual(parseId(id), {
    timestampMs: ID_EPOCH_MS + 42,
    workerId: 1023,
    sequence: 0,
  });
  assert.throws(() => parseId('12a'), TypeError);
  assert.throws(() => new IdGenerator({ workerId: 1024 }), RangeError);
});
