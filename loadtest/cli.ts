/**
 * `roomcast-loadtest` (also `npm run loadtest --`). Exit status: 0 when the
 * run met its objectives, 1 when one failed, 2 when the run could not be
 * made (bad option, service unreachable, a phase that timed out).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSocketIoBaseline } from './baseline-socketio.js';
import { startUwsBaseline, type RunningBaseline } from './baseline-uws.js';
import {
  runUwsWorker,
  startUwsWorkersBaseline,
} from './baseline-uws-workers.js';
import { formatSummary } from './console-summary.js';
import { computeFigures } from './figures.js';
import { LoadtestError } from './loadtest-error.js';
import { formatPlan, measuredCapacity, planFleet } from './plan.js';
import { PUBLISH_TYPES, type PublishType } from './publisher.js';
import { renderHtml } from './report-html.js';
import { buildReport, compareWithBaseline, type Report } from './report.js';
import { MAX_VIEWERS_PER_PROCESS, runScenario, type RunTarget } from './run.js';
import {
  loadScenario,
  parseScenario,
  viewerCount,
  type Scenario,
} from './scenario.js';
import {
  spawnBaseline,
  spawnCluster,
  spawnRoomcast,
  type SpawnedService,
} from './spawn.js';

const DEFAULT_MIX: Record<PublishType, number> = {
  host: 2,
  gift: 10,
  system: 0,
  chat: 20,
  like: 50,
  join: 0,
};

const USAGE = `usage:
  roomcast-loadtest run SCENARIO [target] [--out DIR] [--baseline uws,socketio]
  roomcast-loadtest [quick options] [target] [--out DIR] [--baseline ...]
  roomcast-loadtest plan --from REPORT.json [--from ...] --viewers N --rooms N
                         --peak-rate N [--headroom 0.3] [--edge-cores 2]
                         [--shard-cores 1] [--shard-publishes-per-core N]
  roomcast-loadtest baseline uws|socketio [--admin-port N] [--edge-port N]

Connects simulated viewers to roomcast, publishes messages through its admin
API at a constant rate, and reports delivery, latency and reliable loss.
Targets loopback addresses only.

target (one of):
  --spawn standalone|cluster  start roomcast on free loopback ports for the run
  --edges N --shards M        cluster shape (default one edge per 18,000
                              viewers, 2 shards), on a Redis of its own
  --edge-workers N            processes per spawned edge (default 1)
  --admin URL                 admin API (default http://127.0.0.1:8080)
  --edge URL                  edge WebSocket (default ws://127.0.0.1:8081/ws)
  --api-key KEY               admin API key (default: $LOADTEST_API_KEY)
  --protocol socketio         the edge is the Socket.IO baseline (default
                              roomcast)

run options:
  --out DIR                   write SCENARIO.json and SCENARIO.html there
                              (and SCENARIO-service.log with --spawn)
  --set ROOMCAST_X=VALUE      a setting for the spawned service (repeatable;
                              it inherits no ROOMCAST_* from the environment)
  --baseline uws,socketio     run the same scenario against a bare
                              uWebSockets.js server and/or a Socket.IO
                              server (msgpack parser) and print ratios
  --baseline-processes N      uws baseline processes (default: as many as
                              the roomcast edge ran: edges x edge workers)
  --processes N               simulator processes (default one per 15,000)
  --source-address IP         first source address (default 127.0.0.2)

quick options (a scenario made from flags):
  --viewers N (1000)  --rooms N (1)  --duration S (20)  --connect-rate N (2000)
  --connect-timeout S (3x the ramp + 120)
  --host-rate N (${DEFAULT_MIX.host})  --gift-rate N (${DEFAULT_MIX.gift})  --system-rate N (${DEFAULT_MIX.system})
  --chat-rate N (${DEFAULT_MIX.chat})  --like-rate N (${DEFAULT_MIX.like})  --join-rate N (${DEFAULT_MIX.join})   per room per second
  --chat-bytes N (40)  --sample R (0.02)  --json FILE (figures only)
`;

type Values = Record<string, string | boolean | string[] | undefined>;

function numberOption(values: Values, name: string, fallback: number): number {
  const raw = values[name];
  if (typeof raw !== 'string') {
    return fallback;
  }

  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      `--${name} must be a non-negative number, got ${raw}`,
    );
  }

  return value;
}

/** `--set ROOMCAST_X=value` (repeatable): settings for a spawned service. */
function serviceSettings(values: Values): Record<string, string> {
  const raw = values['set'];
  const settings: Record<string, string> = {};
  for (const entry of Array.isArray(raw) ? raw : []) {
    const match = /^(ROOMCAST_[A-Z0-9_]+)=(.+)$/s.exec(String(entry));
    if (match === null) {
      throw new LoadtestError(
        'LOADTEST_BAD_OPTION',
        `--set takes ROOMCAST_NAME=value, got ${String(entry)}`,
      );
    }

    const name = match[1] as string;
    if (FIXED_SETTINGS.test(name)) {
      throw new LoadtestError(
        'LOADTEST_BAD_OPTION',
        `--set cannot change ${name}: the load test sets it to find and reach the service`,
      );
    }

    settings[name] = match[2] as string;
  }

  return settings;
}

/** What the load test sets on a spawned service itself. */
const FIXED_SETTINGS =
  /^ROOMCAST_(HOST|[A-Z]+_PORT|API_KEYS|JWT_SECRET|LOG_LEVEL|REDIS_PREFIX)$/;

function stringOption(values: Values, name: string): string | undefined {
  const raw = values[name];
  return typeof raw === 'string' ? raw : undefined;
}

const TARGET_OPTIONS = {
  spawn: { type: 'string' },
  edges: { type: 'string' },
  'edge-workers': { type: 'string' },
  shards: { type: 'string' },
  admin: { type: 'string' },
  edge: { type: 'string' },
  'api-key': { type: 'string' },
  protocol: { type: 'string' },
  out: { type: 'string' },
  baseline: { type: 'string' },
  'baseline-processes': { type: 'string' },
  processes: { type: 'string' },
  'source-address': { type: 'string' },
  set: { type: 'string', multiple: true },
  help: { type: 'boolean' },
} as const;

const QUICK_OPTIONS = {
  ...TARGET_OPTIONS,
  viewers: { type: 'string' },
  rooms: { type: 'string' },
  duration: { type: 'string' },
  'connect-rate': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'chat-bytes': { type: 'string' },
  sample: { type: 'string' },
  json: { type: 'string' },
  ...Object.fromEntries(
    PUBLISH_TYPES.map((type) => [`${type}-rate`, { type: 'string' as const }]),
  ),
} as const;

function quickScenario(values: Values): Scenario {
  const viewers = numberOption(values, 'viewers', 1000);
  const rooms = Math.max(1, numberOption(values, 'rooms', 1));
  return parseScenario(
    {
      name: 'quick',
      description: 'made from command-line flags',
      durationSeconds: numberOption(values, 'duration', 20),
      rooms: { count: rooms, viewersPerRoom: Math.round(viewers / rooms) },
      arrival: {
        connectPerSecond: numberOption(values, 'connect-rate', 2000),
        ...(values['connect-timeout'] === undefined
          ? {}
          : { timeoutSeconds: numberOption(values, 'connect-timeout', 0) }),
      },
      publish: {
        ...Object.fromEntries(
          PUBLISH_TYPES.map((type) => [
            type,
            numberOption(values, `${type}-rate`, DEFAULT_MIX[type]),
          ]),
        ),
        chatBytes: numberOption(values, 'chat-bytes', 40),
      },
      viewers: { sampleRatio: numberOption(values, 'sample', 0.02) },
      objectives: { maxConnectFailures: 0 },
    },
    'the command-line flags',
  );
}

async function resolveTarget(
  values: Values,
  scenario: Scenario,
): Promise<{ target: RunTarget; spawned: SpawnedService | null }> {
  const spawn = stringOption(values, 'spawn');
  if (spawn !== undefined) {
    if (spawn !== 'standalone' && spawn !== 'cluster') {
      throw new LoadtestError(
        'LOADTEST_BAD_OPTION',
        `--spawn must be standalone or cluster, got ${spawn}`,
      );
    }

    const settings = serviceSettings(values);
    // The service's own log, next to the reports (--out).
    const out = stringOption(values, 'out');
    let logFile: string | undefined;
    if (out !== undefined) {
      await mkdir(out, { recursive: true });
      logFile = join(out, `${scenario.name}-service.log`);
    }

    const spawned =
      spawn === 'standalone'
        ? await spawnRoomcast('standalone', settings, logFile)
        : await spawnCluster(
            {
              edges: numberOption(
                values,
                'edges',
                Math.max(
                  1,
                  Math.ceil(viewerCount(scenario) / MAX_VIEWERS_PER_PROCESS),
                ),
              ),
              shards: numberOption(values, 'shards', 2),
              edgeWorkers: Math.max(1, numberOption(values, 'edge-workers', 1)),
            },
            logFile,
            settings,
          );
    return { target: spawned.target, spawned };
  }

  const apiKey =
    stringOption(values, 'api-key') ?? process.env['LOADTEST_API_KEY'];
  if (apiKey === undefined || apiKey === '') {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      'an admin API key is needed: --api-key KEY, LOADTEST_API_KEY, or --spawn',
    );
  }

  const protocol = stringOption(values, 'protocol') ?? 'roomcast';
  if (protocol !== 'roomcast' && protocol !== 'socketio') {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      `--protocol must be roomcast or socketio, got ${protocol}`,
    );
  }

  return {
    target: {
      label: protocol === 'roomcast' ? 'roomcast' : 'socketio server',
      protocol,
      adminUrl: stringOption(values, 'admin') ?? 'http://127.0.0.1:8080',
      edgeUrl: stringOption(values, 'edge') ?? 'ws://127.0.0.1:8081/ws',
      apiKey,
    },
    spawned: null,
  };
}

const progress = (line: string): void => {
  console.error(`roomcast-loadtest: ${line}`);
};

/** Runs a scenario (and its baseline), prints, writes reports; exit code. */
async function execute(scenario: Scenario, values: Values): Promise<number> {
  const baselines = (stringOption(values, 'baseline') ?? '')
    .split(',')
    .filter((name) => name !== '');
  for (const name of baselines) {
    if (name !== 'uws' && name !== 'socketio') {
      throw new LoadtestError(
        'LOADTEST_BAD_OPTION',
        `--baseline takes uws, socketio or uws,socketio; got ${name}`,
      );
    }
  }

  const processes = stringOption(values, 'processes');
  const common = {
    ...(processes === undefined
      ? {}
      : { processes: numberOption(values, 'processes', 1) }),
    firstSourceAddress: stringOption(values, 'source-address') ?? '127.0.0.2',
    onProgress: progress,
  };
  if (
    scenario.topology === 'cluster' &&
    stringOption(values, 'spawn') === 'standalone'
  ) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      `scenario ${scenario.name} needs several processes: use --spawn cluster or point --admin/--edge at a fleet`,
    );
  }

  const { target, spawned } = await resolveTarget(values, scenario);
  let report: Report;
  try {
    report = buildReport(await runScenario({ scenario, target, ...common }));
  } finally {
    const early = spawned?.exitedEarly() ?? null;
    if (spawned !== null && early !== null) {
      console.error(
        `roomcast-loadtest: ${spawned.target.label} ${early} during the run; its last lines:\n${spawned.recentOutput().join('\n')}`,
      );
    }

    await spawned?.stop();
  }

  const early = spawned?.exitedEarly() ?? null;
  if (early !== null) {
    report.objectives.push({
      name: 'serviceStayedUp',
      limit: 0,
      actual: 1,
      passed: false,
    });
    report.passed = false;
  }

  // The uws baseline runs in as many processes as roomcast's edge did.
  const edgeProcesses =
    stringOption(values, 'spawn') === 'cluster'
      ? (target.edgeUrls?.length ?? 1) *
        Math.max(1, numberOption(values, 'edge-workers', 1))
      : 1;
  const baselineProcesses = numberOption(
    values,
    'baseline-processes',
    edgeProcesses,
  );
  for (const name of baselines as ('uws' | 'socketio')[]) {
    const service = await spawnBaseline(
      name,
      name === 'uws' ? baselineProcesses : 1,
    );
    try {
      // Baselines keep no history, so nothing that needs resume: no chaos,
      // no churn. They measure the steady ceiling.
      let result: Awaited<ReturnType<typeof runScenario>>;
      try {
        result = await runScenario({
          scenario: {
            ...scenario,
            chaos: [],
            viewers: { ...scenario.viewers, churnPerSecond: 0 },
          },
          target: service.target,
          ...common,
        });
      } catch (error) {
        // roomcast's figures are measured already: a baseline that fails
        // costs the comparison, never them. The run fails, saying why.
        console.error(
          `roomcast-loadtest: the ${name} baseline failed, so roomcast's figures are reported without it: ${(error as Error).message}`,
        );
        report.objectives.push({
          name: `${name}BaselineCompleted`,
          limit: 0,
          actual: 1,
          passed: false,
        });
        report.passed = false;
        continue;
      }

      report.baselines.push(
        compareWithBaseline(
          report.figures,
          name,
          computeFigures(result),
          name === 'uws' ? baselineProcesses : 1,
        ),
      );
    } finally {
      await service.stop();
    }
  }

  console.log(formatSummary(report.figures));
  for (const comparison of report.baselines) {
    const r = comparison.ratios;
    console.log(
      `baseline    ${comparison.label} (${comparison.processes} processes): ${comparison.figures.delivered.itemsPerSecond} items/s, ` +
        `reliable p50 ${comparison.figures.latency.reliable.p50Ms} ms p99 ${comparison.figures.latency.reliable.p99Ms} ms, ` +
        `${comparison.figures.service.cpuCores} cores, peak RSS ${Math.round(comparison.figures.service.peakRssBytes / 1048576)} MiB (all its processes); ` +
        `roomcast/${comparison.label}: items/s x${r.itemsPerSecond}, p50 x${r.reliableP50}, p99 x${r.reliableP99}, CPU x${r.serviceCpuCores}`,
    );
  }

  for (const objective of report.objectives) {
    console.log(
      `objective   ${objective.passed ? 'pass' : 'FAIL'} ${objective.name}: ${objective.actual} (limit ${objective.limit})`,
    );
  }

  const out = stringOption(values, 'out');
  if (out !== undefined) {
    await mkdir(out, { recursive: true });
    const base = join(out, scenario.name);
    await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(`${base}.html`, renderHtml(report));
    progress(
      `wrote ${base}.json and ${base}.html` +
        (spawned === null ? '' : `; the service's log is ${base}-service.log`),
    );
  }

  const json = stringOption(values, 'json');
  if (json !== undefined) {
    await writeFile(json, `${JSON.stringify(report.figures, null, 2)}\n`);
  }

  console.log(report.passed ? 'PASSED' : 'FAILED');
  return report.passed ? 0 : 1;
}

async function planCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      from: { type: 'string', multiple: true },
      viewers: { type: 'string' },
      rooms: { type: 'string' },
      'peak-rate': { type: 'string' },
      headroom: { type: 'string' },
      'edge-cores': { type: 'string' },
      'shard-cores': { type: 'string' },
      'shard-publishes-per-core': { type: 'string' },
      json: { type: 'string' },
    },
  });
  const from = values.from ?? [];
  if (from.length === 0 || values.viewers === undefined) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      'plan needs --from REPORT.json (one or more) and --viewers N',
    );
  }

  const reports = await Promise.all(
    from.map(
      async (path) => JSON.parse(await readFile(path, 'utf8')) as Report,
    ),
  );
  const measured = measuredCapacity(reports);
  measured.publishesPerCoreSecond = numberOption(
    values,
    'shard-publishes-per-core',
    measured.publishesPerCoreSecond,
  );
  if (measured.runs.length === 0) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      'none of the reports has service CPU figures to plan from',
    );
  }

  const plan = planFleet(
    {
      viewers: numberOption(values, 'viewers', 0),
      rooms: Math.max(1, numberOption(values, 'rooms', 1)),
      peakRatePerRoom: numberOption(values, 'peak-rate', 10),
      headroom: Math.min(0.9, numberOption(values, 'headroom', 0.3)),
      edgeCores: Math.max(1, numberOption(values, 'edge-cores', 2)),
      shardCores: Math.max(1, numberOption(values, 'shard-cores', 1)),
      tickMs: 100,
    },
    measured,
  );
  console.log(formatPlan(plan));
  if (values.json !== undefined) {
    await writeFile(values.json, `${JSON.stringify(plan, null, 2)}\n`);
  }

  return 0;
}

/** `roomcast-loadtest baseline uws|socketio`: serves until SIGINT/SIGTERM. */
async function serveBaseline(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'admin-port': { type: 'string' },
      'edge-port': { type: 'string' },
      processes: { type: 'string' },
    },
    allowPositionals: true,
  });
  const kind = positionals[0];
  if (kind === 'uws-worker') {
    await runUwsWorker(numberOption(values, 'edge-port', 8091));
    return 0;
  }

  const processes = numberOption(values, 'processes', 1);
  if (
    (kind !== 'uws' && kind !== 'socketio') ||
    !Number.isInteger(processes) ||
    processes < 1 ||
    (kind === 'socketio' && processes > 1)
  ) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      'usage: roomcast-loadtest baseline uws [--processes N] [--admin-port N] [--edge-port N] | socketio [--admin-port N] [--edge-port N]',
    );
  }

  const ports = {
    adminPort: numberOption(values, 'admin-port', 8090),
    edgePort: numberOption(values, 'edge-port', 8091),
  };
  let running: RunningBaseline;
  // Never settles for one process: there is no worker to lose.
  let workerExited = new Promise<string>(() => undefined);
  if (kind === 'uws' && processes > 1) {
    const workers = await startUwsWorkersBaseline({ ...ports, processes });
    for (const workerPid of workers.workerPids) {
      console.log(
        JSON.stringify({
          level: 30,
          pid: process.pid,
          workerPid,
          msg: 'edge worker started',
        }),
      );
    }

    running = workers;
    workerExited = workers.workerExited;
  } else {
    const start = kind === 'uws' ? startUwsBaseline : startSocketIoBaseline;
    running = await start(ports);
  }

  // The same start-up lines as roomcast, so one parser finds the ports.
  console.log(
    JSON.stringify({
      level: 30,
      port: running.adminPort,
      msg: 'admin api listening',
    }),
  );
  console.log(
    JSON.stringify({
      level: 30,
      port: running.edgePort,
      msg: 'edge listening',
    }),
  );
  const stopped = await Promise.race([
    new Promise<null>((resolve) => {
      process.once('SIGINT', () => resolve(null));
      process.once('SIGTERM', () => resolve(null));
    }),
    workerExited,
  ]);
  running.close();
  if (stopped !== null) {
    // The run sees the baseline exit early and fails its figures.
    console.log(JSON.stringify({ level: 50, msg: stopped }));
    return 1;
  }

  return 0;
}

async function dispatch(argv: string[]): Promise<number> {
  const command = argv[0];
  if (command === 'baseline') {
    return serveBaseline(argv.slice(1));
  }

  if (command === 'plan') {
    return planCommand(argv.slice(1));
  }

  if (command === 'run') {
    const { values, positionals } = parseArgs({
      args: argv.slice(1),
      options: TARGET_OPTIONS,
      allowPositionals: true,
    });
    const path = positionals[0];
    if (values.help === true || path === undefined) {
      console.log(USAGE);
      return path === undefined && values.help !== true ? 2 : 0;
    }

    return execute(await loadScenario(path), values);
  }

  const { values } = parseArgs({ args: argv, options: QUICK_OPTIONS });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }

  return execute(quickScenario(values), values);
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (error) {
    if (error instanceof LoadtestError) {
      console.error(`roomcast-loadtest: ${error.code}: ${error.message}`);
      return 2;
    }

    if (error instanceof TypeError && 'code' in error) {
      // parseArgs: unknown or malformed option
      console.error(`roomcast-loadtest: ${error.message}\n\n${USAGE}`);
      return 2;
    }

    throw error;
  }
}
