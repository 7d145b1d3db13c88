import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LoadtestError } from './loadtest-error.js';
import { MAX_VIEWERS, MAX_VIEWERS_PER_PROCESS } from './run.js';
import { loadScenario, parseScenario, viewerCount } from './scenario.js';

const SCENARIOS = fileURLToPath(new URL('./scenarios/', import.meta.url));

test('scenario - every shipped scenario is valid and within bounds', async () => {
  const files = (await readdir(SCENARIOS)).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 10);
  for (const file of files) {
    const scenario = await loadScenario(`${SCENARIOS}${file}`);
    assert.equal(`${scenario.name}.yaml`, file);
    assert.ok(viewerCount(scenario) <= MAX_VIEWERS, file);
    if (scenario.topology !== 'cluster') {
      // One roomcast process here may open at most 20,000 files.
      assert.ok(viewerCount(scenario) <= MAX_VIEWERS_PER_PROCESS, file);
    }
  }
});

test('scenario - defaults fill in what a scenario leaves out', () => {
  const scenario = parseScenario({
    name: 'x',
    durationSeconds: 1,
    rooms: { count: 1, viewersPerRoom: 1 },
  });
  assert.equal(scenario.arrival.connectPerSecond, 2000);
  assert.equal(scenario.publish.gift, 0);
  assert.equal(scenario.objectives.maxReliableLost, 0);
  assert.deepEqual(scenario.chaos, []);
});

test('scenario - unknown fields and bad values are refused with the path', () => {
  assert.throws(
    () =>
      parseScenario({
        name: 'x',
        durationSeconds: 1,
        rooms: { count: 1, viewersPerRoom: 1, viewer: 3 },
      }),
    (error: unknown) =>
      error instanceof LoadtestError &&
      error.code === 'LOADTEST_BAD_OPTION' &&
      error.message.includes('/rooms'),
  );
  assert.throws(
    () =>
      parseScenario({
        name: 'x',
        durationSeconds: 1,
        rooms: { count: 1, viewersPerRoom: 1 },
        publish: { gift: -1 },
      }),
    LoadtestError,
  );
});
