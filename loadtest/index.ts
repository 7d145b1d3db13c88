export { main } from './cli.js';
export {
  runScenario,
  type RunOptions,
  type RunResult,
  type RunTarget,
} from './run.js';
export {
  loadScenario,
  parseScenario,
  viewerCount,
  type Scenario,
} from './scenario.js';
export { computeFigures, type Figures } from './figures.js';
export { checkObjectives, type ObjectiveResult } from './objectives.js';
export { buildReport, type Report } from './report.js';
export { renderHtml } from './report-html.js';
export { formatSummary } from './console-summary.js';
export {
  spawnBaseline,
  spawnCluster,
  spawnRoomcast,
  type SpawnedService,
} from './spawn.js';
export { startUwsBaseline } from './baseline-uws.js';
export { startSocketIoBaseline } from './baseline-socketio.js';
export { LoadtestError, type LoadtestErrorCode } from './loadtest-error.js';
