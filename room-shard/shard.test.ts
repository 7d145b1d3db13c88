import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBus, channels } from '../bus/index.js';
import { silentLogger } from '../logging/index.js';
import { createRegistry } from '../metrics/index.js';
import { decodeValue, encodeValue } from '../protocol/index.js';
import { MemoryReliableLog } from '../reliable-log/index.js';
import { MemoryRoomDirectory } from '../room-directory/index.js';
import {
  RoomShard,
  ShardQueryClient,
  decodeOutbound,
  encodeEnvelope,
  type OutboundEnvelope,
} from './index.js';

function setup() {
  const time = { nowMs: 1_000_000 };
  const bus = new MemoryBus();
  const log = new MemoryReliableLog({ maxItems: 100, maxAgeSeconds: 3600 });
  const directory = new MemoryRoomDirectory();
  const registry = createRegistry({ defaults: false });
  const shard = new RoomShard({
    bus,
    log,
    directory,
    registry,
    logger: silentLogger(),
    engineDefaults: {},
    tickMs: 100,
    clock: () => time.nowMs,
  });
  const out: OutboundEnvelope[] = [];
  const listen = (key: string) =>
    bus.subscribe(channels.roomOut(key), (payload) => {
      const envelope = decodeOutbound(payload);
      assert.ok(envelope !== undefined, 'the shard publishes valid envelopes');
      out.push(envelope);
    });
  return { bus, log, directory, registry, shard, out, listen, time };
}

/** One like message of `count` likes into a room, as an edge sends it. */
function sendLikes(bus: MemoryBus, key: string, count: number): void {
  bus.publish(
    channels.roomIn(key),
    encodeEnvelope([
      'input',
      [{ type: 'like', ts: 1, count, from: { id: 'u' } }],
    ]),
  );
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('room shard - one tick publishes one frame per room, encoded once, with reliable items in seq order', async () => {
  const { log, shard, out, listen, bus } = setup();
  await shard.claim('t/a');
  await listen('t/a');
  for (let n = 1; n <= 3; n++) {
    await log.append('t/a', { type: 'host', id: String(n), ts: 1 });
  }

  sendLikes(bus, 't/a', 7);
  await settle();
  shard.tick(1_000_100);
  await settle();
  assert.equal(
    out.length,
    1,
    JSON.stringify(out.map((e) => (e[0] === 'frame' ? decodeValue(e[3]) : e))),
  );
  const frame = out[0];
  assert.equal(frame?.[0], 'frame');
  if (frame?.[0] !== 'frame') {
    return;
  }

  const [, maxSeq, , full, reliableOnly, lossyCount] = frame;
  assert.equal(maxSeq, 3);
  const items = (
    decodeValue(full) as {
      items: { type: string; seq?: number; count?: number }[];
    }
  ).items;
  assert.deepEqual(
    items.filter((item) => item.seq !== undefined).map((item) => item.seq),
    [1, 2, 3],
  );
  assert.equal(items.find((item) => item.type === 'likes')?.count, 7);
  assert.equal(lossyCount, items.length - 3);
  assert.ok(
    Buffer.isBuffer(reliableOnly),
    'a reliable-only copy exists when the tick mixes lanes',
  );
  const reliable = (decodeValue(reliableOnly as Buffer) as { items: unknown[] })
    .items;
  assert.equal(reliable.length, 3);
  shard.tick(1_000_200);
  await settle();
  assert.equal(
    out.length,
    1,
    `an idle room publishes nothing: ${JSON.stringify(out.slice(1).map((e) => (e[0] === 'frame' ? decodeValue(e[3]) : e)))}`,
  );
  await shard.stop();
});

test('room shard - members count once per user across edges', async () => {
  const { bus, shard, directory } = setup();
  await directory.create({
    tenant: 't',
    id: 'm',
    title: '',
    createdAt: '',
    settings: {},
  });
  await shard.claim('t/m');
  const members = (
    edge: string,
    joins: [string, string, 'viewer'][],
    leaves: string[],
  ) =>
    bus.publish(
      channels.roomIn('t/m'),
      encodeEnvelope(['members', edge, joins, leaves]),
    );
  members(
    'e1',
    [
      ['ann', 'Ann', 'viewer'],
      ['bob', 'Bob', 'viewer'],
    ],
    [],
  );
  members('e2', [['ann', 'Ann', 'viewer']], []);
  await settle();
  assert.equal(shard.roomStats('t/m')?.members, 2);
  members('e1', [], ['ann']);
  await settle();
  assert.equal(shard.roomStats('t/m')?.members, 2, 'ann is still on e2');
  members('e2', [], ['ann']);
  await settle();
  assert.equal(shard.roomStats('t/m')?.members, 1);
  shard.tick(1_000_100);
  assert.equal((await directory.get('t', 'm'))?.viewers, 1);
  await shard.stop();
});

test('room shard - edge backpressure shrinks the lossy budget and its end restores it', async () => {
  const { bus, shard, time } = setup();
  await shard.claim('t/l');
  assert.equal(shard.roomStats('t/l')?.loadFactor, 1);
  const like = () =>
    bus.publish(
      channels.roomIn('t/l'),
      encodeEnvelope(['input', [{ type: 'like', ts: 1, from: { id: 'u' } }]]),
    );
  bus.publish(channels.roomIn('t/l'), encodeEnvelope(['load', 'e1', 1]));
  like();
  await settle();
  shard.tick(1_000_100);
  const loaded = shard.roomStats('t/l')?.loadFactor ?? 1;
  assert.ok(loaded < 1, `load factor ${loaded} shrinks under backpressure`);
  bus.publish(channels.roomIn('t/l'), encodeEnvelope(['load', 'e1', 0]));
  await settle();
  for (let tick = 1; tick <= 200; tick++) {
    like();
    await settle();
    time.nowMs = 1_000_100 + tick * 100;
    shard.tick(time.nowMs);
  }

  assert.equal(shard.roomStats('t/l')?.loadFactor, 1);
  await shard.stop();
});

test('room shard - closing a room flushes pending reliable items before the close envelope', async () => {
  const { log, shard, out, listen, bus } = setup();
  await shard.claim('t/c');
  await listen('t/c');
  await log.append('t/c', { type: 'gift', id: 'g1', ts: 1 });
  bus.publish(channels.roomIn('t/c'), encodeEnvelope(['close']));
  await settle();
  await settle();
  assert.deepEqual(
    out.map((envelope) => envelope[0]),
    ['frame', 'close'],
  );
  assert.equal(shard.owns('t/c'), false);
  assert.equal(await log.lastSeq('t/c'), 0, 'history is dropped with the room');
});

test('room shard - garbage on the bus is counted and changes nothing', async () => {
  const { bus, shard, registry } = setup();
  await shard.claim('t/g');
  bus.publish(channels.roomIn('t/g'), Buffer.from([0xc1, 0xff]));
  bus.publish(
    channels.roomIn('t/g'),
    encodeEnvelope(['input', [{ type: 'like', ts: 1, count: -4 }]]),
  );
  await settle();
  const text = await registry.metrics();
  assert.match(text, /roomcast_shard_bad_envelopes_total 2/);
  assert.equal(shard.roomStats('t/g')?.accounting.total.received, 0);
  await shard.stop();
});

test('room shard - a stats question on the bus is answered by the owner, and nobody answers for a room it does not own', async () => {
  const { bus, shard, registry } = setup();
  const client = new ShardQueryClient({ bus, timeoutMs: 200 });
  await shard.claim('t/s');
  sendLikes(bus, 't/s', 4);
  await settle();

  const stats = await client.stats('t/s');
  assert.equal(stats?.members, 0);
  assert.equal(stats?.accounting.classes.like.received, 1);
  assert.equal(stats?.accounting.classes.like.pending, 1);
  assert.equal(stats?.accounting.units.like.received, 4);
  assert.equal(await client.stats('t/elsewhere'), undefined);

  // A malformed stats question is refused like any bad envelope.
  bus.publish(
    channels.roomIn('t/s'),
    encodeValue(['query', 'replies:x', 'r1', ['stats', 'extra']]),
  );
  await settle();
  assert.match(
    await registry.metrics(),
    /roomcast_shard_bad_envelopes_total 1/,
  );
  await client.close();
  await shard.stop();
});

test('room shard - each frame names its first seq and the seq published before it', async () => {
  const { log, shard, out, listen } = setup();
  await log.append('t/c', { type: 'host', id: 'before', ts: 1 });
  await shard.claim('t/c');
  await listen('t/c');
  let nowMs = 1_000_100;
  for (const count of [2, 0, 3]) {
    for (let n = 0; n < count; n++) {
      await log.append('t/c', { type: 'gift', id: `${nowMs}-${n}`, ts: 1 });
    }

    await settle();
    shard.tick(nowMs);
    nowMs += 100;
    await settle();
  }

  const frames = out.flatMap((envelope) =>
    envelope[0] === 'frame' && envelope[1] > 0
      ? [[envelope[7], envelope[1], envelope[8]]]
      : [],
  );
  // [firstSeq, maxSeq, prevSeq]: claimed after seq 1, then 2..3, then 4..6.
  assert.deepEqual(frames, [
    [2, 3, 1],
    [4, 6, 3],
  ]);
});

test('room shard - users reported in answer to a first owner resync are announced as joins; after a takeover or an edge resend they are not', async () => {
  const { bus, shard } = setup();
  const snapshot = (key: string, users: string[], answer?: boolean) =>
    bus.publish(
      channels.roomIn(key),
      encodeValue(
        ['snapshot', 'e1', users.map((id) => [id, id, 'viewer']), answer].slice(
          0,
          answer === undefined ? 3 : 4,
        ),
      ),
    );
  const joins = (key: string) =>
    shard.roomStats(key)?.accounting.classes.join.received;

  // First owner: ann and bob joined before it listened; bob's join reached
  // it after all, so only ann is new in the snapshot.
  await shard.claim('t/first', {}, undefined, { firstOwner: true });
  bus.publish(
    channels.roomIn('t/first'),
    encodeEnvelope(['members', 'e1', [['bob', 'Bob', 'viewer']], []]),
  );
  snapshot('t/first', ['ann', 'bob'], true);
  await settle();
  assert.equal(shard.roomStats('t/first')?.members, 2);
  assert.equal(joins('t/first'), 2, 'bob by his delta, ann by the snapshot');
  // An edge resending its members after an outage announces nobody again.
  snapshot('t/first', ['ann', 'bob', 'cy'], false);
  snapshot('t/first', ['ann', 'bob', 'cy', 'dee']);
  await settle();
  assert.equal(shard.roomStats('t/first')?.members, 4);
  assert.equal(joins('t/first'), 2);

  // A takeover: the previous owner announced the users.
  await shard.claim('t/taken', {}, undefined, { firstOwner: false });
  snapshot('t/taken', ['ann', 'bob'], true);
  await settle();
  assert.equal(shard.roomStats('t/taken')?.members, 2);
  assert.equal(joins('t/taken'), 0);

  // A snapshot whose answer flag is not a boolean is refused.
  bus.publish(
    channels.roomIn('t/taken'),
    encodeValue(['snapshot', 'e1', [['eve', 'eve', 'viewer']], 'yes']),
  );
  await settle();
  assert.equal(shard.roomStats('t/taken')?.members, 2);
  await shard.stop();
});
