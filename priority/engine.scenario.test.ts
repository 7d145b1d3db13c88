/**
 * The storms the engine exists for, at the scale the issue names, driven by
 * a simulated clock: ten seconds of 100 ms ticks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type {
  BatchItem,
  ChatItem,
  LikesItem,
  ReliableItem,
} from '../protocol/index.js';
import { DEFAULT_SETTINGS, RoomEngine } from './index.js';

const TICK_MS = 100;
const TICKS = 100;
const START_MS = 1_700_000_000_000;

function isLikes(item: BatchItem): item is LikesItem {
  return item.type === 'likes';
}

function isChat(item: BatchItem): item is ChatItem {
  return item.type === 'chat';
}

function isReliable(item: BatchItem): item is ReliableItem {
  return item.type === 'gift' || item.type === 'host';
}

describe('RoomEngine scenarios', () => {
  test('like storm - 100,000 likes in 10 s become at most one likes item per tick with the exact total', () => {
    const engine = new RoomEngine();
    let sent = 0;
    let counted = 0;
    let lastTotal = 0;
    for (let t = 0; t < TICKS; t++) {
      const tickStartMs = START_MS + t * TICK_MS;
      // Uneven ticks: some carry 1,900 likes, some 100.
      const likes = t % 2 === 0 ? 1_900 : 100;
      for (let i = 0; i < likes; i++) {
        const user = `u${(t * 7_919 + i) % 20_000}`;
        engine.offer({
          type: 'like',
          ts: tickStartMs + (i % TICK_MS),
          from: { id: user, name: user },
        });
      }

      sent += likes;
      const items = engine.tick(tickStartMs + TICK_MS).items.filter(isLikes);
      assert.equal(items.length, 1, `tick ${t}`);
      for (const item of items) {
        counted += item.count;
        lastTotal = item.total;
        assert.equal(item.count, likes);
        assert.equal(item.names?.length, DEFAULT_SETTINGS.recentNames);
      }
    }

    assert.equal(sent, 100_000);
    assert.equal(counted, 100_000);
    assert.equal(lastTotal, 100_000);
    const like = engine.accounting().classes.like;
    assert.equal(like.received, 100_000);
    assert.equal(like.merged, 100_000);
    assert.equal(like.pending, 0);
  });

  test('chat flood - 5,000/s from 1,000 senders, half from one spammer: budget held, spammer gets no more than a fair share, reliable items all arrive in order', () => {
    const engine = new RoomEngine({}, { hostId: 'host', hostName: 'Star' });
    const perTick = 500;
    const senders = new Set<string>();
    const delivered = new Map<string, number>();
    const reliableSeqs: number[] = [];
    let seq = 0;
    let chatId = 0;
    let echoes = 0;
    let chats = 0;
    for (let t = 0; t < TICKS; t++) {
      const tickStartMs = START_MS + t * TICK_MS;
      for (let i = 0; i < perTick; i++) {
        // Every other message is the spammer's; the rest spread over 999.
        const sender = i % 2 === 0 ? 'spammer' : `v${(t * perTick + i) % 999}`;
        // The spammer holds the top level, so level alone would favour it.
        const level = sender === 'spammer' ? 19 : (i * 31) % 20;
        senders.add(sender);
        engine.offer({
          type: 'chat',
          id: String(++chatId),
          ts: tickStartMs + (i % TICK_MS),
          from: { id: sender, name: sender, level },
          text: `message ${chatId}`,
        });
        chats++;
        // Ten gifts and ten host messages, mid-flood, one every 5 ticks.
        if (i === perTick / 2 && t % 5 === 0) {
          seq++;
          reliableSeqs.push(seq);
          engine.offer(
            t % 10 === 0
              ? {
                  type: 'gift',
                  id: `g${seq}`,
                  seq,
                  ts: tickStartMs,
                  from: { id: sender },
                  data: { giftId: 'rose' },
                }
              : {
                  type: 'host',
                  id: `h${seq}`,
                  seq,
                  ts: tickStartMs,
                  from: { id: 'host', role: 'host' },
                  data: 'hello all',
                },
          );
        }
      }

      const result = engine.tick(tickStartMs + TICK_MS);
      echoes += result.echoes.length;
      for (const item of result.items.filter(isChat)) {
        delivered.set(item.from.id, (delivered.get(item.from.id) ?? 0) + 1);
      }

      const seqs = result.items.filter(isReliable).map((item) => item.seq);
      assert.deepEqual(seqs, t % 5 === 0 ? [seq] : [], `tick ${t}`);
    }

    assert.equal(chats, 50_000);
    assert.equal(senders.size, 1_000);
    assert.equal(seq, 20);
    const total = [...delivered.values()].reduce((sum, n) => sum + n, 0);
    const burst =
      (DEFAULT_SETTINGS.lossyItemsPerSecond * DEFAULT_SETTINGS.lossyBurstMs) /
      1000;
    const budget =
      burst + (DEFAULT_SETTINGS.lossyItemsPerSecond * TICKS * TICK_MS) / 1000;
    assert.ok(total <= budget, `${total} chats through, budget ${budget}`);
    // The bucket starts full, so the first tick's refill has nowhere to go.
    const firstRefill = (DEFAULT_SETTINGS.lossyItemsPerSecond * TICK_MS) / 1000;
    assert.ok(total >= budget - firstRefill, `${total} chats: budget unused`);
    const fairShare = Math.ceil(total / senders.size);
    const spammer = delivered.get('spammer') ?? 0;
    assert.ok(
      spammer <= fairShare,
      `spammer got ${spammer}, fair ${fairShare}`,
    );
    assert.equal(total + echoes, chats);
    const gifts = engine.accounting().classes.gift;
    assert.equal(gifts.delivered + gifts.merged, 10);
    assert.equal(engine.accounting().classes.host.delivered, 10);
  });

  test('chat flood - the host, moderators and mentions of the host get through first', () => {
    const engine = new RoomEngine({}, { hostId: 'host', hostName: 'Star' });
    let chatId = 0;
    const wanted = new Set<string>();
    const seen = new Set<string>();
    for (let t = 0; t < TICKS; t++) {
      const tickStartMs = START_MS + t * TICK_MS;
      for (let i = 0; i < 500; i++) {
        const id = String(++chatId);
        const special = i === 250 && t % 4 === 0;
        const from = special
          ? {
              id: t % 8 === 0 ? 'mod' : `fan${t}`,
              role: t % 8 === 0 ? ('moderator' as const) : ('viewer' as const),
            }
          : { id: `v${i % 300}`, level: 19 };
        if (special) {
          wanted.add(id);
        }

        engine.offer({
          type: 'chat',
          id,
          ts: tickStartMs,
          from,
          text: special && t % 8 !== 0 ? 'look @star' : 'spam',
        });
      }

      for (const item of engine
        .tick(tickStartMs + TICK_MS)
        .items.filter(isChat)) {
        seen.add(item.id);
      }
    }

    assert.equal(wanted.size, 25);
    assert.deepEqual(
      [...wanted].filter((id) => !seen.has(id)),
      [],
    );
  });
});
