import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RestartBackoff } from './restart-backoff.js';

test('restart backoff - doubles while workers die young, up to the cap', () => {
  const backoff = new RestartBackoff({
    initialMs: 100,
    maxMs: 1000,
    stableMs: 5000,
  });
  const delays = Array.from({ length: 6 }, () => backoff.next(10));
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
});

test('restart backoff - a worker that ran long enough starts over', () => {
  const backoff = new RestartBackoff({
    initialMs: 100,
    maxMs: 1000,
    stableMs: 5000,
  });
  backoff.next(10);
  backoff.next(10);
  assert.equal(backoff.next(10), 400);
  assert.equal(backoff.next(5000), 100);
  assert.equal(backoff.next(10), 200);
});
