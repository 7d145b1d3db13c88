/**
 * Every setting of every role, with its environment variable, default and
 * bounds. One table so the README's configuration section, the validation and
 * the defaults cannot drift apart. Unknown `ROOMCAST_*` variables are refused
 * at start-up: a typo in a deployment should fail loudly, not run on defaults.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

interface SettingSpec<S extends TSchema = TSchema> {
  env: string;
  schema: S;
  description: string;
}

function setting<S extends TSchema>(
  env: string,
  schema: S,
  description: string,
): SettingSpec<S> {
  return { env, schema, description };
}

const port = (defaultPort: number) =>
  Type.Integer({ minimum: 0, maximum: 65535, default: defaultPort });
const positive = (defaultValue: number, maximum = Number.MAX_SAFE_INTEGER) =>
  Type.Integer({ minimum: 1, maximum, default: defaultValue });

export const SETTINGS = {
  nodeEnv: setting(
    'NODE_ENV',
    Type.String({ default: 'development' }),
    '`production` refuses to start without API keys and a JWT secret.',
  ),
  host: setting(
    'ROOMCAST_HOST',
    Type.String({ default: '0.0.0.0', minLength: 1 }),
    'Address every HTTP and WebSocket port binds to.',
  ),
  adminPort: setting(
    'ROOMCAST_ADMIN_PORT',
    port(8080),
    'Admin API port; 0 picks a free one and logs it.',
  ),
  adminRequestsPerSecond: setting(
    'ROOMCAST_ADMIN_REQUESTS_PER_SECOND',
    positive(1000, 1_000_000),
    'Admin API requests per second per API key (token bucket, burst twice this); the excess is answered 429 with `Retry-After`.',
  ),
  edgePort: setting(
    'ROOMCAST_EDGE_PORT',
    port(8081),
    'Edge WebSocket port (`/ws`); 0 picks a free one and logs it.',
  ),
  edgeWorkers: setting(
    'ROOMCAST_EDGE_WORKERS',
    positive(1, 64),
    '`roomcast edge`: worker processes sharing the edge port (SO_REUSEPORT), each its own edge; the primary restarts them and sums their `/metrics`. Standalone stays one process.',
  ),
  shardPort: setting(
    'ROOMCAST_SHARD_PORT',
    port(8082),
    'Room-shard HTTP port (metrics and health) in distributed mode.',
  ),
  apiKeys: setting(
    'ROOMCAST_API_KEYS',
    Type.String({ default: '' }),
    'Admin API keys as `tenant:key,tenant:key`. Unset: development mode generates one.',
  ),
  jwtSecret: setting(
    'ROOMCAST_JWT_SECRET',
    Type.String({ default: '' }),
    'HS256 secret that signs viewer tokens, at least 32 characters. Unset: development mode generates one.',
  ),
  logLevel: setting(
    'ROOMCAST_LOG_LEVEL',
    Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(
        (level) => Type.Literal(level),
      ),
      { default: 'info' },
    ),
    'pino level: fatal, error, warn, info, debug, trace or silent.',
  ),
  redisUrl: setting(
    'REDIS_URL',
    Type.String({ default: '' }),
    'Redis for the distributed roles, and for a standalone process\u2019s durable jobs, rooms and admin state, e.g. `redis://127.0.0.1:6379`.',
  ),
  redisClusterNodes: setting(
    'REDIS_CLUSTER_NODES',
    Type.String({ default: '' }),
    'Redis Cluster seed nodes as `host:port,host:port`; used instead of REDIS_URL.',
  ),
  redisPrefix: setting(
    'ROOMCAST_REDIS_PREFIX',
    Type.String({ default: 'roomcast:' }),
    'Prefix of every Redis key and channel, so deployments can share a Redis.',
  ),
  shardHeartbeatMs: setting(
    'ROOMCAST_SHARD_HEARTBEAT_MS',
    Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
    'Distributed mode: how often shards and edges heartbeat, renew room leases and re-run placement.',
  ),
  roomLeaseMs: setting(
    'ROOMCAST_ROOM_LEASE_MS',
    Type.Integer({ minimum: 200, maximum: 600_000, default: 5000 }),
    'Distributed mode: a shard or edge not heard from this long is dead, and a room lease not renewed this long lapses; a dead shard\u2019s rooms move after about this long. At least 3 heartbeats.',
  ),
  workerId: setting(
    'ROOMCAST_WORKER_ID',
    Type.Integer({ minimum: -1, maximum: 1023, default: -1 }),
    'Snowflake worker id 0-1023; -1 picks one at random at start-up.',
  ),
  tickMs: setting(
    'ROOMCAST_TICK_MS',
    Type.Integer({ minimum: 10, maximum: 1000, default: 100 }),
    'Shard tick: at most one batch frame per room per tick.',
  ),
  lossyItemsPerSecond: setting(
    'ROOMCAST_LOSSY_ITEMS_PER_SECOND',
    positive(30, 10_000),
    'Default lossy-lane budget per room, items per second.',
  ),
  lossyBytesPerSecond: setting(
    'ROOMCAST_LOSSY_BYTES_PER_SECOND',
    positive(16_384),
    'Default lossy-lane budget per room, bytes per second.',
  ),
  historyMaxItems: setting(
    'ROOMCAST_HISTORY_MAX_ITEMS',
    positive(1000, 1_000_000),
    'Reliable items kept per room for resume.',
  ),
  historyMaxAgeSeconds: setting(
    'ROOMCAST_HISTORY_MAX_AGE_SECONDS',
    positive(3600),
    'Reliable items older than this are no longer offered on resume.',
  ),
  maxFrameBytes: setting(
    'ROOMCAST_MAX_FRAME_BYTES',
    Type.Integer({ minimum: 64, maximum: 1_048_576, default: 4096 }),
    'Largest frame a viewer may send; larger ones close the socket.',
  ),
  chatPerSecond: setting(
    'ROOMCAST_CHAT_PER_SECOND',
    positive(2, 1000),
    'Chat frames per viewer per second (token bucket rate).',
  ),
  chatBurst: setting(
    'ROOMCAST_CHAT_BURST',
    positive(5, 1000),
    'Chat frames a viewer may send at once (token bucket size).',
  ),
  likesPerSecond: setting(
    'ROOMCAST_LIKES_PER_SECOND',
    positive(20, 10_000),
    'Like frames per viewer per second.',
  ),
  likesBurst: setting(
    'ROOMCAST_LIKES_BURST',
    positive(40, 10_000),
    'Like frames a viewer may send at once.',
  ),
  rateLimitStrikes: setting(
    'ROOMCAST_RATE_LIMIT_STRIKES',
    positive(20, 10_000),
    'Refused frames (over a limit or invalid) before the socket is closed.',
  ),
  idleTimeoutSeconds: setting(
    'ROOMCAST_IDLE_TIMEOUT_SECONDS',
    Type.Integer({ minimum: 8, maximum: 960, default: 60 }),
    'A viewer silent this long (no frame, no pong) is closed.',
  ),
  softBackpressureBytes: setting(
    'ROOMCAST_SOFT_BACKPRESSURE_BYTES',
    positive(256 * 1024),
    'Send buffer past which a viewer gets only the reliable lane.',
  ),
  hardBackpressureBytes: setting(
    'ROOMCAST_HARD_BACKPRESSURE_BYTES',
    positive(4 * 1024 * 1024),
    'Send buffer past which a viewer is closed with slow_consumer (resume).',
  ),
  maxBodyBytes: setting(
    'ROOMCAST_MAX_BODY_BYTES',
    positive(65_536, 16 * 1024 * 1024),
    'Largest admin API request body.',
  ),
  tokenTtlSeconds: setting(
    'ROOMCAST_TOKEN_TTL_SECONDS',
    positive(3600, 30 * 24 * 3600),
    'Default lifetime of a viewer token.',
  ),
  allowedOrigins: setting(
    'ROOMCAST_ALLOWED_ORIGINS',
    Type.String({ default: '' }),
    'Comma list of Origin values allowed to open a viewer socket; empty allows any.',
  ),
  drainGraceSeconds: setting(
    'ROOMCAST_DRAIN_GRACE_SECONDS',
    positive(20, 3600),
    'On SIGTERM, how long an edge spreads its viewers\u2019 reconnects before it exits.',
  ),
  edgePresenceFramesPerSecond: setting(
    'ROOMCAST_EDGE_PRESENCE_FRAMES_PER_SECOND',
    positive(20_000, 100_000_000),
    'Frames per second an edge (all its workers) spends on frames that carry only a room\u2019s viewer count and joins. Past it such frames wait and go as one: each room gets them every second at most and every 10 s at least.',
  ),
  maxConnectsPerSecond: setting(
    'ROOMCAST_MAX_CONNECTS_PER_SECOND',
    positive(2000, 1_000_000),
    'New viewer connections an edge admits per second; the excess is told to retry.',
  ),
} as const;

type Specs = typeof SETTINGS;
export type Settings = {
  -readonly [K in keyof Specs]: Static<Specs[K]['schema']>;
};
export type SettingName = keyof Settings;
