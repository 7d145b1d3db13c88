/**
 * Exact accounting of every input the engine takes. Each input ends in one
 * outcome: delivered as its own item, merged into another item (a likes or
 * joins aggregate, a gift combo), or dropped with a reason; until its tick
 * it is pending. For every class, and for the total:
 *
 *   received = delivered + merged + dropped (all reasons) + pending
 *
 * The engine counts outcomes as they happen and measures `pending` from its
 * queues, so the equation is a check on the engine, not a definition.
 *
 * Outcomes are counted in messages (inputs). Likes and joins also carry
 * units (one like message may carry 50 likes), counted separately in
 * `units`. Custom types share the class `custom` so metric labels stay
 * bounded whatever platforms register.
 */

export const ACCOUNTING_CLASSES = [
  'host',
  'gift',
  'system',
  'chat',
  'like',
  'join',
  'custom',
] as const;
export type AccountingClass = (typeof ACCOUNTING_CLASSES)[number];

export const DROP_REASONS = ['over_budget', 'overflow'] as const;
/**
 * Why a lossy input was dropped. `over_budget`: it lost the selection of its
 * tick. `overflow`: it arrived when `maxPendingLossy` items were already
 * waiting for the tick.
 */
export type DropReason = (typeof DROP_REASONS)[number];

/** Message counts of one class, or of all classes together. */
export interface ClassAccounting {
  received: number;
  delivered: number;
  merged: number;
  dropped: Record<DropReason, number>;
  pending: number;
}

/** Units carried by merged inputs (likes, joins). */
export interface UnitAccounting {
  /** Sum of the inputs' `count`. */
  received: number;
  /** Sum of the `count` of the aggregates sent. */
  emitted: number;
  /** Received but not yet in an aggregate. */
  pending: number;
}

export interface RoomAccounting {
  classes: Record<AccountingClass, ClassAccounting>;
  /** Sum over `classes`. */
  total: ClassAccounting;
  units: { like: UnitAccounting; join: UnitAccounting };
}

/** One figure for a metrics exporter: a counter, except `pending`, a gauge. */
export interface AccountingSample {
  class: AccountingClass | 'total';
  outcome: 'received' | 'delivered' | 'merged' | 'dropped' | 'pending';
  /** Set only when `outcome` is `dropped`. */
  reason?: DropReason;
  value: number;
}

export function emptyClassAccounting(): ClassAccounting {
  return {
    received: 0,
    delivered: 0,
    merged: 0,
    dropped: { over_budget: 0, overflow: 0 },
    pending: 0,
  };
}

function emptyUnits(): UnitAccounting {
  return { received: 0, emitted: 0, pending: 0 };
}

export function emptyAccounting(): RoomAccounting {
  const classes = {} as Record<AccountingClass, ClassAccounting>;
  for (const name of ACCOUNTING_CLASSES) {
    classes[name] = emptyClassAccounting();
  }

  return {
    classes,
    total: emptyClassAccounting(),
    units: { like: emptyUnits(), join: emptyUnits() },
  };
}

function addClass(
  into: ClassAccounting,
  from: ClassAccounting,
  sign: 1 | -1,
): void {
  into.received += sign * from.received;
  into.delivered += sign * from.delivered;
  into.merged += sign * from.merged;
  into.pending += sign * from.pending;
  for (const reason of DROP_REASONS) {
    into.dropped[reason] += sign * from.dropped[reason];
  }
}

function addUnits(
  into: UnitAccounting,
  from: UnitAccounting,
  sign: 1 | -1,
): void {
  into.received += sign * from.received;
  into.emitted += sign * from.emitted;
  into.pending += sign * from.pending;
}

function combine(
  into: RoomAccounting,
  from: RoomAccounting,
  sign: 1 | -1,
): RoomAccounting {
  for (const name of ACCOUNTING_CLASSES) {
    addClass(into.classes[name], from.classes[name], sign);
  }

  addClass(into.total, from.total, sign);
  addUnits(into.units.like, from.units.like, sign);
  addUnits(into.units.join, from.units.join, sign);
  return into;
}

/**
 * Adds `from` into `into` and returns `into`: how a shard sums its rooms
 * without allocating per room. Add a closing room's final figures to a
 * retired total, or process-wide counters would go backwards.
 */
export function addAccounting(
  into: RoomAccounting,
  from: RoomAccounting,
): RoomAccounting {
  return combine(into, from, 1);
}

/**
 * `later - earlier` as a new object: the increments to feed counters since
 * the previous scrape. `pending` comes out as a change, not a level.
 */
export function subtractAccounting(
  later: RoomAccounting,
  earlier: RoomAccounting,
): RoomAccounting {
  return combine(combine(emptyAccounting(), later, 1), earlier, -1);
}

/** The figures as flat samples by class and outcome, total included. */
export function accountingSamples(acc: RoomAccounting): AccountingSample[] {
  const out: AccountingSample[] = [];
  const rows: [AccountingClass | 'total', ClassAccounting][] = [
    ...ACCOUNTING_CLASSES.map((name): [AccountingClass, ClassAccounting] => [
      name,
      acc.classes[name],
    ]),
    ['total', acc.total],
  ];
  for (const [name, counts] of rows) {
    out.push({ class: name, outcome: 'received', value: counts.received });
    out.push({ class: name, outcome: 'delivered', value: counts.delivered });
    out.push({ class: name, outcome: 'merged', value: counts.merged });
    for (const reason of DROP_REASONS) {
      out.push({
        class: name,
        outcome: 'dropped',
        reason,
        value: counts.dropped[reason],
      });
    }
    out.push({ class: name, outcome: 'pending', value: counts.pending });
  }

  return out;
}

/** Outcome counters the engine bumps on the hot path; pending is measured. */
export class ClassCounter {
  received = 0;
  delivered = 0;
  merged = 0;
  overBudget = 0;
  overflow = 0;

  /**
   * Adds this counter's figures, with `pending` measured by the caller, to
   * `into` and to `total`. Allocates nothing: a shard sums thousands of
   * rooms this way on every metrics scrape, on its tick's event loop.
   */
  addTo(into: ClassAccounting, total: ClassAccounting, pending: number): void {
    this.#addOnce(into, pending);
    this.#addOnce(total, pending);
  }

  #addOnce(sum: ClassAccounting, pending: number): void {
    sum.received += this.received;
    sum.delivered += this.delivered;
    sum.merged += this.merged;
    sum.dropped.over_budget += this.overBudget;
    sum.dropped.overflow += this.overflow;
    sum.pending += pending;
  }
}
