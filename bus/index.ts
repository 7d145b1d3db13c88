export { channels } from './bus.js';
export type { Bus, BusHandler } from './bus.js';
export { MemoryBus } from './bus-memory.js';
