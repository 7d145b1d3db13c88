import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BatchItem, ChatItem, Sender } from '../protocol/index.js';
import { addAccounting, emptyAccounting } from './accounting.js';
import { PriorityError, RoomEngine, type EngineInput } from './index.js';

let nextId = 0;

function chat(from: Sender, text = 'hello', ts = 1_000): EngineInput {
  return { type: 'chat', id: String(++nextId), ts, from, text };
}

function reliable(type: string, seq: number, data?: unknown): EngineInput {
  return { type, id: `r${seq}`, seq, ts: 1_000, data };
}

function types(items: BatchItem[]): string[] {
  return items.map((item) => item.type);
}

// `type` is a plain string on reliable and custom items, so it cannot narrow.
function isChat(item: BatchItem): item is ChatItem {
  return item.type === 'chat';
}

function chatIds(items: BatchItem[]): string[] {
  return items.filter(isChat).map((item) => item.id);
}

function chatSenders(items: BatchItem[]): string[] {
  return items.filter(isChat).map((item) => item.from.id);
}

function expectCode(fn: () => void, code: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof PriorityError, 'throws a PriorityError');
    assert.equal(error.code, code);
    return true;
  });
}

describe('RoomEngine', () => {
  test('RoomEngine - sends every reliable item in its tick, in seq order, whatever the budget and load', () => {
    const engine = new RoomEngine({ lossyItemsPerSecond: 1 });
    engine.setLoad({ backpressure: 1, loopLagMs: 10_000 });
    for (let seq = 1; seq <= 50; seq++) {
      engine.offer(reliable(['host', 'gift', 'system'][seq % 3] ?? '', seq));
    }

    const { items } = engine.tick(0);
    assert.deepEqual(
      items.map((item) => ('seq' in item ? item.seq : -1)),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.equal(engine.accounting().total.delivered, 50);
  });

  test('RoomEngine - addAccountingTo sums rooms into one total, pending included', () => {
    const a = new RoomEngine({ lossyItemsPerSecond: 2 });
    const b = new RoomEngine();
    const alice = { id: 'alice', name: 'Alice' };
    for (let i = 0; i < 30; i++) {
      a.offer(chat(alice, `hi ${i}`));
      b.offer({ type: 'like', ts: 1_000, from: alice, count: 3 });
    }

    a.offer(reliable('gift', 1));
    a.tick(1_000);
    b.offer(reliable('host', 1));
    b.offer({ type: 'join', ts: 1_000, from: alice });

    const expected = addAccounting(
      addAccounting(emptyAccounting(), a.accounting()),
      b.accounting(),
    );
    const sum = a.addAccountingTo(b.accounting());
    assert.deepEqual(sum, expected);
    assert.ok(sum.classes.chat.dropped.over_budget > 20);
    assert.equal(sum.classes.host.pending, 1);
    assert.equal(sum.classes.gift.delivered, 1);
    assert.equal(sum.classes.join.pending, 1);
    assert.deepEqual(sum.units.like, { received: 90, emitted: 0, pending: 90 });
    const { received, delivered, merged, dropped, pending } = sum.total;
    assert.equal(
      received,
      delivered + merged + dropped.over_budget + dropped.overflow + pending,
    );
  });

  test('RoomEngine - rejects a seq that does not increase and changes nothing', () => {
    const engine = new RoomEngine();
    engine.offer(reliable('host', 5));
    const before = engine.accounting();
    expectCode(() => engine.offer(reliable('gift', 5)), 'PRIORITY_SEQ_ORDER');
    expectCode(() => engine.offer(reliable('gift', 3)), 'PRIORITY_SEQ_ORDER');
    expectCode(
      () => engine.offer({ type: 'host', ts: 0, seq: 9 }),
      'PRIORITY_BAD_INPUT',
    );
    assert.deepEqual(engine.accounting(), before);
    engine.offer(reliable('gift', 6));
    assert.equal(engine.tick(0).items.length, 2);
  });

  test('RoomEngine - rejects unknown types and malformed lossy inputs', () => {
    const engine = new RoomEngine();
    expectCode(
      () => engine.offer({ type: 'poll', ts: 0 }),
      'PRIORITY_UNKNOWN_TYPE',
    );
    expectCode(
      () => engine.offer({ type: 'chat', id: '1', ts: 0, text: 'no sender' }),
      'PRIORITY_BAD_INPUT',
    );
    expectCode(
      () => engine.offer({ type: 'like', ts: 0, count: 0 }),
      'PRIORITY_BAD_INPUT',
    );
    expectCode(
      () => engine.offer({ type: 'join', ts: 0, count: 1.5 }),
      'PRIORITY_BAD_INPUT',
    );
    expectCode(
      () => engine.offer({ ...chat({ id: 'a' }), bytes: Number.NaN }),
      'PRIORITY_BAD_INPUT',
    );
    assert.equal(engine.accounting().total.received, 0);
    assert.equal(engine.idle, true);
  });

  test('RoomEngine - under budget sends all chat interleaved with reliable items by arrival', () => {
    const engine = new RoomEngine();
    engine.offer(chat({ id: 'a' }));
    engine.offer(reliable('gift', 1));
    engine.offer(chat({ id: 'b' }));
    engine.offer(reliable('host', 2));
    const { items, echoes } = engine.tick(0);
    assert.deepEqual(types(items), ['chat', 'gift', 'chat', 'host']);
    assert.deepEqual(echoes, []);
  });

  test('RoomEngine - over budget keeps host and moderator chat, then mentions of the host, then the rest', () => {
    // 10 items/s for 500 ms of burst: 5 slots in the first tick.
    const engine = new RoomEngine(
      { lossyItemsPerSecond: 10 },
      { hostId: 'h', hostName: 'Amy' },
    );
    const plain = Array.from({ length: 20 }, (_, i) => chat({ id: `v${i}` }));
    for (const input of plain) {
      engine.offer(input);
    }

    const mention = chat({ id: 'fan' }, 'hi @AMY!');
    const notMention = chat({ id: 'fan2' }, 'hi @amybot');
    const mod = chat({ id: 'm', role: 'moderator' });
    const host = chat({ id: 'h', role: 'host' });
    for (const input of [mention, notMention, mod, host]) {
      engine.offer(input);
    }

    const { items, echoes } = engine.tick(0);
    assert.deepEqual(chatIds(items), [
      plain[0]?.id,
      plain[1]?.id,
      mention.id,
      mod.id,
      host.id,
    ]);
    assert.equal(echoes.length, 19);
    assert.equal(
      echoes.every((echo) => echo.echo === true),
      true,
    );
    assert.equal(
      echoes.some((echo) => echo.id === notMention.id),
      true,
    );
  });

  test('RoomEngine - over budget shows each sender once before anyone twice, higher level first', () => {
    const engine = new RoomEngine({ lossyItemsPerSecond: 6 });
    // 3 slots. The spammer arrives first with a high level.
    for (let i = 0; i < 10; i++) {
      engine.offer(chat({ id: 'spam', level: 50 }));
    }

    engine.offer(chat({ id: 'low', level: 1 }));
    engine.offer(chat({ id: 'mid', level: 5 }));
    engine.offer(chat({ id: 'high', level: 9 }));
    assert.deepEqual(chatSenders(engine.tick(0).items), [
      'spam',
      'mid',
      'high',
    ]);
  });

  test('RoomEngine - remembers who was shown, so a sender served last tick waits behind new ones', () => {
    const engine = new RoomEngine({
      lossyItemsPerSecond: 2,
      lossyBurstMs: 500,
    });
    engine.offer(chat({ id: 'a' }));
    engine.offer(chat({ id: 'a' }));
    assert.deepEqual(chatSenders(engine.tick(0).items), ['a']);
    engine.offer(chat({ id: 'a' }));
    engine.offer(chat({ id: 'b' }));
    assert.deepEqual(chatSenders(engine.tick(500).items), ['b']);
  });

  test('RoomEngine - merges likes into one item per tick with count, running total and distinct recent names', () => {
    const engine = new RoomEngine({ recentNames: 2 }, { likesTotal: 100 });
    for (const name of ['ann', 'bob', 'ann', 'cy', 'cy']) {
      engine.offer({ type: 'like', ts: 0, from: { id: name, name }, count: 3 });
    }

    assert.deepEqual(engine.tick(0).items, [
      { type: 'likes', count: 15, total: 115, names: ['cy', 'ann'] },
    ]);
    engine.offer({ type: 'like', ts: 0 });
    assert.deepEqual(engine.tick(100).items, [
      { type: 'likes', count: 1, total: 116 },
    ]);
    const units = engine.accounting().units.like;
    assert.deepEqual(units, { received: 16, emitted: 16, pending: 0 });
  });

  test('RoomEngine - merges joins with a sample of names', () => {
    const engine = new RoomEngine({ recentNames: 3 });
    for (let i = 0; i < 10; i++) {
      engine.offer({
        type: 'join',
        ts: 0,
        from: { id: `u${i}`, name: `n${i}` },
      });
    }

    engine.offer({ type: 'join', ts: 0, count: 5 });
    assert.deepEqual(engine.tick(0).items, [
      { type: 'joins', count: 15, names: ['n9', 'n8', 'n7'] },
    ]);
  });

  test('RoomEngine - sends joins at most once per joinsIntervalMs, every join counted', () => {
    const engine = new RoomEngine({ joinsIntervalMs: 1000 });
    const joins: number[] = [];
    // 25 ticks of 100 ms with 4 joins each, and a like every tick.
    for (let tick = 0; tick < 25; tick++) {
      for (let i = 0; i < 4; i++) {
        engine.offer({ type: 'join', ts: 0, from: { id: `u${tick}-${i}` } });
      }

      engine.offer({ type: 'like', ts: 0 });
      const { items } = engine.tick(tick * 100);
      assert.equal(items.filter((item) => item.type === 'likes').length, 1);
      for (const item of items) {
        if (item.type === 'joins') {
          joins.push(tick);
        }
      }
    }

    assert.deepEqual(joins, [0, 10, 20]);
    const { join } = engine.accounting().units;
    assert.equal(join.received, 100);
    assert.equal(join.emitted + join.pending, 100);
    assert.equal(join.pending, 16);
    assert.equal(engine.idle, false);
    engine.updateSettings({ joinsIntervalMs: 100 });
    assert.ok(engine.tick(2500).items.some((item) => item.type === 'joins'));
    assert.equal(engine.accounting().units.join.emitted, 100);
  });

  test('RoomEngine - sends viewers when the count changes, at most once a second', () => {
    const engine = new RoomEngine();
    assert.equal(engine.idle, true);
    engine.setViewerCount(10);
    assert.equal(engine.idle, false);
    assert.deepEqual(engine.tick(0).items, [{ type: 'viewers', count: 10 }]);
    assert.equal(engine.idle, true);
    engine.setViewerCount(11);
    assert.deepEqual(engine.tick(500).items, []);
    assert.equal(engine.idle, false);
    engine.setViewerCount(12);
    assert.deepEqual(engine.tick(1_000).items, [
      { type: 'viewers', count: 12 },
    ]);
    engine.setViewerCount(12);
    assert.deepEqual(engine.tick(3_000).items, []);
  });

  test('RoomEngine - a room that has had no viewer yet announces no count of 0', () => {
    // A shard's first tick of a room may run before the first member list:
    // a 0 then would follow a viewer's welcome and contradict it.
    const engine = new RoomEngine();
    engine.setViewerCount(0);
    assert.equal(engine.idle, true);
    assert.deepEqual(engine.tick(0).items, []);
    engine.setViewerCount(1);
    assert.deepEqual(engine.tick(100).items, [{ type: 'viewers', count: 1 }]);
    engine.setViewerCount(0);
    assert.deepEqual(engine.tick(1_100).items, [{ type: 'viewers', count: 0 }]);
  });

  test('RoomEngine - is idle only when a tick would send nothing', () => {
    const engine = new RoomEngine();
    assert.equal(engine.idle, true);
    engine.offer({ type: 'like', ts: 0 });
    assert.equal(engine.idle, false);
    engine.tick(0);
    assert.equal(engine.idle, true);
    engine.offer(chat({ id: 'a' }));
    assert.equal(engine.idle, false);
    engine.tick(100);
    assert.equal(engine.idle, true);
  });

  test('RoomEngine - ranks lossy custom types by priority against chat and sends reliable ones whole', () => {
    const engine = new RoomEngine({
      lossyItemsPerSecond: 4,
      customTypes: {
        sticker: { class: 'lossy', priority: 150 },
        banner: { class: 'lossy', priority: 50 },
        poll: { class: 'reliable', priority: 0 },
      },
    });
    // 2 slots: the sticker outranks chat, the banner ranks below it.
    const plain = chat({ id: 'a' });
    engine.offer({ type: 'banner', ts: 0, data: 'b' });
    engine.offer(plain);
    engine.offer({ type: 'sticker', ts: 0, id: 's1', from: { id: 'x' } });
    engine.offer({ type: 'poll', ts: 0, id: 'p', seq: 1, data: { q: '?' } });
    const { items, echoes } = engine.tick(0);
    assert.deepEqual(items, [
      {
        type: 'chat',
        id: plain.id,
        ts: 1_000,
        from: { id: 'a' },
        text: 'hello',
      },
      { type: 'sticker', ts: 0, id: 's1', from: { id: 'x' } },
      { type: 'poll', id: 'p', seq: 1, ts: 0, data: { q: '?' } },
    ]);
    assert.deepEqual(echoes, []);
    const custom = engine.accounting().classes.custom;
    assert.equal(custom.received, 3);
    assert.equal(custom.delivered, 2);
    assert.equal(custom.dropped.over_budget, 1);
  });

  test('RoomEngine - drops lossy items past maxPendingLossy on arrival as overflow and echoes chats', () => {
    const engine = new RoomEngine({ maxPendingLossy: 3 });
    for (let i = 0; i < 5; i++) {
      engine.offer(chat({ id: `u${i}` }));
    }

    const { items, echoes } = engine.tick(0);
    assert.equal(items.length, 3);
    assert.deepEqual(
      echoes.map((echo) => echo.from.id),
      ['u3', 'u4'],
    );
    assert.equal(engine.accounting().classes.chat.dropped.overflow, 2);
  });

  test('RoomEngine - rejects bad settings and keeps the old ones', () => {
    const engine = new RoomEngine({ lossyItemsPerSecond: 7 });
    expectCode(
      () => engine.updateSettings({ tickMs: -1 }),
      'PRIORITY_BAD_SETTINGS',
    );
    expectCode(
      () =>
        engine.updateSettings({ typo: 1 } as Partial<RoomEngine['settings']>),
      'PRIORITY_BAD_SETTINGS',
    );
    expectCode(
      () =>
        engine.updateSettings({
          customTypes: { chat: { class: 'lossy', priority: 1 } },
        }),
      'PRIORITY_BAD_SETTINGS',
    );
    expectCode(
      () => new RoomEngine({ recentNames: 1.5 }),
      'PRIORITY_BAD_SETTINGS',
    );
    assert.equal(engine.settings.lossyItemsPerSecond, 7);
    engine.updateSettings({ lossyItemsPerSecond: 9 });
    assert.equal(engine.settings.lossyItemsPerSecond, 9);
    assert.equal(engine.settings.tickMs, 100);
  });

  test('RoomEngine - uses its clock when tick is given no time', () => {
    let nowMs = 0;
    const engine = new RoomEngine({}, { clock: () => nowMs });
    engine.setViewerCount(1);
    engine.tick();
    engine.setViewerCount(2);
    nowMs = 999;
    assert.deepEqual(engine.tick().items, []);
    nowMs = 1_000;
    assert.deepEqual(engine.tick().items, [{ type: 'viewers', count: 2 }]);
  });
});
