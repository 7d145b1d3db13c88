import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../harness/wait.js';
import { decodeValue, encodeFrame, type BatchItem } from '../protocol/index.js';
import { TestViewer, metric, startTestServer } from '../test/harness.js';
import {
  FramePacer,
  MAX_INTERVAL_TICKS,
  MAX_PRESENCE_INTERVAL_MS,
  MIN_PRESENCE_INTERVAL_MS,
  mergeFrames,
  presenceIntervalMs,
  type EdgeLoad,
  type ShardFrame,
} from './index.js';

const TICK_MS = 100;
const LAGGING: EdgeLoad = { lagMs: 500, sheddingShare: 0 };
const BACKED_UP: EdgeLoad = { lagMs: 0, sheddingShare: 0.5 };
const CALM: EdgeLoad = { lagMs: 0, sheddingShare: 0 };

test('frame pacer - load doubles the interval once per interval, up to the cap', () => {
  const pacer = new FramePacer(TICK_MS);
  assert.equal(pacer.update(LAGGING, 0), 200);
  assert.equal(pacer.update(LAGGING, 100), 200);
  assert.equal(pacer.update(BACKED_UP, 200), 400);
  assert.equal(pacer.update(LAGGING, 599), 400);
  assert.equal(pacer.update(LAGGING, 600), 800);
  assert.equal(pacer.update(LAGGING, 10_000), TICK_MS * MAX_INTERVAL_TICKS);
  assert.equal(pacer.update(LAGGING, 20_000), TICK_MS * MAX_INTERVAL_TICKS);
});

test('frame pacer - a calm spell halves it back to the tick; middling load holds it', () => {
  const pacer = new FramePacer(TICK_MS);
  pacer.update(LAGGING, 0);
  pacer.update(LAGGING, 200);
  assert.equal(pacer.intervalMs, 400);
  assert.equal(pacer.update(CALM, 1000), 400);
  assert.equal(pacer.update(CALM, 2200), 200);
  // Neither overloaded nor calm: the interval stays and the calm restarts.
  assert.equal(pacer.update({ lagMs: 40, sheddingShare: 0 }, 5000), 200);
  assert.equal(pacer.update(CALM, 5500), 200);
  assert.equal(pacer.update(CALM, 6000), 100);
  assert.equal(pacer.pacing, false);
  assert.equal(pacer.update(CALM, 60_000), 100);
});

function frame(items: BatchItem[], viewers = 3): ShardFrame {
  const reliable = items.filter((item) => 'seq' in item);
  const full = encodeFrame({ t: 'batch', room: 'r', items });
  return {
    maxSeq: Math.max(
      0,
      ...reliable.map((item) => (item as { seq: number }).seq),
    ),
    viewers,
    full,
    reliableOnly:
      reliable.length === items.length
        ? true
        : reliable.length === 0
          ? null
          : encodeFrame({ t: 'batch', room: 'r', items: reliable }),
    lossyCount: items.length - reliable.length,
    presenceOnly: items.every(
      (item) => item.type === 'viewers' || item.type === 'joins',
    ),
  };
}

const host = (seq: number) =>
  ({
    type: 'host',
    seq,
    id: String(seq),
    data: { text: `m${seq}` },
  }) as BatchItem;
const chat = (text: string) =>
  ({
    type: 'chat',
    from: { id: 'u', name: 'U' },
    text,
  }) as unknown as BatchItem;
const count = (viewers: number) =>
  ({ type: 'viewers', count: viewers }) as unknown as BatchItem;

const likes = (count: number, total: number, names: string[]) =>
  ({ type: 'likes', count, total, names }) as unknown as BatchItem;
const joins = (count: number, names: string[]) =>
  ({ type: 'joins', count, names }) as unknown as BatchItem;

const itemsOf = (bytes: Buffer) =>
  (decodeValue(bytes) as { items: Record<string, unknown>[] }).items;

test('frame pacer - merged frames keep every reliable item in seq order and the last viewer count', () => {
  const merged = mergeFrames([
    frame([host(1), chat('a'), count(3)]),
    frame([host(2)]),
    frame([chat('b'), count(4)], 4),
    frame([host(3), host(4)], 4),
  ]);
  assert.deepEqual(
    itemsOf(merged.full).map((item) => item['seq'] ?? item['type']),
    [1, 'chat', 2, 'chat', 'viewers', 3, 4],
  );
  assert.equal(
    itemsOf(merged.full).find((item) => item['type'] === 'viewers')?.['count'],
    4,
  );
  assert.ok(Buffer.isBuffer(merged.reliableOnly));
  assert.deepEqual(
    itemsOf(merged.reliableOnly).map((item) => item['seq']),
    [1, 2, 3, 4],
  );
  assert.equal(merged.maxSeq, 4);
  assert.equal(merged.viewers, 4);
  assert.equal(merged.lossyCount, 3);

  const aggregates = itemsOf(
    mergeFrames([
      frame([likes(3, 10, ['a']), joins(2, ['x', 'y'])]),
      frame([chat('c'), likes(4, 14, ['b', 'c']), joins(1, ['z'])]),
    ]).full,
  );
  assert.deepEqual(aggregates, [
    itemsOf(frame([chat('c')]).full)[0],
    { type: 'likes', count: 7, total: 14, names: ['b', 'c'] },
    { type: 'joins', count: 3, names: ['z', 'x'] },
  ]);

  const reliableOnly = mergeFrames([frame([host(5)]), frame([host(6)])]);
  assert.equal(reliableOnly.reliableOnly, true);
  const lossyOnly = mergeFrames([frame([chat('c')]), frame([chat('d')])]);
  assert.equal(lossyOnly.reliableOnly, null);
  assert.equal(lossyOnly.maxSeq, 0);
});

test('frame pacer - an edge under load sends a room several shard frames as one, then recovers', async () => {
  // The edge's clock stands still unless the test moves it, and its load is
  // what the test says, so what it holds and when it lets go does not
  // depend on this machine's speed.
  let nowMs = Date.now();
  let load = CALM;
  const server = await startTestServer(
    { tickMs: TICK_MS },
    { clock: () => nowMs, load: () => load },
  );
  try {
    const interval = () =>
      metric(server, 'roomcast_edge_frame_interval_seconds');
    /** Moves the edge's clock by `stepMs` each time; the interval follows `seconds`. */
    const stepThrough = async (stepMs: number, seconds: number[]) => {
      for (const expected of seconds) {
        nowMs += stepMs;
        await waitUntil(
          async () => (await interval()) === expected,
          5000,
          `interval ${expected}`,
        );
      }
    };
    await server.api('POST', '/v1/rooms', { id: 'paced' });
    const viewer = await TestViewer.connect(
      `${server.edgeUrl}?token=${await server.token('paced', 'v')}`,
    );
    const seqs = () =>
      viewer
        .items()
        .flatMap((item) =>
          typeof item['seq'] === 'number' ? [item['seq']] : [],
        );
    const publish = async (seq: number) => {
      const shardFrames = await metric(server, 'roomcast_shard_frames_total');
      const { body } = await server.api('POST', '/v1/rooms/paced/messages', {
        type: 'host',
        data: { text: `m${seq}` },
      });
      assert.equal(body['seq'], seq);
      // One shard frame per item: wait for the shard to send it.
      await waitUntil(
        async () =>
          (await metric(server, 'roomcast_shard_frames_total')) > shardFrames,
        5000,
        `the shard frame of seq ${seq}`,
      );
    };
    // The frame with the viewer's own join, then one item, at the normal rate.
    await viewer.waitUntil(() =>
      viewer.items().some((item) => item['type'] === 'viewers'),
    );
    await publish(1);
    await viewer.waitUntil(() => seqs().includes(1));

    load = LAGGING;
    await waitUntil(async () => (await interval()) === 0.2, 5000, '0.2 s');
    await stepThrough(1000, [0.4, 0.8]);
    const coalesced = await metric(
      server,
      'roomcast_edge_coalesced_frames_total',
    );
    // The room has been quiet for longer than the interval: its next frame
    // goes at once, the ones after it wait for the interval to pass.
    await publish(2);
    await viewer.waitUntil(() => seqs().includes(2));
    await publish(3);
    await publish(4);
    assert.deepEqual(seqs(), [1, 2], 'held until the interval has passed');
    nowMs += 800;
    await viewer.waitUntil(() => seqs().includes(4));
    assert.deepEqual(seqs(), [1, 2, 3, 4]);
    const last = viewer.frames.findLast((sent) => sent.t === 'batch');
    assert.deepEqual(
      (last?.['items'] as Record<string, unknown>[]).map((item) => item['seq']),
      [3, 4],
    );
    assert.equal(
      await metric(server, 'roomcast_edge_coalesced_frames_total'),
      coalesced + 1,
    );

    load = CALM;
    await stepThrough(2000, [0.4, 0.2, 0.1]);
    await publish(5);
    await publish(6);
    await viewer.waitUntil(() => seqs().includes(6));
    viewer.close();
  } finally {
    await server.close();
  }
});

test('presence pacing - frames of only viewers and joins wait for the presence interval; the next frame carries them', async () => {
  // A budget of one presence frame a second: with two viewers here a room
  // gets such a frame every 2 s at most. The edge's clock moves only when
  // the test moves it; the shard's runs on its own.
  let nowMs = Date.now();
  const server = await startTestServer(
    { tickMs: TICK_MS, edgePresenceFramesPerSecond: 1 },
    { clock: () => nowMs, load: () => CALM },
  );
  try {
    await server.api('POST', '/v1/rooms', { id: 'presence' });
    const connect = async (user: string) =>
      TestViewer.connect(
        `${server.edgeUrl}?token=${await server.token('presence', user)}`,
      );
    const shardFrames = () => metric(server, 'roomcast_shard_frames_total');
    const counts = (viewer: TestViewer) =>
      viewer
        .items()
        .flatMap((item) => (item['type'] === 'viewers' ? [item['count']] : []));

    const a = await connect('a');
    // With the edge's clock moving, a's own join shows (the shard may send
    // the join and the count in frames of their own).
    const moving = setInterval(() => (nowMs += 3000), 100);
    try {
      await a.waitUntil(() => counts(a).includes(1));
    } finally {
      clearInterval(moving);
    }

    const before = await shardFrames();
    const b = await connect('b');
    await waitUntil(
      async () => (await shardFrames()) > before,
      5000,
      'the shard frame with b joining',
    );
    await waitUntil(
      async () =>
        (await metric(server, 'roomcast_edge_presence_interval_seconds')) === 2,
      5000,
      'a 2 s presence interval for two viewers',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const seen = counts(a);
    assert.equal(seen.at(-1), 1, 'the presence frame is held');

    // A frame with more than presence goes at once and takes it along.
    const { body } = await server.api('POST', '/v1/rooms/presence/messages', {
      type: 'host',
      data: { text: 'hello' },
    });
    await a.waitUntil(() =>
      a.items().some((item) => item['seq'] === body['seq']),
    );
    const carried = a.frames.findLast((frame) => frame.t === 'batch');
    const items = carried?.['items'] as Record<string, unknown>[];
    const types = items.map((item) => item['type']);
    assert.ok(types.includes('host'), `merged: ${types.join(',')}`);
    assert.deepEqual(
      items.find((item) => item['type'] === 'joins')?.['names'],
      ['b'],
      `merged: ${JSON.stringify(items)}`,
    );

    // Presence alone again: held until the edge's clock passes the interval,
    // however many the shard sends meanwhile (its count comes a second on).
    const batches = () => a.frames.filter((f) => f.t === 'batch').length;
    const sent = batches();
    const beforeC = await shardFrames();
    const c = await connect('c');
    await waitUntil(
      async () => (await shardFrames()) > beforeC,
      5000,
      'the shard frame with c joining',
    );
    // Long enough for the shard's count too, if it comes in a frame of its own.
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.equal(batches(), sent, 'held again');
    nowMs += 3000;
    await a.waitUntil(() => counts(a).includes(3));
    assert.equal(batches(), sent + 1, 'as one frame');
    for (const viewer of [a, b, c]) {
      viewer.close();
    }
  } finally {
    await server.close();
  }
});

test('presence pacing - the interval grows with the viewers held, from 1 s to 10 s', () => {
  assert.equal(presenceIntervalMs(0, 50_000), MIN_PRESENCE_INTERVAL_MS);
  assert.equal(presenceIntervalMs(50_000, 50_000), 1000);
  assert.equal(presenceIntervalMs(100_000, 50_000), 2000);
  assert.equal(presenceIntervalMs(16_650, 50_000 / 18), 5994);
  assert.equal(presenceIntervalMs(1_000_000, 50_000), MAX_PRESENCE_INTERVAL_MS);
});
