export { startStandalone, createIds } from './standalone.js';
export type { RunningStandalone } from './standalone.js';
export { resolveCredentials, developmentHint } from './dev-mode.js';
export type { Credentials } from './dev-mode.js';
export { startShard, startEdge, startAdmin } from './distributed.js';
export type { RunningRole } from './distributed.js';
export { startCluster, parseClusterArgs, shardPortBase } from './cluster.js';
export type { ClusterShape, RunningCluster } from './cluster.js';
