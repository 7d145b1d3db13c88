/**
 * `roomcast [role]`: starts one role of roomcast. Settings come from the
 * environment (see the README); the role is the only argument.
 */
import { ConfigError, loadConfig } from '../config/index.js';
import { createLogger } from '../logging/index.js';
import { developmentHint, startStandalone } from '../roles/index.js';
import { watch } from './watch.js';

const ROLES = ['standalone'] as const;
const USAGE = `usage: roomcast [${ROLES.join('|')}]
       roomcast watch ws://HOST:8081/ws?token=TOKEN

Starts roomcast. With no role, runs standalone: admin API, edge and one room
shard in one process. Configuration is by environment variable; see README.md.
\`watch\` connects as a viewer and prints every frame as a JSON line.`;

async function main(argv: string[]): Promise<number> {
  const role = argv[0] ?? 'standalone';
  if (role === '--help' || role === '-h' || role === 'help') {
    console.log(USAGE);
    return 0;
  }

  if (role === 'watch') {
    return watch(argv[1]);
  }

  if (!(ROLES as readonly string[]).includes(role)) {
    console.error(`roomcast: unknown role ${JSON.stringify(role)}\n\n${USAGE}`);
    return 2;
  }

  let settings;
  try {
    settings = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`roomcast: ${error.message}`);
      return 2;
    }

    throw error;
  }

  const logger = createLogger({ level: settings.logLevel, role });
  let running;
  try {
    running = await startStandalone(settings, logger);
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.fatal({ err: error }, 'refusing to start');
      console.error(`roomcast: ${error.message}`);
      return 2;
    }

    throw error;
  }

  if (running.credentials.development) {
    const [apiKey] = running.credentials.apiKeys.keys();
    console.error(developmentHint(apiKey ?? '', running.adminPort));
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await running.close();
  logger.info('stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('roomcast: fatal error', error);
    process.exit(1);
  },
);
