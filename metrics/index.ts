export {
  createRegistry,
  counter,
  gauge,
  histogram,
  Counter,
  Gauge,
  Histogram,
  Registry,
} from './registry.js';
export { aggregateSnapshots, snapshotValue } from './aggregate.js';
export type { RegistrySnapshot } from './aggregate.js';
