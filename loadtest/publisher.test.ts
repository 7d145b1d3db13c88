import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PublishBody, PublishReply } from './admin-client.js';
import { Publisher, type PublishTarget } from './publisher.js';

/** Accepts everything and numbers reliable messages per room. */
class FakeAdmin implements PublishTarget {
  readonly bodies: { room: string; body: PublishBody }[] = [];
  readonly #seqs = new Map<string, number>();

  publish(room: string, body: PublishBody): Promise<PublishReply> {
    this.bodies.push({ room, body });
    if (body.type === 'chat') {
      return Promise.resolve({ status: 202, id: '1' });
    }

    const seq = (this.#seqs.get(room) ?? 0) + 1;
    this.#seqs.set(room, seq);
    return Promise.resolve({ status: 202, id: String(seq), seq });
  }
}

function dueTimes(admin: FakeAdmin, type: string): number[] {
  return admin.bodies
    .filter(({ body }) => body.type === type)
    .map(({ body }) => (body.data as { lt: number }).lt);
}

test('publisher - sends each stream on its fixed schedule', async () => {
  const admin = new FakeAdmin();
  const result = await new Publisher({
    admin,
    streams: [
      { room: 'a', type: 'gift', perSecond: 100 },
      { room: 'b', type: 'host', perSecond: 50 },
    ],
    durationMs: 300,
  }).run();
  // 100/s for 300 ms is due at 0, 10, ..., 290 ms: 30 sends; 50/s: 15.
  assert.equal(result.byType.gift.accepted, 30);
  assert.equal(result.byType.host.accepted, 15);
  assert.deepEqual(result.finalSeqs, { a: 30, b: 15 });
  const gifts = dueTimes(admin, 'gift');
  for (let i = 1; i < gifts.length; i++) {
    const step = (gifts[i] as number) - (gifts[i - 1] as number);
    assert.ok(Math.abs(step - 10) < 1e-6, `step ${step} ms`);
  }

  const hosts = dueTimes(admin, 'host');
  // The second stream is offset by half its interval so streams interleave.
  assert.ok(Math.abs((hosts[0] as number) - (gifts[0] as number) - 10) < 1e-6);
});

test('publisher - carries the due time in chat text', async () => {
  const admin = new FakeAdmin();
  await new Publisher({
    admin,
    streams: [{ room: 'a', type: 'chat', perSecond: 100 }],
    durationMs: 50,
    chatTextBytes: 64,
  }).run();
  const texts = admin.bodies.map(
    ({ body }) => (body.data as { text: string }).text,
  );
  assert.equal(texts.length, 5);
  for (const text of texts) {
    assert.equal(text.length, 64);
    assert.match(text, /^lt:\d+\.\d{3} x+$/);
  }
});
