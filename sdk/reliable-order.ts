/**
 * In-order, exactly-once delivery of reliable items. Items arrive by seq with
 * repeats (resume replays, frames that overlap the welcome's seq) and, only
 * if something upstream went wrong, with gaps; this hands the app each seq
 * once, ascending, holding back items that arrive early until the gap fills
 * or the server says it will not.
 */
import type { ReliableItem } from '../protocol/frames.js';

/** How many recent ids are remembered to drop repeats by id. */
const RECENT_IDS = 4096;

/** The highest seq an item stands for: merged gifts cover all of `seqs`. */
export function lastSeqOf(item: ReliableItem): number {
  return item.seqs?.at(-1) ?? item.seq;
}

/** A bounded set of recently seen ids, oldest forgotten first. */
export class RecentIds {
  #ids = new Set<string>();
  #capacity: number;

  constructor(capacity = RECENT_IDS) {
    this.#capacity = capacity;
  }

  /** Records the id; false if it was already there. */
  add(id: string): boolean {
    if (this.#ids.has(id)) {
      return false;
    }

    this.#ids.add(id);
    if (this.#ids.size > this.#capacity) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) {
        this.#ids.delete(oldest);
      }
    }

    return true;
  }
}

export class ReliableOrder {
  #seq: number | undefined;
  #early = new Map<number, ReliableItem>();
  #ids = new RecentIds();

  /** The last seq delivered (or skipped on the server's word); undefined before the first welcome. */
  get seq(): number | undefined {
    return this.#seq;
  }

  /** True while items wait for an earlier seq. */
  get waiting(): boolean {
    return this.#early.size > 0;
  }

  /** Sets the position without delivering anything (a fresh welcome). */
  start(seq: number): void {
    this.#seq = seq;
  }

  /**
   * Takes one item; returns the items now deliverable, in order. An item
   * whose every seq was already delivered, or whose id was, is dropped.
   */
  offer(item: ReliableItem): ReliableItem[] {
    const last = lastSeqOf(item);
    if (this.#seq !== undefined && last <= this.#seq) {
      return [];
    }

    if (this.#seq !== undefined && item.seq > this.#seq + 1) {
      this.#early.set(item.seq, item);
      return [];
    }

    return this.#deliver(item);
  }

  /**
   * The server has sent everything up to `seq` (`resumed`) or restarts the
   * sequence there (`reload`, with `restart`): items still missing below it
   * will not come, so what waits is released in order.
   */
  skipTo(seq: number, restart = false): ReliableItem[] {
    if (restart || this.#seq === undefined || seq > this.#seq) {
      this.#seq = seq;
    }

    if (restart) {
      for (const key of this.#early.keys()) {
        if (key <= seq) {
          this.#early.delete(key);
        }
      }
    }

    const out: ReliableItem[] = [];
    while (this.#early.size > 0) {
      const next = Math.min(...this.#early.keys());
      const item = this.#early.get(next);
      this.#early.delete(next);
      if (item !== undefined && lastSeqOf(item) > (this.#seq ?? 0)) {
        out.push(...this.#deliver(item));
      }
    }

    return out;
  }

  #deliver(item: ReliableItem): ReliableItem[] {
    this.#seq = lastSeqOf(item);
    const out = this.#ids.add(item.id) ? [item] : [];
    for (;;) {
      for (const [key, early] of this.#early) {
        if (lastSeqOf(early) <= this.#seq) {
          this.#early.delete(key);
        }
      }

      const next = this.#early.get(this.#seq + 1);
      if (next === undefined) {
        return out;
      }

      this.#early.delete(next.seq);
      this.#seq = lastSeqOf(next);
      if (this.#ids.add(next.id)) {
        out.push(next);
      }
    }
  }
}
