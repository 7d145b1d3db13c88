export type {
  HistoryLimits,
  ReadResult,
  ReliableDraft,
  ReliableLog,
} from './log.js';
export { MemoryReliableLog } from './log-memory.js';
