/**
 * The priority engine: per room and per tick, what of a room's traffic goes
 * out to viewers. A pure library: no I/O, no timers. docs/priority.md
 * describes the model.
 */
export { RoomEngine } from './engine.js';
export { VIEWERS_INTERVAL_MS } from './aggregates.js';
export type { EngineOptions, TickResult } from './engine.js';
export type { EngineInput } from './input.js';
export {
  DEFAULT_SETTINGS,
  BUILT_IN_TYPES,
  resolveSettings,
} from './settings.js';
export type { EngineSettings, CustomTypeSettings } from './settings.js';
export { LAG_FREE_MS, LAG_FULL_MS } from './budget.js';
export type { LoadSignal } from './budget.js';
export {
  FAIR_SHARE_HALF_LIFE_MS,
  RANK_CHAT,
  RANK_MENTION_CHAT,
  RANK_TRUSTED_CHAT,
} from './lossy-selection.js';
export {
  ACCOUNTING_CLASSES,
  DROP_REASONS,
  accountingSamples,
  addAccounting,
  emptyAccounting,
  subtractAccounting,
} from './accounting.js';
export type {
  AccountingClass,
  AccountingSample,
  ClassAccounting,
  DropReason,
  RoomAccounting,
  UnitAccounting,
} from './accounting.js';
export { PriorityError } from './errors.js';
export type { PriorityErrorCode } from './errors.js';
