export { channels } from './bus.js';
export type { Bus, BusHandler } from './bus.js';
export { MemoryBus } from './bus-memory.js';
export { RedisBus, BusUnavailableError } from './bus-redis.js';
export type { RedisBusOptions } from './bus-redis.js';
