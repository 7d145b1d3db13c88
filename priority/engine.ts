/**
 * One room's priority engine: takes the room's accepted messages as they
 * come (`offer`) and, once per tick, says what goes out (`tick`).
 *
 * `offer` is the hot path, called once per message of every room, so it
 * does the least it can: likes and joins only bump a tally, chat and custom
 * items are queued with their arrival position and size estimate (cheap
 * while the strings are in cache), reliable items are queued after a seq
 * check. Ranking and mention checks happen in `tick`, and only when the
 * room is over budget.
 *
 * `tick` runs for every active room every 100 ms, so it allocates only
 * what it hands back: the batch, its items and the echoes. Queues and work
 * lists are reused from tick to tick (see lossy-queue.ts), a lane that fits
 * its budget is sent without ranking, and the lanes are merged straight
 * into the batch. Per-room objects that lived from one tick to the next were
 * the largest cost at 10,000 rooms, in garbage collection rather than in
 * the engine's own code. A room with nothing new still has its budget,
 * cadence and sweeps moved on, and costs a few field updates.
 *
 * The engine has no timers and no I/O: time comes from the `nowMs` the
 * shard passes to `tick` (or the clock it was given), so a test or a replay
 * with the same inputs and times gets the same output.
 */
import type { BatchItem, ChatItem, ReliableItem } from '../protocol/index.js';
import {
  ACCOUNTING_CLASSES,
  ClassCounter,
  emptyAccounting,
  type AccountingClass,
  type RoomAccounting,
} from './accounting.js';
import { Aggregates } from './aggregates.js';
import { echoItem, lossyItem, reliableItem } from './batch-items.js';
import { LossyBudget, type LoadSignal } from './budget.js';
import { PriorityError } from './errors.js';
import { GiftCombos } from './gift-combo.js';
import type { EngineInput } from './input.js';
import { ArrivalList, LossyQueue } from './lossy-queue.js';
import {
  FairShareLedger,
  MentionMatcher,
  selectLossy,
} from './lossy-selection.js';
import {
  DEFAULT_SETTINGS,
  resolveSettings,
  type CustomTypeSettings,
  type EngineSettings,
} from './settings.js';

/** Ticks between sweeps of senders whose share has decayed away. */
const LEDGER_SWEEP_TICKS = 128;

export interface EngineOptions {
  /** Wall clock in epoch ms, read when `tick()` is given no time. Default `Date.now`. */
  clock?: () => number;
  /** The host's user id; `@hostId` in chat counts as a mention of the host. */
  hostId?: string;
  /** The host's display name; `@hostName` in chat counts as a mention. */
  hostName?: string;
  /** The room's like total so far, for a room moving between shards. Default 0. */
  likesTotal?: number;
  /** The room's last reliable seq; offered seqs must exceed it. Default 0. */
  lastSeq?: number;
}

/** What goes out in one tick. */
export interface TickResult {
  /**
   * The room's batch: reliable and selected lossy items in arrival order
   * (so reliable items in seq order), then `likes`, `joins`, `viewers`.
   * Empty when there is nothing to send.
   */
  items: BatchItem[];
  /** Dropped chats marked `echo`, each for its sender (`from.id`) only. */
  echoes: ChatItem[];
}

function badInput(message: string): PriorityError {
  return new PriorityError('PRIORITY_BAD_INPUT', message);
}

function unitsOf(input: EngineInput): number {
  const count = input.count ?? 1;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw badInput(`${input.type} count must be an integer >= 1`);
  }

  return count;
}

export class RoomEngine {
  #settings: EngineSettings;
  #clock: () => number;
  #budget: LossyBudget;
  #ledger = new FairShareLedger();
  #mentions: MentionMatcher;
  #combos: GiftCombos | undefined;
  #custom: Map<string, CustomTypeSettings>;
  #counters: Record<AccountingClass, ClassCounter>;
  #chat: ClassCounter;
  #reliable = new ArrivalList<EngineInput>();
  /** This tick's reliable items, built by #drainReliable. */
  #sendReliable = new ArrivalList<ReliableItem>();
  #lossy = new LossyQueue();
  /** Echoes of chat dropped since the last tick; handed out when not empty. */
  #echoes: ChatItem[] = [];
  #aggregates: Aggregates;
  #lastSeq: number;
  #arrival = 0;
  #tickNo = 0;

  /** @throws PriorityError `PRIORITY_BAD_SETTINGS` */
  constructor(
    settings: Partial<EngineSettings> = {},
    options: EngineOptions = {},
  ) {
    this.#settings = resolveSettings(DEFAULT_SETTINGS, settings);
    this.#clock = options.clock ?? Date.now;
    this.#mentions = new MentionMatcher([options.hostId, options.hostName]);
    this.#lastSeq = options.lastSeq ?? 0;
    this.#budget = new LossyBudget(this.#settings);
    this.#custom = new Map(Object.entries(this.#settings.customTypes));
    this.#combos = this.#newCombos();
    const counters = {} as Record<AccountingClass, ClassCounter>;
    for (const name of ACCOUNTING_CLASSES) {
      counters[name] = new ClassCounter();
    }

    this.#counters = counters;
    this.#chat = counters.chat;
    this.#aggregates = new Aggregates(
      counters,
      this.#settings.recentNames,
      options.likesTotal ?? 0,
      this.#settings.joinsIntervalMs,
    );
  }

  /** The settings in force, defaults filled in. */
  get settings(): Readonly<EngineSettings> {
    return this.#settings;
  }

  /** Share of the lossy budget load currently leaves, `minLoadFactor`..1. */
  get loadFactor(): number {
    return this.#budget.factor;
  }

  /** True when a tick would send nothing: the shard may skip the room. */
  get idle(): boolean {
    return (
      this.#reliable.length === 0 &&
      this.#lossy.length === 0 &&
      this.#echoes.length === 0 &&
      this.#aggregates.idle
    );
  }

  /**
   * Takes one accepted message. Throws on a caller bug and then changes
   * nothing; traffic is never refused, only dropped and counted at the tick.
   * @throws PriorityError `PRIORITY_BAD_INPUT`, `PRIORITY_UNKNOWN_TYPE`,
   *   `PRIORITY_SEQ_ORDER`
   */
  offer(input: EngineInput): void {
    switch (input.type) {
      case 'like': {
        this.#aggregates.addLike(unitsOf(input), input.from);
        return;
      }
      case 'chat':
        if (
          typeof input.id !== 'string' ||
          typeof input.text !== 'string' ||
          typeof input.from?.id !== 'string'
        ) {
          throw badInput('chat needs id, text and from.id');
        }

        this.#queueLossy(input, undefined, this.#chat);
        return;
      case 'join': {
        this.#aggregates.addJoin(unitsOf(input), input.from);
        return;
      }
      case 'host':
      case 'gift':
      case 'system':
        this.#queueReliable(input, this.#counters[input.type]);
        return;
      default:
        this.#offerCustom(input);
    }
  }

  #offerCustom(input: EngineInput): void {
    const spec = this.#custom.get(input.type);
    if (spec === undefined) {
      throw new PriorityError(
        'PRIORITY_UNKNOWN_TYPE',
        `type '${input.type}' is not built in or registered`,
      );
    }

    if (spec.class === 'reliable') {
      this.#queueReliable(input, this.#counters.custom);
    } else {
      this.#queueLossy(input, spec.priority, this.#counters.custom);
    }
  }

  #queueReliable(input: EngineInput, counter: ClassCounter): void {
    const seq = input.seq;
    if (typeof input.id !== 'string' || seq === undefined) {
      throw badInput(`${input.type} needs id and seq`);
    }

    if (!Number.isSafeInteger(seq) || seq <= this.#lastSeq) {
      throw new PriorityError(
        'PRIORITY_SEQ_ORDER',
        `seq ${seq} does not follow ${this.#lastSeq}`,
      );
    }

    this.#lastSeq = seq;
    counter.received++;
    this.#reliable.push(input, this.#arrival++);
  }

  #queueLossy(
    input: EngineInput,
    priority: number | undefined,
    counter: ClassCounter,
  ): void {
    const bytes = input.bytes;
    if (bytes !== undefined && !(bytes >= 0 && bytes < Infinity)) {
      throw badInput('bytes must be a finite number >= 0');
    }

    counter.received++;
    if (this.#lossy.length >= this.#settings.maxPendingLossy) {
      counter.overflow++;
      if (priority === undefined) {
        this.#echoes.push(echoItem(input));
      }

      return;
    }

    this.#lossy.push(input, this.#arrival++, priority);
  }

  /**
   * Sets the room's viewer count; a `viewers` item follows when it differs
   * from the last one sent, at most once per VIEWERS_INTERVAL_MS.
   */
  setViewerCount(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw badInput('viewer count must be an integer >= 0');
    }

    this.#aggregates.setViewerCount(count);
  }

  /**
   * Reports load; each field holds until reported again. Takes effect at the
   * next tick and affects only the lossy lane and the aggregates' cadence.
   */
  setLoad(signal: LoadSignal): void {
    this.#budget.setLoad(signal);
  }

  /**
   * Changes some settings; the rest keep their values. Queued inputs keep
   * the class they were offered under.
   * @throws PriorityError `PRIORITY_BAD_SETTINGS`, and then changes nothing
   */
  updateSettings(settings: Partial<EngineSettings>): void {
    const next = resolveSettings(this.#settings, settings);
    this.#settings = next;
    this.#budget.configure(next);
    this.#custom = new Map(Object.entries(next.customTypes));
    if (next.giftCombo === false) {
      this.#combos = undefined;
    } else if (this.#combos === undefined) {
      this.#combos = this.#newCombos();
    } else {
      this.#combos.windowMs = next.giftCombo.windowMs;
    }

    this.#aggregates.recentNames = next.recentNames;
    this.#aggregates.joinsIntervalMs = next.joinsIntervalMs;
  }

  #newCombos(): GiftCombos | undefined {
    const combo = this.#settings.giftCombo;
    return combo === false ? undefined : new GiftCombos(combo.windowMs);
  }

  /**
   * Decides what goes out now. Call it every `tickMs`; calling it late or
   * skipping idle rooms is safe, the budget is refilled by elapsed time.
   * @param nowMs the tick's time in epoch ms; default the engine's clock
   */
  tick(nowMs: number = this.#clock()): TickResult {
    this.#tickNo++;
    this.#budget.refill(nowMs, this.#settings.tickMs);
    const items: BatchItem[] = [];
    if (this.#reliable.length > 0 || this.#lossy.length > 0) {
      this.#drainReliable();
      this.#drainLanes(items, nowMs);
    }

    this.#aggregates.emit(items, this.#budget.factor, nowMs);
    let echoes: ChatItem[] = [];
    if (this.#echoes.length > 0) {
      echoes = this.#echoes;
      this.#echoes = [];
    }

    if (this.#tickNo % LEDGER_SWEEP_TICKS === 0) {
      this.#ledger.sweep(nowMs);
    }

    this.#combos?.expire(nowMs);
    return { items, echoes };
  }

  /** Turns the queued reliable inputs into #sendReliable's items. */
  #drainReliable(): void {
    const send = this.#sendReliable;
    const inputs = this.#reliable;
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs.value(i);
      const item = reliableItem(input, input.id as string, input.seq as number);
      const counter = this.#counterOf(input.type);
      if (input.type === 'gift' && this.#combos?.place(item, this.#tickNo)) {
        counter.merged++;
        continue;
      }

      counter.delivered++;
      send.push(item, inputs.arrival(i));
    }

    inputs.clear();
  }

  /**
   * Selects the lossy lane, then appends both lanes to `items` in arrival
   * order, counting each lossy outcome and echoing dropped chat on the way.
   */
  #drainLanes(items: BatchItem[], nowMs: number): void {
    const reliable = this.#sendReliable;
    const lossy = this.#lossy;
    const all = selectLossy(
      lossy,
      this.#budget,
      this.#ledger,
      this.#mentions,
      nowMs,
    );
    let r = 0;
    let l = 0;
    while (r < reliable.length || l < lossy.length) {
      if (
        l === lossy.length ||
        (r < reliable.length && reliable.arrival(r) < lossy.arrival(l))
      ) {
        items.push(reliable.value(r));
        r++;
        continue;
      }

      const input = lossy.input(l);
      const priority = lossy.priority(l);
      const counter =
        priority === undefined ? this.#chat : this.#counters.custom;
      if (all || lossy.admitted(l)) {
        counter.delivered++;
        items.push(lossyItem(input, priority));
      } else {
        counter.overBudget++;
        if (priority === undefined) {
          this.#echoes.push(echoItem(input));
        }
      }

      l++;
    }

    reliable.clear();
    lossy.clear();
  }

  #counterOf(type: string): ClassCounter {
    return type === 'host' || type === 'gift' || type === 'system'
      ? this.#counters[type]
      : this.#counters.custom;
  }

  /** Cumulative counts since the engine was made; see RoomAccounting. */
  accounting(): RoomAccounting {
    return this.addAccountingTo(emptyAccounting());
  }

  /**
   * Adds this room's accounting to `into` and returns it. Allocates nothing,
   * so summing every room for a metrics scrape stays cheap (building an
   * object per room made a scrape of 10,000 rooms cost more than a tick).
   */
  addAccountingTo(into: RoomAccounting): RoomAccounting {
    let host = 0;
    let gift = 0;
    let system = 0;
    let custom = this.#lossy.customCount;
    for (let i = 0; i < this.#reliable.length; i++) {
      const type = this.#reliable.value(i).type;
      if (type === 'host') {
        host++;
      } else if (type === 'gift') {
        gift++;
      } else if (type === 'system') {
        system++;
      } else {
        custom++;
      }
    }

    const { classes, total } = into;
    const counters = this.#counters;
    counters.host.addTo(classes.host, total, host);
    counters.gift.addTo(classes.gift, total, gift);
    counters.system.addTo(classes.system, total, system);
    counters.chat.addTo(
      classes.chat,
      total,
      this.#lossy.length - this.#lossy.customCount,
    );
    counters.like.addTo(classes.like, total, this.#aggregates.pendingLikes);
    counters.join.addTo(classes.join, total, this.#aggregates.pendingJoins);
    counters.custom.addTo(classes.custom, total, custom);
    this.#aggregates.addUnitsTo(into.units);
    return into;
  }
}
