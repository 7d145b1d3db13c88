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
