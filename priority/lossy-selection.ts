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
 */
import { Buffer } from 'node:buffer';
import type { LossyBudget } from './budget.js';
import type { EngineInput } from './input.js';

/** Rank of chat from the host or a moderator. */
export const RANK_TRUSTED_CHAT = 300;
/** Rank of chat that mentions the host. */
export const RANK_MENTION_CHAT = 200;
/** Rank of any other chat. */
export const RANK_CHAT = 100;
/** The lately-delivered count of a sender halves in this time. */
export const FAIR_SHARE_HALF_LIFE_MS = 10_000;
/** Encoded size of a chat item apart from its strings, estimated. */
export const CHAT_OVERHEAD_BYTES = 48;
/** Size assumed for a custom lossy item that does not state `bytes`. */
export const CUSTOM_DEFAULT_BYTES = 128;

/**
 * A lossy input waiting for its tick. The ranking fields live on the entry
 * itself, filled in only when the tick is over budget, so ranking allocates
 * nothing per candidate.
 */
export class LossyEntry {
  readonly input: EngineInput;
  /** Position in the room's arrival order. */
  readonly arrival: number;
  /** A custom type's priority; undefined for chat. */
  readonly priority: number | undefined;
  rank = 0;
  round = 0;
  level = 0;
  key = '';
  admitted = false;
  #bytes = -1;

  constructor(
    input: EngineInput,
    arrival: number,
    priority: number | undefined,
  ) {
    this.input = input;
    this.arrival = arrival;
    this.priority = priority;
  }

  /** Estimated encoded size, worked out once. */
  get bytes(): number {
    if (this.#bytes < 0) {
      this.#bytes = lossyBytes(this);
    }

    return this.#bytes;
  }
}

/** Estimated encoded size of a lossy item, in bytes. */
export function lossyBytes(entry: LossyEntry): number {
  const input = entry.input;
  if (input.bytes !== undefined) {
    return input.bytes;
  }

  if (entry.priority !== undefined) {
    return CUSTOM_DEFAULT_BYTES;
  }

  return (
    CHAT_OVERHEAD_BYTES +
    (input.id?.length ?? 0) +
    (input.from?.id.length ?? 0) +
    Buffer.byteLength(input.from?.name ?? '') +
    Buffer.byteLength(input.text ?? '')
  );
}

/** Decaying counts of items delivered per sender. */
export class FairShareLedger {
  #served = new Map<string, { score: number; atMs: number }>();

  /** The sender's lately-delivered count, rounded. */
  round(key: string, nowMs: number): number {
    const entry = this.#served.get(key);
    return entry === undefined ? 0 : Math.round(decayed(entry, nowMs));
  }

  serve(key: string, nowMs: number): void {
    const entry = this.#served.get(key);
    if (entry === undefined) {
      this.#served.set(key, { score: 1, atMs: nowMs });
      return;
    }

    entry.score = decayed(entry, nowMs) + 1;
    entry.atMs = Math.max(entry.atMs, nowMs);
  }

  /** Forgets senders whose count has decayed to nothing. */
  sweep(nowMs: number): void {
    for (const [key, entry] of this.#served) {
      if (decayed(entry, nowMs) < 0.01) {
        this.#served.delete(key);
      }
    }
  }

  get size(): number {
    return this.#served.size;
  }
}

function decayed(
  entry: { score: number; atMs: number },
  nowMs: number,
): number {
  const ageMs = Math.max(0, nowMs - entry.atMs);
  return entry.score * 2 ** (-ageMs / FAIR_SHARE_HALF_LIFE_MS);
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

/** The sender key a lossy item's share is counted under. */
export function shareKey(entry: LossyEntry): string {
  const senderId = entry.input.from?.id;
  if (senderId !== undefined) {
    return senderId;
  }

  // Senderless custom items share per type, so one type cannot flood.
  return `\u0000${entry.input.type}`;
}

function isTrusted(entry: LossyEntry): boolean {
  const role = entry.input.from?.role;
  return (
    entry.priority === undefined && (role === 'host' || role === 'moderator')
  );
}

/** Negative when `a` should go out before `b`. */
function compare(a: LossyEntry, b: LossyEntry): number {
  return (
    b.rank - a.rank ||
    a.round - b.round ||
    b.level - a.level ||
    a.arrival - b.arrival
  );
}

export interface Selection {
  /** Entries to send, in arrival order. */
  admitted: readonly LossyEntry[];
  /** Entries dropped over budget, in arrival order. */
  dropped: readonly LossyEntry[];
}

const NONE: readonly LossyEntry[] = Object.freeze([]);
const NOTHING: Selection = Object.freeze({ admitted: NONE, dropped: NONE });

/**
 * Chooses the entries to send from `entries` (in arrival order) and spends
 * their budget. Records each admitted entry in `ledger`.
 */
export function selectLossy(
  entries: LossyEntry[],
  budget: LossyBudget,
  ledger: FairShareLedger,
  mentions: MentionMatcher,
  nowMs: number,
): Selection {
  if (entries.length === 0) {
    return NOTHING;
  }

  if (entries.length <= budget.slots) {
    let bytes = 0;
    for (const entry of entries) {
      bytes += entry.bytes;
    }

    // Strictly under: then every prefix leaves credit, so all are admitted.
    if (bytes < budget.byteCredits) {
      for (const entry of entries) {
        budget.spend(entry.bytes);
        ledger.serve(shareKey(entry), nowMs);
      }

      return { admitted: entries, dropped: NONE };
    }
  }

  for (const entry of rankBest(
    entries,
    budget.slots,
    ledger,
    mentions,
    nowMs,
  )) {
    if (!budget.canAdmit()) {
      break;
    }

    budget.spend(entry.bytes);
    ledger.serve(entry.key, nowMs);
    entry.admitted = true;
  }

  const admitted: LossyEntry[] = [];
  const dropped: LossyEntry[] = [];
  for (const entry of entries) {
    (entry.admitted ? admitted : dropped).push(entry);
  }

  return { admitted, dropped };
}

/** The best `limit` entries by the selection key, best first. */
function rankBest(
  entries: LossyEntry[],
  limit: number,
  ledger: FairShareLedger,
  mentions: MentionMatcher,
  nowMs: number,
): LossyEntry[] {
  const best: LossyEntry[] = [];
  if (limit <= 0) {
    return best;
  }

  const seenThisTick = new Map<string, number>();
  for (const entry of entries) {
    const key = shareKey(entry);
    const earlier = seenThisTick.get(key) ?? 0;
    seenThisTick.set(key, earlier + 1);
    const trusted = isTrusted(entry);
    entry.key = key;
    entry.rank = rankOf(entry, trusted, mentions);
    entry.round = trusted ? 0 : ledger.round(key, nowMs) + earlier;
    entry.level = entry.input.from?.level ?? 0;
    const worst = best[best.length - 1];
    if (best.length === limit && worst !== undefined) {
      if (compare(entry, worst) >= 0) {
        continue;
      }

      best.pop();
    }

    let at = best.length;
    while (at > 0 && compare(entry, best[at - 1] as LossyEntry) < 0) {
      at--;
    }

    best.splice(at, 0, entry);
  }

  return best;
}

function rankOf(
  entry: LossyEntry,
  trusted: boolean,
  mentions: MentionMatcher,
): number {
  if (entry.priority !== undefined) {
    return entry.priority;
  }

  if (trusted) {
    return RANK_TRUSTED_CHAT;
  }

  return mentions.matches(entry.input.text ?? '')
    ? RANK_MENTION_CHAT
    : RANK_CHAT;
}
