/**
 * Property tests: random traffic, budgets, load and settings, and the
 * invariants the engine promises whatever they are.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type {
  BatchItem,
  ChatItem,
  CustomItem,
  LikesItem,
  ReliableItem,
} from '../protocol/index.js';
import {
  ACCOUNTING_CLASSES,
  DROP_REASONS,
  RoomEngine,
  type ClassAccounting,
  type EngineInput,
  type EngineSettings,
  type LoadSignal,
  type RoomAccounting,
  type TickResult,
} from './index.js';

const MAX_ITEM_BYTES = 2_000;
const RELIABLE = new Set(['host', 'gift', 'system', 'poll']);
const LANE = new Set(['chat', 'sticker']);

type InputSpec =
  | { kind: 'host' | 'gift' | 'system' | 'poll'; sender: number; gift: number }
  | {
      kind: 'chat';
      sender: number;
      level: number;
      role: 'viewer' | 'moderator' | 'host';
      mention: boolean;
      bytes: number;
    }
  | { kind: 'like' | 'join'; sender: number; count: number }
  | { kind: 'sticker'; sender: number; bytes: number };

interface TickSpec {
  gapMs: number;
  load: LoadSignal | undefined;
  viewers: number | undefined;
  inputs: InputSpec[];
}

interface Traffic {
  settings: Partial<EngineSettings>;
  ticks: TickSpec[];
}

const sender = fc.integer({ min: 0, max: 7 });
const inputSpec: fc.Arbitrary<InputSpec> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('host', 'gift', 'system', 'poll'),
    sender,
    gift: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({
    kind: fc.constant('chat'),
    sender,
    level: fc.integer({ min: 0, max: 5 }),
    role: fc.constantFrom('viewer', 'viewer', 'viewer', 'moderator', 'host'),
    mention: fc.boolean(),
    bytes: fc.integer({ min: 10, max: MAX_ITEM_BYTES }),
  }),
  fc.record({
    kind: fc.constantFrom('like', 'join'),
    sender,
    count: fc.integer({ min: 1, max: 50 }),
  }),
  fc.record({
    kind: fc.constant('sticker'),
    sender,
    bytes: fc.integer({ min: 10, max: MAX_ITEM_BYTES }),
  }),
);

const traffic: fc.Arbitrary<Traffic> = fc.record({
  settings: fc.record({
    lossyItemsPerSecond: fc.integer({ min: 1, max: 60 }),
    lossyBytesPerSecond: fc.integer({ min: 200, max: 40_000 }),
    lossyBurstMs: fc.integer({ min: 50, max: 2_000 }),
    giftCombo: fc.oneof(
      fc.constant(false as const),
      fc.record({ windowMs: fc.integer({ min: 1, max: 3_000 }) }),
    ),
    recentNames: fc.integer({ min: 0, max: 6 }),
    maxPendingLossy: fc.integer({ min: 1, max: 60 }),
    minLoadFactor: fc.double({ min: 0.05, max: 1, noNaN: true }),
    loadRecoveryMs: fc.integer({ min: 100, max: 20_000 }),
    customTypes: fc.constant({
      sticker: { class: 'lossy' as const, priority: 150 },
      poll: { class: 'reliable' as const, priority: 0 },
    }),
  }),
  ticks: fc.array(
    fc.record({
      gapMs: fc.integer({ min: 1, max: 400 }),
      load: fc.option(
        fc.record({
          backpressure: fc.double({ min: 0, max: 1, noNaN: true }),
          loopLagMs: fc.integer({ min: 0, max: 400 }),
        }),
        { nil: undefined },
      ),
      viewers: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
      inputs: fc.array(inputSpec, { maxLength: 30 }),
    }),
    { minLength: 1, maxLength: 40 },
  ),
});

interface Run {
  results: TickResult[];
  /** The tick times, in ms. */
  times: number[];
  /** Reliable seqs offered before each tick. */
  offeredSeqs: number[][];
  /** Bytes each lane item was offered with, by id. */
  bytesById: Map<string, number>;
  likesSent: number;
  accountings: RoomAccounting[];
  final: RoomAccounting;
}

function materialize(
  spec: InputSpec,
  n: number,
  seq: () => number,
  ts: number,
): EngineInput {
  const from = { id: `u${spec.sender}`, name: `name${spec.sender}` };
  switch (spec.kind) {
    case 'chat':
      return {
        type: 'chat',
        id: `c${n}`,
        ts,
        from: { ...from, level: spec.level, role: spec.role },
        text: spec.mention ? 'hey @star' : 'hello',
        bytes: spec.bytes,
      };
    case 'like':
    case 'join':
      return { type: spec.kind, ts, from, count: spec.count };
    case 'sticker':
      return { type: 'sticker', id: `s${n}`, ts, from, bytes: spec.bytes };
    default:
      return {
        type: spec.kind,
        id: `r${n}`,
        seq: seq(),
        ts,
        from,
        data: { giftId: `g${spec.gift}` },
      };
  }
}

function run(plan: Traffic): Run {
  const engine = new RoomEngine(plan.settings, { hostName: 'star' });
  const out: Run = {
    results: [],
    times: [],
    offeredSeqs: [],
    bytesById: new Map(),
    likesSent: 0,
    accountings: [],
    final: engine.accounting(),
  };
  let nowMs = 1_000_000;
  let lastSeq = 0;
  let n = 0;
  const nextSeq = (): number => ++lastSeq;
  for (const tick of plan.ticks) {
    const seqs: number[] = [];
    for (const spec of tick.inputs) {
      const input = materialize(spec, n++, nextSeq, nowMs);
      engine.offer(input);
      if (input.seq !== undefined) {
        seqs.push(input.seq);
      }

      if (input.bytes !== undefined && input.id !== undefined) {
        out.bytesById.set(input.id, input.bytes);
      }

      out.likesSent += input.type === 'like' ? (input.count ?? 1) : 0;
    }

    out.accountings.push(engine.accounting());
    if (tick.load !== undefined) {
      engine.setLoad(tick.load);
    }

    if (tick.viewers !== undefined) {
      engine.setViewerCount(tick.viewers);
    }

    nowMs += tick.gapMs;
    out.results.push(engine.tick(nowMs));
    out.times.push(nowMs);
    out.offeredSeqs.push(seqs);
    out.accountings.push(engine.accounting());
  }

  // Flush: no load, and enough quiet ticks for the aggregates to catch up.
  engine.setLoad({ backpressure: 0, loopLagMs: 0 });
  for (let i = 0; i < 40; i++) {
    nowMs += 1_000;
    engine.tick(nowMs);
  }

  out.final = engine.accounting();
  return out;
}

function isReliable(item: BatchItem): item is ReliableItem {
  return RELIABLE.has(item.type);
}

function isLane(item: BatchItem): item is ChatItem | CustomItem {
  return LANE.has(item.type);
}

function dropped(counts: ClassAccounting): number {
  return DROP_REASONS.reduce((sum, reason) => sum + counts.dropped[reason], 0);
}

function assertAddsUp(acc: RoomAccounting): void {
  const sum = { received: 0, delivered: 0, merged: 0, dropped: 0, pending: 0 };
  for (const name of ACCOUNTING_CLASSES) {
    const c = acc.classes[name];
    assert.equal(
      c.received,
      c.delivered + c.merged + dropped(c) + c.pending,
      `class ${name} does not add up`,
    );
    sum.received += c.received;
    sum.delivered += c.delivered;
    sum.merged += c.merged;
    sum.dropped += dropped(c);
    sum.pending += c.pending;
  }

  assert.deepEqual(sum, {
    received: acc.total.received,
    delivered: acc.total.delivered,
    merged: acc.total.merged,
    dropped: dropped(acc.total),
    pending: acc.total.pending,
  });
  for (const units of [acc.units.like, acc.units.join]) {
    assert.equal(units.received, units.emitted + units.pending);
  }
}

describe('RoomEngine properties', () => {
  test('RoomEngine - never drops or delays a reliable item and keeps seq order', () => {
    fc.assert(
      fc.property(traffic, (plan) => {
        const result = run(plan);
        let lastSeq = 0;
        result.results.forEach((tick, i) => {
          const reliable = tick.items.filter(isReliable);
          for (const item of reliable) {
            assert.ok(item.seq > lastSeq, 'seq order');
            lastSeq = item.seq;
            if (item.seqs !== undefined) {
              assert.equal(item.seqs[0], item.seq);
              assert.equal(item.combo?.count, item.seqs.length);
            }
          }

          const covered = reliable.flatMap((item) => item.seqs ?? [item.seq]);
          assert.deepEqual(
            covered.sort((a, b) => a - b),
            result.offeredSeqs[i],
          );
        });
        for (const name of ['host', 'gift', 'system'] as const) {
          assert.equal(dropped(result.final.classes[name]), 0);
        }
      }),
    );
  });

  test('RoomEngine - accounting adds up exactly, per class and in total, at every step', () => {
    fc.assert(
      fc.property(traffic, (plan) => {
        const result = run(plan);
        for (const acc of [...result.accountings, result.final]) {
          assertAddsUp(acc);
        }

        // The counts agree with what actually went out.
        const items = result.results.flatMap((tick) => tick.items);
        const echoes = result.results.flatMap((tick) => tick.echoes);
        const chat = result.final.classes.chat;
        assert.equal(
          chat.delivered,
          items.filter((i) => i.type === 'chat').length,
        );
        assert.equal(dropped(chat), echoes.length);
        assert.equal(
          echoes.every((echo) => echo.echo === true),
          true,
        );
        const custom = result.final.classes.custom;
        const polls = items.filter(isReliable).filter((i) => i.type === 'poll');
        const stickers = items.filter((i) => i.type === 'sticker');
        assert.equal(custom.delivered, polls.length + stickers.length);
        assert.equal(result.final.total.pending, 0);
      }),
    );
  });

  test('RoomEngine - merged like totals equal the likes sent, one likes item per tick at most', () => {
    fc.assert(
      fc.property(traffic, (plan) => {
        const result = run(plan);
        let total = 0;
        for (const tick of result.results) {
          const likes = tick.items.filter(
            (i): i is LikesItem => i.type === 'likes',
          );
          assert.ok(likes.length <= 1, 'one likes item a tick');
          assert.equal(
            tick.items.filter((i) => i.type === 'joins').length <= 1,
            true,
          );
          for (const item of likes) {
            total += item.count;
            assert.equal(item.total, total);
          }
        }

        const units = result.final.units.like;
        assert.equal(units.received, result.likesSent);
        assert.equal(units.emitted, result.likesSent);
        assert.ok(total <= result.likesSent, 'no likes invented');
      }),
    );
  });

  test('RoomEngine - keeps lossy output within the item and byte budget over every window', () => {
    fc.assert(
      fc.property(traffic, (plan) => {
        const result = run(plan);
        const s = plan.settings as EngineSettings;
        const itemCap = Math.max(
          1,
          (s.lossyItemsPerSecond * s.lossyBurstMs) / 1000,
        );
        const byteCap = (s.lossyBytesPerSecond * s.lossyBurstMs) / 1000;
        const counts = result.results.map((t) => t.items.filter(isLane).length);
        const bytes = result.results.map((t) =>
          t.items
            .filter(isLane)
            .reduce(
              (sum, item) => sum + (result.bytesById.get(item.id ?? '') ?? 0),
              0,
            ),
        );
        const elapsed = result.times.map((t, i) =>
          i === 0 ? 100 : t - (result.times[i - 1] ?? 0),
        );
        for (let i = 0; i < counts.length; i++) {
          let items = 0;
          let size = 0;
          let ms = 0;
          for (let j = i; j < counts.length; j++) {
            items += counts[j] ?? 0;
            size += bytes[j] ?? 0;
            ms += elapsed[j] ?? 0;
            const seconds = ms / 1000;
            const itemBound = itemCap + s.lossyItemsPerSecond * seconds + 1e-6;
            const byteBound =
              byteCap + s.lossyBytesPerSecond * seconds + MAX_ITEM_BYTES;
            assert.ok(items <= itemBound, `ticks ${i}..${j}: ${items} items`);
            assert.ok(size <= byteBound, `ticks ${i}..${j}: ${size} bytes`);
          }
        }
      }),
    );
  });

  test('RoomEngine - gives the same output for the same input and clock', () => {
    fc.assert(
      fc.property(traffic, (plan) => {
        const first = run(plan);
        const second = run(plan);
        assert.deepEqual(second.results, first.results);
        assert.deepEqual(second.final, first.final);
      }),
    );
  });
});
