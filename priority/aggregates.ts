/**
 * The room's aggregate items: `likes` and `joins` built from tallies, and
 * `viewers` when the count changes.
 *
 * Likes go out every tick that has any, joins at most every
 * `joinsIntervalMs`; under load both wait at least ceil(1 / load factor)
 * ticks. The counts keep adding up in between, so slowing them down costs
 * freshness and never a like or a join.
 */
import type {
  BatchItem,
  JoinsItem,
  LikesItem,
  Sender,
} from '../protocol/index.js';
import type { ClassCounter, UnitAccounting } from './accounting.js';
import { Tally } from './tally.js';

/** A `viewers` item goes out at most this often. */
export const VIEWERS_INTERVAL_MS = 1000;

export class Aggregates {
  #likes: Tally;
  #joins: Tally;
  #likeCounter: ClassCounter;
  #joinCounter: ClassCounter;
  #likeUnits = { received: 0, emitted: 0 };
  #joinUnits = { received: 0, emitted: 0 };
  #recentNames: number;
  #likesTotal: number;
  #ticksSinceEmit = Number.MAX_SAFE_INTEGER;
  #viewerCount: number | undefined;
  /** A room starts empty: a count of 0 before anyone joined is not news. */
  #viewersSent = 0;
  #viewersSentAtMs = -Infinity;
  #joinsSentAtMs = -Infinity;
  /** See EngineSettings.joinsIntervalMs. */
  joinsIntervalMs: number;

  constructor(
    counters: { like: ClassCounter; join: ClassCounter },
    recentNames: number,
    likesTotal: number,
    joinsIntervalMs: number,
  ) {
    this.joinsIntervalMs = joinsIntervalMs;
    this.#likeCounter = counters.like;
    this.#joinCounter = counters.join;
    this.#recentNames = recentNames;
    this.#likesTotal = likesTotal;
    this.#likes = new Tally(recentNames);
    this.#joins = new Tally(recentNames);
  }

  set recentNames(value: number) {
    if (value !== this.#recentNames) {
      this.#recentNames = value;
      this.#likes.resize(value);
      this.#joins.resize(value);
    }
  }

  /** True when no like, join or viewer change is waiting to go out. */
  get idle(): boolean {
    return (
      this.#likes.messages === 0 &&
      this.#joins.messages === 0 &&
      (this.#viewerCount ?? this.#viewersSent) === this.#viewersSent
    );
  }

  /** Like and join messages not yet in an aggregate. */
  get pendingLikes(): number {
    return this.#likes.messages;
  }

  get pendingJoins(): number {
    return this.#joins.messages;
  }

  addLike(units: number, from: Sender | undefined): void {
    this.#likeCounter.received++;
    this.#likeUnits.received += units;
    this.#likes.add(units, from?.name);
  }

  addJoin(units: number, from: Sender | undefined): void {
    this.#joinCounter.received++;
    this.#joinUnits.received += units;
    this.#joins.add(units, from?.name);
  }

  setViewerCount(count: number): void {
    this.#viewerCount = count;
  }

  /** Appends this tick's aggregates to `items`. */
  emit(items: BatchItem[], loadFactor: number, nowMs: number): void {
    this.#emitTallies(items, loadFactor, nowMs);
    const count = this.#viewerCount;
    if (
      count !== undefined &&
      count !== this.#viewersSent &&
      nowMs - this.#viewersSentAtMs >= VIEWERS_INTERVAL_MS
    ) {
      items.push({ type: 'viewers', count });
      this.#viewersSent = count;
      this.#viewersSentAtMs = nowMs;
    }
  }

  #emitTallies(items: BatchItem[], loadFactor: number, nowMs: number): void {
    this.#ticksSinceEmit++;
    const likes = this.#likes;
    const joins = this.#joins;
    const joinsDue =
      joins.messages > 0 && nowMs - this.#joinsSentAtMs >= this.joinsIntervalMs;
    // The epsilon keeps a factor of exactly 1/n from rounding up to n + 1.
    const every = Math.ceil(1 / loadFactor - 1e-9);
    if (this.#ticksSinceEmit < every || (likes.messages === 0 && !joinsDue)) {
      return;
    }

    this.#ticksSinceEmit = 0;
    if (likes.messages > 0) {
      this.#likesTotal += likes.units;
      const item: LikesItem = {
        type: 'likes',
        count: likes.units,
        total: this.#likesTotal,
      };
      const names = likes.names(this.#recentNames);
      if (names.length > 0) {
        item.names = names;
      }

      items.push(item);
      this.#likeCounter.merged += likes.messages;
      this.#likeUnits.emitted += likes.units;
      likes.take();
    }

    if (joinsDue) {
      this.#joinsSentAtMs = nowMs;
      const item: JoinsItem = {
        type: 'joins',
        count: joins.units,
        names: joins.names(this.#recentNames),
      };
      items.push(item);
      this.#joinCounter.merged += joins.messages;
      this.#joinUnits.emitted += joins.units;
      joins.take();
    }
  }

  /** Adds the like and join units to `into` without allocating. */
  addUnitsTo(into: { like: UnitAccounting; join: UnitAccounting }): void {
    into.like.received += this.#likeUnits.received;
    into.like.emitted += this.#likeUnits.emitted;
    into.like.pending += this.#likes.units;
    into.join.received += this.#joinUnits.received;
    into.join.emitted += this.#joinUnits.emitted;
    into.join.pending += this.#joins.units;
  }
}
