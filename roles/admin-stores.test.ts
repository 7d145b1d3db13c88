import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { connect, disconnect } from '../redis/index.js';
import { checkEvictionPolicy, warnUnlessNoEviction } from './admin-stores.js';

/** A logger that keeps every line it writes. */
function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** The one command the check sends, answered as Redis would. */
function fakeRedis(policy: string | Error) {
  return {
    async info(section: 'memory'): Promise<string> {
      assert.equal(section, 'memory');
      if (policy instanceof Error) {
        throw policy;
      }

      return `# Memory\r\nused_memory:1000\r\nmaxmemory_policy:${policy}\r\n`;
    },
  };
}

test('admin stores - start-up logs an error when maxmemory-policy may evict keys', async () => {
  const { logger, lines } = recordingLogger();
  const policy = await warnUnlessNoEviction(fakeRedis('allkeys-lru'), logger);
  assert.equal(policy, 'allkeys-lru');
  const error = lines.find((line) => line['level'] === 50);
  assert.equal(error?.['policy'], 'allkeys-lru', JSON.stringify(lines));
  assert.match(String(error['msg']), /noeviction/);
});

test('admin stores - noeviction passes quietly and an unreadable policy is a warning', async () => {
  const quiet = recordingLogger();
  assert.equal(
    await warnUnlessNoEviction(fakeRedis('noeviction'), quiet.logger),
    'noeviction',
  );
  assert.deepEqual(quiet.lines, [], 'nothing logged for noeviction');

  const failing = recordingLogger();
  const policy = await warnUnlessNoEviction(
    fakeRedis(new Error('NOPERM info')),
    failing.logger,
  );
  assert.equal(policy, undefined);
  assert.deepEqual(
    failing.lines.map((line) => line['level']),
    [40],
    'one warning',
  );
});

test('admin stores - the start-up check on a fresh fail-fast connection waits for it and logs nothing', async () => {
  const { logger, lines } = recordingLogger();
  // Not connected yet: a command sent now would be refused, not queued.
  const redis = connect(
    { mode: 'single', url: 'redis://127.0.0.1:6379', nodes: [] },
    { name: 'eviction-check-test', logger },
  );
  try {
    const policy = await checkEvictionPolicy(redis, logger);
    assert.equal(typeof policy, 'string');
    assert.deepEqual(
      lines.filter((line) => Number(line['level']) >= 40),
      policy === 'noeviction' ? [] : lines.filter((l) => l['level'] === 50),
      'no warning about the connection',
    );
  } finally {
    await disconnect(redis);
  }
});
