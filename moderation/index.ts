export { Restrictions } from './bans.js';
export type {
  BanCheck,
  Restriction,
  RestrictionKind,
  RestrictOptions,
} from './bans.js';
