/**
 * Closing a room in a fleet on the Redis at 127.0.0.1:6379 (random prefix).
 * The admin API tells the owner on the room's channel, but the owner's
 * placement round can see the room gone from the directory first and stop
 * listening to that channel; the owner then closes the room itself.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryBus } from '../bus/index.js';
import { Fleet } from '../harness/fleet.js';
import { waitUntil } from '../harness/wait.js';
import { RedisKeys } from '../redis/index.js';
import { RedisRoomDirectory, roomKey } from '../room-directory/index.js';

const redis = new Redis('redis://127.0.0.1:6379');
const fleet = new Fleet({ env: { REDIS_URL: 'redis://127.0.0.1:6379' } });

after(async () => {
  await fleet.stop();
  redis.disconnect();
});

test('distributed - a room gone from the directory without its close message is closed by its owner: viewers told, history gone', async () => {
  const { edgePorts } = await fleet.startAll(1, 1);
  const edgePort = edgePorts[0] ?? -1;
  await fleet.createRoom('gone');
  const viewer = await fleet.viewer(edgePort, 'gone', 'ann');
  assert.equal(await fleet.send('gone', 'host', { n: 1 }), 1);
  await viewer.waitForSeq(1);

  // What DELETE does to the directory, without the message to the owner.
  const keys = new RedisKeys(fleet.prefix);
  const directory = new RedisRoomDirectory({
    redis,
    bus: new MemoryBus(),
    keys,
  });
  const [tenant] =
    (await redis.smembers(keys.roomIndex()))[0]?.split('/') ?? [];
  assert.ok(tenant !== undefined);
  assert.ok((await directory.close(tenant, 'gone')) !== undefined);

  await viewer.waitFor(() => viewer.closed !== undefined, 15_000, 'closed');
  assert.equal(viewer.closed?.code, 4004);
  assert.ok(
    viewer.frames.some(
      (frame) => frame.t === 'control' && frame.reason === 'room_closed',
    ),
  );
  const key = roomKey(tenant, 'gone');
  await waitUntil(
    async () =>
      (await redis.exists(
        keys.seq(key),
        keys.log(key),
        keys.published(key),
      )) === 0,
    10_000,
    'the room history deleted',
  );
});
