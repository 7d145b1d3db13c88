export { Edge } from './edge.js';
export type { EdgeOptions, EdgeSettings } from './edge.js';
