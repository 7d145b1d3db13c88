/**
 * Per-room engine settings: one defaults object, and a validator that rejects
 * unknown keys and out-of-range values so a typo in a platform's room
 * override fails loudly instead of silently running with the default.
 */
import { PriorityError } from './errors.js';

/** How a custom type a platform registers is treated. */
export interface CustomTypeSettings {
  /** `reliable`: handled like `host`; `lossy`: competes with chat. */
  class: 'reliable' | 'lossy';
  /**
   * Rank of a lossy custom item against chat, on the scale where chat from
   * the host or a moderator is 300, chat mentioning the host 200 and other
   * chat 100. Higher goes first. Ignored for reliable types.
   */
  priority: number;
}

/** A room's engine settings. Every field has a default; see DEFAULT_SETTINGS. */
export interface EngineSettings {
  /** How often the shard calls `tick()`, in ms. Default 100. */
  tickMs: number;
  /** Lossy lane budget (chat and lossy custom items), items/s. Default 30. */
  lossyItemsPerSecond: number;
  /** Lossy lane budget, bytes/s of estimated encoded size. Default 16,384. */
  lossyBytesPerSecond: number;
  /**
   * How much unused budget carries over, in ms of budget: the bucket holds at
   * most this many ms worth of items and bytes. Default 500.
   */
  lossyBurstMs: number;
  /** Merge runs of the same gift from the same sender. Default `false`. */
  giftCombo: false | { windowMs: number };
  /** Types a platform registered, by name. Default none. */
  customTypes: Record<string, CustomTypeSettings>;
  /** Names of recent likers and joiners to put in each aggregate. Default 5. */
  recentNames: number;
  /**
   * A `joins` item goes out at most this often, in ms. Default 1,000: while
   * an audience arrives, a notice per tick would be a frame per viewer per
   * tick carrying little; the count adds up in between, so none is lost.
   */
  joinsIntervalMs: number;
  /** The lowest share of the lossy budget load can leave, 0..1. Default 0.1. */
  minLoadFactor: number;
  /** Time for the budget to climb from `minLoadFactor` to full, ms. Default 10,000. */
  loadRecoveryMs: number;
  /**
   * Most lossy items held between two ticks; more are dropped on arrival as
   * `overflow`. A memory bound far above any readable rate. Default 10,000.
   */
  maxPendingLossy: number;
}

export const DEFAULT_SETTINGS: Readonly<EngineSettings> = Object.freeze({
  tickMs: 100,
  lossyItemsPerSecond: 30,
  lossyBytesPerSecond: 16_384,
  lossyBurstMs: 500,
  giftCombo: false,
  customTypes: Object.freeze({}),
  recentNames: 5,
  joinsIntervalMs: 1000,
  minLoadFactor: 0.1,
  loadRecoveryMs: 10_000,
  maxPendingLossy: 10_000,
});

/** Type names the engine owns; a custom type may not reuse them. */
export const BUILT_IN_TYPES: readonly string[] = [
  'host',
  'gift',
  'system',
  'chat',
  'like',
  'join',
  'likes',
  'joins',
  'viewers',
];

const CUSTOM_TYPE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const MAX_RECENT_NAMES = 50;

function bad(message: string): PriorityError {
  return new PriorityError('PRIORITY_BAD_SETTINGS', message);
}

function positive(key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw bad(`${key} must be a positive finite number`);
  }

  return value;
}

function checkCustomTypes(value: unknown): Record<string, CustomTypeSettings> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad('customTypes must be an object keyed by type name');
  }

  const out: Record<string, CustomTypeSettings> = {};
  for (const [name, entry] of Object.entries(value)) {
    if (!CUSTOM_TYPE_NAME.test(name) || BUILT_IN_TYPES.includes(name)) {
      throw bad(`custom type name '${name}' is reserved or malformed`);
    }

    const spec = entry as Partial<CustomTypeSettings> | null;
    if (
      typeof spec !== 'object' ||
      spec === null ||
      (spec.class !== 'reliable' && spec.class !== 'lossy') ||
      typeof spec.priority !== 'number' ||
      !Number.isFinite(spec.priority)
    ) {
      throw bad(`custom type '${name}' needs class and a finite priority`);
    }

    out[name] = { class: spec.class, priority: spec.priority };
  }

  return out;
}

function checkGiftCombo(value: unknown): EngineSettings['giftCombo'] {
  if (value === false) {
    return false;
  }

  if (typeof value !== 'object' || value === null) {
    throw bad('giftCombo must be false or { windowMs }');
  }

  return {
    windowMs: positive(
      'giftCombo.windowMs',
      (value as { windowMs?: unknown }).windowMs,
    ),
  };
}

/**
 * Applies a partial override on top of `base` and returns the result. Keys
 * whose value is `undefined` are ignored; unknown keys throw.
 * @throws PriorityError `PRIORITY_BAD_SETTINGS`
 */
export function resolveSettings(
  base: Readonly<EngineSettings>,
  patch: Partial<EngineSettings> = {},
): EngineSettings {
  // Copy the nested parts too, so no caller shares them with another room.
  const out: EngineSettings = {
    ...base,
    customTypes: checkCustomTypes(base.customTypes),
    giftCombo: checkGiftCombo(base.giftCombo),
  };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) {
      continue;
    }

    switch (key) {
      case 'tickMs':
      case 'lossyItemsPerSecond':
      case 'lossyBytesPerSecond':
      case 'lossyBurstMs':
      case 'loadRecoveryMs':
      case 'joinsIntervalMs':
        out[key] = positive(key, value);
        break;
      case 'maxPendingLossy':
        out.maxPendingLossy = Math.floor(positive(key, value));
        break;
      case 'minLoadFactor':
        if (positive(key, value) > 1) {
          throw bad('minLoadFactor must be in (0, 1]');
        }

        out.minLoadFactor = value as number;
        break;
      case 'recentNames':
        if (
          !Number.isInteger(value) ||
          (value as number) < 0 ||
          (value as number) > MAX_RECENT_NAMES
        ) {
          throw bad(`recentNames must be an integer 0..${MAX_RECENT_NAMES}`);
        }

        out.recentNames = value as number;
        break;
      case 'giftCombo':
        out.giftCombo = checkGiftCombo(value);
        break;
      case 'customTypes':
        out.customTypes = checkCustomTypes(value);
        break;
      default:
        throw bad(`unknown setting '${key}'`);
    }
  }

  return out;
}
