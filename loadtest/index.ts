export { main } from './cli.js';
export { runLoadtest, type RunOptions, type RunResult } from './run.js';
export { computeFigures, type Figures } from './figures.js';
export { formatSummary } from './console-summary.js';
export { LoadtestError, type LoadtestErrorCode } from './loadtest-error.js';
