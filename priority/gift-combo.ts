/**
 * Gift combos: the same gift from the same sender, each gift within
 * `windowMs` of the previous one, is one combo with an exact running count.
 *
 * Merging never holds a gift back. Gifts are only merged with gifts of the
 * same tick: the first gift of a combo in a tick goes out as an item, later
 * ones of that tick fold into it and add their seq to its `seqs`. A combo
 * that spans ticks shows up as one item per tick whose `combo.total` keeps
 * counting, so a client can draw "x12" without any gift arriving late, and
 * every seq the durable log assigned is still on the wire exactly once.
 */
import type { ReliableItem } from '../protocol/index.js';

interface Combo {
  id: string;
  total: number;
  lastTs: number;
  /** This combo's item in the tick being built, if it has one yet. */
  item: ReliableItem | undefined;
  tick: number;
}

/** The key a gift combos under, or undefined when it cannot combo. */
export function comboKey(item: ReliableItem): string | undefined {
  const senderId = item.from?.id;
  const data = item.data;
  if (senderId === undefined || typeof data !== 'object' || data === null) {
    return undefined;
  }

  const giftId = (data as { giftId?: unknown }).giftId;
  if (typeof giftId !== 'string' && typeof giftId !== 'number') {
    return undefined;
  }

  // A NUL cannot occur in either part, so distinct pairs give distinct keys.
  return `${senderId}\u0000${String(giftId)}`;
}

export class GiftCombos {
  #windowMs: number;
  #combos = new Map<string, Combo>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  set windowMs(value: number) {
    this.#windowMs = value;
  }

  /**
   * Gives `item` its combo fields, or folds it into the item of the same
   * combo already built this tick.
   * @returns true when `item` was folded and must not be sent itself
   */
  place(item: ReliableItem, tick: number): boolean {
    const key = comboKey(item);
    if (key === undefined) {
      return false;
    }

    const combo = this.#combos.get(key);
    if (combo === undefined || item.ts - combo.lastTs > this.#windowMs) {
      item.combo = { id: item.id, count: 1, total: 1 };
      this.#combos.set(key, {
        id: item.id,
        total: 1,
        lastTs: item.ts,
        item,
        tick,
      });
      return false;
    }

    combo.total++;
    combo.lastTs = Math.max(combo.lastTs, item.ts);
    const host = combo.tick === tick ? combo.item : undefined;
    if (host?.combo !== undefined) {
      host.seqs ??= [host.seq];
      host.seqs.push(item.seq);
      host.combo.count++;
      host.combo.total = combo.total;
      return true;
    }

    item.combo = { id: combo.id, count: 1, total: combo.total };
    combo.item = item;
    combo.tick = tick;
    return false;
  }

  /** Forgets combos whose window has closed by `nowMs`. */
  expire(nowMs: number): void {
    for (const [key, combo] of this.#combos) {
      if (nowMs - combo.lastTs > this.#windowMs) {
        this.#combos.delete(key);
      }
    }
  }

  get size(): number {
    return this.#combos.size;
  }
}
