import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measuredCapacity, planFleet, type MeasuredCapacity } from './plan.js';
import type { Report } from './report.js';

function report(
  name: string,
  framesPerSecond: number,
  cpuCores: number,
): Report {
  return {
    scenario: { name },
    runId: name,
    figures: {
      service: { cpuCores, peakRssBytes: 300e6, baseRssBytes: 100e6 },
      delivered: { framesPerSecond, bytesPerSecond: framesPerSecond * 200 },
      published: { perSecond: 1000 },
      viewers: { welcomed: 10_000 },
    },
  } as unknown as Report;
}

test('plan - takes the most conservative capacity of the runs', () => {
  const measured = measuredCapacity([
    report('a', 100_000, 1),
    report('b', 60_000, 1),
    report('no-cpu', 1, -1),
  ]);
  assert.deepEqual(measured.runs, ['a (a)', 'b (b)']);
  assert.equal(measured.framesPerCoreSecond, 60_000);
  assert.equal(measured.publishesPerCoreSecond, 1000);
  assert.equal(measured.bytesPerFrame, 200);
  assert.equal(measured.bytesPerViewer, 20_000);
});

test('plan - sizes edges by frames with headroom, shards by publishes', () => {
  const measured: MeasuredCapacity = {
    runs: ['x'],
    framesPerCoreSecond: 50_000,
    publishesPerCoreSecond: 2_000,
    bytesPerFrame: 100,
    bytesPerViewer: 10_000,
  };
  const plan = planFleet(
    {
      viewers: 1_000_000,
      rooms: 100,
      peakRatePerRoom: 20,
      headroom: 0.5,
      edgeCores: 2,
      shardCores: 1,
      tickMs: 100,
    },
    measured,
  );
  // One frame per viewer per tick: 10,000,000 frames/s; an edge carries
  // 50,000 x 2 cores x 50% = 50,000 frames/s.
  assert.equal(plan.framesPerSecond, 10_000_000);
  assert.equal(plan.edges, 200);
  // 2,000 publishes/s over 1,000 per shard core at 50%.
  assert.equal(plan.shards, 2);
  assert.equal(plan.redisPublishesPerSecond, 2_000 + 100 * 10);
  assert.ok(plan.assumptions.length > 3);
});
