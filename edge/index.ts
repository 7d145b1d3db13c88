export { Edge } from './edge.js';
export type { EdgeOptions, EdgeSettings } from './edge.js';
export { FramePacer, mergeFrames, MAX_INTERVAL_TICKS } from './frame-pacer.js';
export type { EdgeLoad, ShardFrame } from './frame-pacer.js';
export {
  presenceIntervalMs,
  MIN_PRESENCE_INTERVAL_MS,
  MAX_PRESENCE_INTERVAL_MS,
} from './room-frames.js';
