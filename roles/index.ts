export { startStandalone, createIds } from './standalone.js';
export type { RunningStandalone } from './standalone.js';
export { resolveCredentials, developmentHint } from './dev-mode.js';
export type { Credentials } from './dev-mode.js';
