/**
 * Credentials for a process that was given none. Development mode generates
 * an API key and a JWT secret so `npm start` works out of the box; production
 * refuses to start without real ones.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ConfigError, parseApiKeys, type Settings } from '../config/index.js';

export interface Credentials {
  apiKeys: Map<string, string>;
  jwtSecret: string;
  development: boolean;
}

export function resolveCredentials(
  settings: Settings,
  logger: Logger,
): Credentials {
  const missing = [
    settings.apiKeys === '' ? 'ROOMCAST_API_KEYS' : undefined,
    settings.jwtSecret === '' ? 'ROOMCAST_JWT_SECRET' : undefined,
  ].filter((name) => name !== undefined);
  if (missing.length > 0 && settings.nodeEnv === 'production') {
    throw new ConfigError(
      `NODE_ENV=production needs ${missing.join(' and ')}; see the README's configuration table`,
    );
  }

  if (settings.jwtSecret !== '' && settings.jwtSecret.length < 32) {
    throw new ConfigError('ROOMCAST_JWT_SECRET must be at least 32 characters');
  }

  const apiKeys =
    settings.apiKeys === ''
      ? new Map([[`dev_${randomBytes(18).toString('base64url')}`, 'dev']])
      : parseApiKeys(settings.apiKeys);
  const jwtSecret =
    settings.jwtSecret === ''
      ? randomBytes(32).toString('base64url')
      : settings.jwtSecret;
  if (missing.length > 0) {
    logger.warn(
      { generated: missing },
      'development mode: generated credentials, do not use in production',
    );
  }

  return { apiKeys, jwtSecret, development: missing.length > 0 };
}

/** The lines a developer needs to try a freshly started standalone process. */
export function developmentHint(apiKey: string, adminPort: number): string {
  const base = `http://127.0.0.1:${adminPort}`;
  return [
    '',
    'roomcast is running in development mode with a generated API key:',
    `  ${apiKey}`,
    'Try it:',
    `  curl -s -X POST ${base}/v1/rooms -H 'Authorization: Bearer ${apiKey}' -H 'Content-Type: application/json' -d '{"id":"demo","title":"Demo"}'`,
    '',
  ].join('\n');
}
