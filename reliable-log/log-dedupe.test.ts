/**
 * Appends with a dedupe key, on both logs: the second append with a key
 * writes nothing and answers with the first one's seq and id.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { MemoryBus } from '../bus/index.js';
import { RedisKeys } from '../redis/index.js';
import {
  MemoryReliableLog,
  RedisReliableLog,
  type ReliableLog,
} from './index.js';

const limits = { maxItems: 100, maxAgeSeconds: 3600 };
const prefix = `rctest:${randomBytes(6).toString('hex')}:`;
const redis = new Redis('redis://127.0.0.1:6379');

after(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) {
    await redis.del(...keys);
  }

  redis.disconnect();
});

const logs: [string, () => ReliableLog][] = [
  ['memory', () => new MemoryReliableLog(limits)],
  [
    'redis',
    () =>
      new RedisReliableLog({
        redis,
        bus: new MemoryBus(),
        keys: new RedisKeys(prefix),
        limits,
        sharded: false,
        logger: pino({ level: 'silent' }),
      }),
  ],
];

for (const [name, open] of logs) {
  test(`reliable log (${name}) - an append with a used dedupe key writes nothing and answers the first seq and id`, async () => {
    const log = open();
    const room = `t/dedupe-${name}`;
    const draft = (id: string) => ({ type: 'system', id, ts: Date.now() });
    const first = await log.appendOnce(room, draft('m1'), { dedupeKey: 'b1' });
    assert.deepEqual(
      [first.fresh, first.item.seq, first.item.id],
      [true, 1, 'm1'],
    );
    const concurrent = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        log.appendOnce(room, draft(`m-again-${index}`), { dedupeKey: 'b1' }),
      ),
    );
    for (const again of concurrent) {
      assert.deepEqual(
        [again.fresh, again.item.seq, again.item.id],
        [false, 1, 'm1'],
      );
    }

    const other = await log.appendOnce(room, draft('m2'), { dedupeKey: 'b2' });
    assert.deepEqual([other.fresh, other.item.seq], [true, 2]);
    const plain = await log.append(room, draft('m3'));
    assert.equal(plain.seq, 3);
    const read = await log.readAfter(room, 0, 10);
    assert.equal(read.kind, 'ok');
    assert.deepEqual(
      read.kind === 'ok' ? read.items.map((item) => item.id) : [],
      ['m1', 'm2', 'm3'],
    );
  });
}
