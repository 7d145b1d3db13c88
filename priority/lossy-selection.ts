/**
 * Which lossy items (chat and lossy custom types) go out in a tick.
 *
 * Under budget everything goes, in arrival order, and nothing is ranked.
 * Over budget every candidate gets a key and the best ones that the budget
 * affords go out, still shown in arrival order:
 *
 * 1. rank, higher first: chat from the host or a moderator 300, chat that
 *    mentions the host 200, other chat 100, a custom type its priority;
 * 2. round, lower first: how many items the sender had delivered lately
 *    (a count halving every 10 s, rounded) plus how many of its own items
 *    this tick came before this one. Chat from the host and moderators is
 *    always round 0;
 * 3. sender level (a token claim), higher first;
 * 4. arrival, earlier first.
 *
 * Round comes before level on purpose: ranking by level first would let one
 * high-level account take the whole budget, which is exactly the spammer
 * the share is there to stop. Level still orders senders of equal share,
 * which under a flood is nearly everyone who has not yet been shown.
 *
 * Only the best `slots` candidates are kept while scanning, in a small
 * sorted buffer, so a tick over budget costs O(candidates) plus
 * O(candidates x slots) in the worst case, and slots is small (15 at the
 * defaults).
 *
 * Nothing here allocates per candidate or per tick. The keys of a ranking
 * live in scratch arrays shared by every room of the process (a selection
 * runs to completion before the next starts, and JavaScript runs one at a
 * time), and the result is left as flags on the room's queue rather than
 * returned as new arrays.
 */
import type { LossyBudget } from './budget.js';
import type { LossyQueue } from './lossy-queue.js';

/** Rank of chat from the host or a moderator. */
export const RANK_TRUSTED_CHAT = 300;
/** Rank of chat that mentions the host. */
export const RANK_MENTION_CHAT = 200;
/** Rank of any other chat. */
export const RANK_CHAT = 100;
/** The lately-delivered count of a sender halves in this time. */
export const FAIR_SHARE_HALF_LIFE_MS = 10_000;

interface Served {
  score: number;
  atMs: number;
}

/**
 * Decaying counts of items delivered per sender. Most senders a tick
 * touches were last served the same whole number of ms ago (one tick), so
 * the last decay factor is kept and `2 ** x` is worked out only when the age
 * changes; the factor is the same number either way.
 */
export class FairShareLedger {
  #served = new Map<string, Served>();
  #factorAgeMs = 0;
  #factor = 1;

  /** The sender's lately-delivered count, rounded. */
  round(key: string, nowMs: number): number {
    const entry = this.#served.get(key);
    return entry === undefined ? 0 : Math.round(this.#decayed(entry, nowMs));
  }

  serve(key: string, nowMs: number): void {
    const entry = this.#served.get(key);
    if (entry === undefined) {
      this.#served.set(key, { score: 1, atMs: nowMs });
      return;
    }

    entry.score = this.#decayed(entry, nowMs) + 1;
    entry.atMs = Math.max(entry.atMs, nowMs);
  }

  /** Forgets senders whose count has decayed to nothing. */
  sweep(nowMs: number): void {
    for (const [key, entry] of this.#served) {
      if (this.#decayed(entry, nowMs) < 0.01) {
        this.#served.delete(key);
      }
    }
  }

  get size(): number {
    return this.#served.size;
  }

  #decayed(entry: Served, nowMs: number): number {
    const ageMs = Math.max(0, nowMs - entry.atMs);
    if (ageMs !== this.#factorAgeMs) {
      this.#factorAgeMs = ageMs;
      this.#factor = 2 ** (-ageMs / FAIR_SHARE_HALF_LIFE_MS);
    }

    return entry.score * this.#factor;
  }
}

/** Finds `@name` in chat text, case-insensitively, as a whole word. */
export class MentionMatcher {
  #needles: string[];

  constructor(names: (string | undefined)[]) {
    this.#needles = names
      .filter((name): name is string => name !== undefined && name !== '')
      .map((name) => `@${name.toLowerCase()}`);
  }

  matches(text: string): boolean {
    if (this.#needles.length === 0 || !text.includes('@')) {
      return false;
    }

    const lower = text.toLowerCase();
    for (const needle of this.#needles) {
      let at = lower.indexOf(needle);
      while (at >= 0) {
        const next = lower.charCodeAt(at + needle.length);
        if (Number.isNaN(next) || !isNameChar(next)) {
          return true;
        }

        at = lower.indexOf(needle, at + 1);
      }
    }

    return false;
  }
}

function isNameChar(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x5f ||
    code === 0x2e ||
    code === 0x2d
  );
}

/** The sender key the share of the item at `index` is counted under. */
export function shareKey(queue: LossyQueue, index: number): string {
  const input = queue.input(index);
  const senderId = input.from?.id;
  if (senderId !== undefined) {
    return senderId;
  }

  // Senderless custom items share per type, so one type cannot flood.
  return `\u0000${input.type}`;
}

// Scratch for one selection at a time, indexed like the queue being ranked.
const rankAt: number[] = [];
const roundAt: number[] = [];
const levelAt: number[] = [];
const keyAt: string[] = [];
/** Queue indexes of the best candidates so far, best first. */
const best: number[] = [];
/** Items per sender key seen so far in the ranking being run. */
const seenThisTick = new Map<string, number>();

/** Negative when the item at `a` should go out before the one at `b`. */
function compare(queue: LossyQueue, a: number, b: number): number {
  return (
    (rankAt[b] as number) - (rankAt[a] as number) ||
    (roundAt[a] as number) - (roundAt[b] as number) ||
    (levelAt[b] as number) - (levelAt[a] as number) ||
    queue.arrival(a) - queue.arrival(b)
  );
}

/**
 * Chooses the items of `queue` (in arrival order) to send and spends their
 * budget. Records each admitted item in `ledger`.
 * @returns true when every item is admitted; otherwise the queue's
 *   `admitted` flags say which are
 */
export function selectLossy(
  queue: LossyQueue,
  budget: LossyBudget,
  ledger: FairShareLedger,
  mentions: MentionMatcher,
  nowMs: number,
): boolean {
  const count = queue.length;
  if (count === 0) {
    return true;
  }

  if (count <= budget.slots) {
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      bytes += queue.bytes(i);
    }

    // Strictly under: then every prefix leaves credit, so all are admitted.
    if (bytes < budget.byteCredits) {
      for (let i = 0; i < count; i++) {
        budget.spend(queue.bytes(i));
        ledger.serve(shareKey(queue, i), nowMs);
      }

      return true;
    }
  }

  const kept = rankBest(queue, budget.slots, ledger, mentions, nowMs);
  for (let b = 0; b < kept; b++) {
    if (!budget.canAdmit()) {
      break;
    }

    const index = best[b] as number;
    budget.spend(queue.bytes(index));
    ledger.serve(keyAt[index] as string, nowMs);
    queue.admit(index);
  }

  // Let go of the sender ids until the next selection.
  for (let i = 0; i < count; i++) {
    keyAt[i] = '';
  }

  return false;
}

/**
 * Ranks every item of `queue` and leaves the best `limit`, best first, at
 * the start of `best`.
 * @returns how many of `best` are filled
 */
function rankBest(
  queue: LossyQueue,
  limit: number,
  ledger: FairShareLedger,
  mentions: MentionMatcher,
  nowMs: number,
): number {
  if (limit <= 0) {
    return 0;
  }

  let kept = 0;
  for (let index = 0; index < queue.length; index++) {
    const input = queue.input(index);
    const priority = queue.priority(index);
    const key = shareKey(queue, index);
    const earlier = seenThisTick.get(key) ?? 0;
    seenThisTick.set(key, earlier + 1);
    const role = input.from?.role;
    const trusted =
      priority === undefined && (role === 'host' || role === 'moderator');
    keyAt[index] = key;
    rankAt[index] = rankOf(input.text, priority, trusted, mentions);
    roundAt[index] = trusted ? 0 : ledger.round(key, nowMs) + earlier;
    levelAt[index] = input.from?.level ?? 0;
    if (kept === limit) {
      if (compare(queue, index, best[kept - 1] as number) >= 0) {
        continue;
      }

      kept--;
    }

    let at = kept;
    while (at > 0 && compare(queue, index, best[at - 1] as number) < 0) {
      best[at] = best[at - 1] as number;
      at--;
    }

    best[at] = index;
    kept++;
  }

  seenThisTick.clear();
  return kept;
}

function rankOf(
  text: string | undefined,
  priority: number | undefined,
  trusted: boolean,
  mentions: MentionMatcher,
): number {
  if (priority !== undefined) {
    return priority;
  }

  if (trusted) {
    return RANK_TRUSTED_CHAT;
  }

  return mentions.matches(text ?? '') ? RANK_MENTION_CHAT : RANK_CHAT;
}
