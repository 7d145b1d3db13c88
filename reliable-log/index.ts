export { DEDUPE_RETAIN_MS } from './log.js';
export type {
  Appended,
  AppendOptions,
  HistoryLimits,
  ReadResult,
  ReliableDraft,
  ReliableLog,
} from './log.js';
export { MemoryReliableLog } from './log-memory.js';
export { RedisReliableLog } from './log-redis.js';
export type { RedisReliableLogOptions } from './log-redis.js';
