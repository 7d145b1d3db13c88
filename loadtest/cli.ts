/**
 * `roomcast-loadtest` (also `npm run loadtest --`). Exit status: 0 when the
 * run met its objectives, 1 when one failed, 2 when the run could not be
 * made (bad option, service unreachable).
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatSummary } from './console-summary.js';
import { computeFigures } from './figures.js';
import { startUwsBaseline } from './baseline-uws.js';
import { LoadtestError } from './loadtest-error.js';
import { PUBLISH_TYPES, type PublishType } from './publisher.js';
import { runLoadtest } from './run.js';

const DEFAULT_MIX: Record<PublishType, number> = {
  host: 2,
  gift: 10,
  system: 0,
  chat: 20,
  like: 50,
  join: 0,
};

const USAGE = `usage: roomcast-loadtest [options]

Connects simulated viewers to a running roomcast, publishes a mix of messages
through its admin API at a constant rate, and reports delivery, latency and
reliable loss. Targets loopback addresses only.

  --viewers N           viewers in all (default 1000)
  --rooms N             rooms, viewers spread evenly (default 1)
  --duration S          seconds of publishing (default 20)
  --admin URL           admin API (default http://127.0.0.1:8080)
  --edge URL            edge WebSocket (default ws://127.0.0.1:8081/ws)
  --api-key KEY         admin API key (default: $LOADTEST_API_KEY)
  --host-rate N         host messages per room per second (default ${DEFAULT_MIX.host})
  --gift-rate N         gifts per room per second (default ${DEFAULT_MIX.gift})
  --system-rate N       system messages per room per second (default ${DEFAULT_MIX.system})
  --chat-rate N         chat messages per room per second (default ${DEFAULT_MIX.chat})
  --like-rate N         likes per room per second (default ${DEFAULT_MIX.like})
  --join-rate N         joins per room per second (default ${DEFAULT_MIX.join})
  --chat-bytes N        chat text length (default 40)
  --processes N         simulator processes (default one per 15,000 viewers)
  --connect-rate N      new connections per second (default 2000)
  --sample R            share of viewers that decode everything (default 0.02)
  --source-address IP   first source address (default 127.0.0.2)
  --json FILE           also write the figures as JSON
  --help                this text
`;

function numberOption(
  values: Record<string, string | boolean | undefined>,
  name: string,
  fallback: number,
): number {
  const raw = values[name];
  if (raw === undefined || typeof raw === 'boolean') {
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

const RATE_OPTIONS = Object.fromEntries(
  PUBLISH_TYPES.map((type) => [`${type}-rate`, { type: 'string' as const }]),
);

/** `roomcast-loadtest baseline uws`: serves the baseline until SIGINT/SIGTERM. */
async function serveBaseline(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'admin-port': { type: 'string' },
      'edge-port': { type: 'string' },
    },
    allowPositionals: true,
  });
  if (positionals[0] !== 'uws') {
    console.error(
      'usage: roomcast-loadtest baseline uws [--admin-port N] [--edge-port N]',
    );
    return 2;
  }

  const running = await startUwsBaseline({
    adminPort: numberOption(values, 'admin-port', 8090),
    edgePort: numberOption(values, 'edge-port', 8091),
  });
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
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  running.close();
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'baseline') {
    return serveBaseline(argv.slice(1));
  }

  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        viewers: { type: 'string' },
        rooms: { type: 'string' },
        duration: { type: 'string' },
        admin: { type: 'string' },
        edge: { type: 'string' },
        'api-key': { type: 'string' },
        'chat-bytes': { type: 'string' },
        processes: { type: 'string' },
        'connect-rate': { type: 'string' },
        sample: { type: 'string' },
        'source-address': { type: 'string' },
        json: { type: 'string' },
        help: { type: 'boolean' },
        ...RATE_OPTIONS,
      },
      strict: true,
    }).values;
  } catch (error) {
    console.error(`roomcast-loadtest: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }

  if (values['help'] === true) {
    console.log(USAGE);
    return 0;
  }

  try {
    const apiKey =
      (values['api-key'] as string | undefined) ??
      process.env['LOADTEST_API_KEY'];
    if (apiKey === undefined || apiKey === '') {
      throw new LoadtestError(
        'LOADTEST_BAD_OPTION',
        'an admin API key is needed: --api-key KEY or LOADTEST_API_KEY',
      );
    }

    const mix = Object.fromEntries(
      PUBLISH_TYPES.map((type) => [
        type,
        numberOption(values, `${type}-rate`, DEFAULT_MIX[type]),
      ]),
    ) as Record<PublishType, number>;
    const processes = values['processes'];
    const result = await runLoadtest({
      adminUrl:
        (values['admin'] as string | undefined) ?? 'http://127.0.0.1:8080',
      edgeUrl:
        (values['edge'] as string | undefined) ?? 'ws://127.0.0.1:8081/ws',
      apiKey,
      viewers: numberOption(values, 'viewers', 1000),
      rooms: numberOption(values, 'rooms', 1),
      durationSeconds: numberOption(values, 'duration', 20),
      mix,
      ...(processes === undefined
        ? {}
        : { processes: numberOption(values, 'processes', 1) }),
      connectPerSecond: numberOption(values, 'connect-rate', 2000),
      sampleRatio: numberOption(values, 'sample', 0.02),
      chatTextBytes: numberOption(values, 'chat-bytes', 40),
      firstSourceAddress:
        (values['source-address'] as string | undefined) ?? '127.0.0.2',
      onProgress: (line) => console.error(`roomcast-loadtest: ${line}`),
    });
    const figures = computeFigures(result);
    console.log(formatSummary(figures));
    const json = values['json'];
    if (typeof json === 'string') {
      await writeFile(json, `${JSON.stringify(figures, null, 2)}\n`);
    }

    const failed = figures.reliable.lost > 0 || figures.reliable.duplicated > 0;
    if (failed) {
      console.log('FAILED: reliable items were lost or duplicated');
    }

    return failed ? 1 : 0;
  } catch (error) {
    if (error instanceof LoadtestError) {
      console.error(`roomcast-loadtest: ${error.code}: ${error.message}`);
      return 2;
    }

    throw error;
  }
}
