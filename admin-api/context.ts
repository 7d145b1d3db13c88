/**
 * What every route and job handler of the admin API works with.
 */
import type { Logger } from 'pino';
import type { Bus } from '../bus/index.js';
import type { Settings } from '../config/index.js';
import type { IdGenerator } from '../ids/index.js';
import type { KvStore } from '../kv-store/index.js';
import type { Registry } from '../metrics/index.js';
import type { Restrictions } from '../moderation/index.js';
import type { RoomAccounting } from '../priority/index.js';
import type { ReliableLog } from '../reliable-log/index.js';
import type { RoomDirectory } from '../room-directory/index.js';
import type { ViewerTokens } from '../tokens/index.js';
import type { ApiKeys } from './api-keys.js';
import type { EffectMarkers } from './effects.js';
import type { IdempotencyRecords } from './idempotency.js';
import type { JobQueue } from './jobs.js';
import type { Webhooks } from './webhooks.js';

/** What a room's owning shard knows about it. */
export interface RoomShardStats {
  members: number;
  accounting: RoomAccounting;
}

export interface MemberView {
  id: string;
  name: string;
  role: string;
  /** Edges holding at least one socket of the user in the room. */
  connections: number;
}

/**
 * A room's members, from its owning shard. Resolves undefined when this
 * process cannot reach the room's shard (see docs/api.md, Members).
 */
export interface MemberSource {
  page(
    roomKey: string,
    afterUserId: string,
    limit: number,
  ): Promise<{ count: number; members: MemberView[] } | undefined>;
  get(roomKey: string, userId: string): Promise<MemberView | null | undefined>;
}

export interface AdminContext {
  settings: Pick<Settings, 'maxBodyBytes' | 'tokenTtlSeconds'>;
  directory: RoomDirectory;
  log: ReliableLog;
  bus: Bus;
  ids: IdGenerator;
  tokens: ViewerTokens;
  registry: Registry;
  logger: Logger;
  clock: () => number;
  kv: KvStore;
  jobs: JobQueue;
  keys: ApiKeys;
  idempotency: IdempotencyRecords;
  restrictions: Restrictions;
  effects: EffectMarkers;
  webhooks: Webhooks;
  roomStats: (roomKey: string) => Promise<RoomShardStats | undefined>;
  members: MemberSource | undefined;
}
