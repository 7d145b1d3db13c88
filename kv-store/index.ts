export type { KvStore, SetOptions } from './kv.js';
export { MemoryKvStore } from './kv-memory.js';
export { RedisKvStore } from './kv-redis.js';
