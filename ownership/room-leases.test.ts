/**
 * Room leases on Redis: who holds a room, and whether a shard taking it is
 * the room's first owner since it was created (its edges' members were
 * never announced; room-shard/shard.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryBus } from '../bus/index.js';
import { silentLogger } from '../logging/index.js';
import { createRegistry } from '../metrics/index.js';
import { RedisKeys } from '../redis/index.js';
import { RedisRoomDirectory } from '../room-directory/index.js';
import { RoomLeases } from './index.js';

const prefix = `rctest:${randomBytes(6).toString('hex')}:`;
const redis = new Redis('redis://127.0.0.1:6379');
const keys = new RedisKeys(prefix);

after(async () => {
  const left = await redis.keys(`${prefix}*`);
  if (left.length > 0) {
    await redis.del(...left);
  }

  redis.disconnect();
});

function leasesOf(shardId: string): RoomLeases {
  return new RoomLeases({
    redis,
    keys,
    shardId,
    leaseMs: 5_000,
    sharded: false,
    registry: createRegistry({ defaults: false }),
    logger: silentLogger(),
    onRefused: () => undefined,
  });
}

test('room leases - the first shard to take a room is told so; a renewal, another shard and later owners are not', async () => {
  const a = leasesOf('shard-a');
  const b = leasesOf('shard-b');
  const directory = new RedisRoomDirectory({
    redis,
    bus: new MemoryBus(),
    keys,
  });
  const record = {
    tenant: 't',
    id: 'lease',
    title: '',
    createdAt: '',
    settings: {},
  };
  assert.equal(await directory.create(record), true);

  assert.equal(await a.acquire('t/lease'), 'first');
  assert.equal(await a.acquire('t/lease'), 'owned', 'a renewal');
  assert.equal(await b.acquire('t/lease'), false, 'held by a');
  await a.release('t/lease');
  assert.equal(await b.acquire('t/lease'), 'owned', 'b succeeds a');

  // Closing the room forgets it had owners: the same id created again
  // gets a first owner again.
  await b.release('t/lease');
  await directory.close('t', 'lease');
  assert.equal(await redis.exists(keys.claimed('t/lease')), 0);
  assert.equal(await directory.create(record), true);
  assert.equal(await b.acquire('t/lease'), 'first');

  // A marker left behind (a claim that raced the close) is cleared when
  // the room is created again.
  await b.release('t/lease');
  await directory.close('t', 'lease');
  await redis.set(keys.claimed('t/lease'), '1');
  assert.equal(await directory.create(record), true);
  assert.equal(await a.acquire('t/lease'), 'first');
});
