import { Value } from '@sinclair/typebox/value';
import { SETTINGS, type Settings, type SettingName } from './settings.js';

/** A configuration problem found at start-up; the process must not start. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

const NUMBER_LIKE = /^-?[0-9]+$/;

function parseValue(name: SettingName, raw: string): unknown {
  const schema = SETTINGS[name].schema as { type?: string };
  if (schema.type === 'integer') {
    if (!NUMBER_LIKE.test(raw.trim())) {
      throw new ConfigError(
        `${SETTINGS[name].env} must be an integer, got ${JSON.stringify(raw)}`,
      );
    }

    return Number(raw.trim());
  }

  return raw;
}

/**
 * Builds the settings from environment variables over the defaults.
 * Throws {@link ConfigError} on an unknown `ROOMCAST_*` variable or a value
 * outside its bounds.
 * @param overrides values that win over the environment (tests, CLI flags)
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Settings> = {},
): Settings {
  const known = new Map<string, SettingName>();
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    known.set(SETTINGS[name].env, name);
  }

  const unknown = Object.keys(env).filter(
    (key) => key.startsWith('ROOMCAST_') && !known.has(key),
  );
  if (unknown.length > 0) {
    throw new ConfigError(
      `unknown setting ${unknown.join(', ')}; see the README's configuration table`,
    );
  }

  const values: Record<string, unknown> = {};
  for (const [envName, name] of known) {
    const raw = env[envName];
    const override = overrides[name];
    if (override !== undefined) {
      values[name] = override;
    } else if (raw !== undefined && raw !== '') {
      values[name] = parseValue(name, raw);
    } else {
      values[name] = Value.Default(SETTINGS[name].schema, undefined);
    }

    const schema = SETTINGS[name].schema;
    if (!Value.Check(schema, values[name])) {
      const first = Value.Errors(schema, values[name]).First();
      throw new ConfigError(
        `${envName}: ${first?.message ?? 'invalid value'} (got ${JSON.stringify(values[name])})`,
      );
    }
  }

  const settings = values as Settings;
  if (settings.hardBackpressureBytes <= settings.softBackpressureBytes) {
    throw new ConfigError(
      'ROOMCAST_HARD_BACKPRESSURE_BYTES must be larger than ROOMCAST_SOFT_BACKPRESSURE_BYTES',
    );
  }

  if (settings.roomLeaseMs < 3 * settings.shardHeartbeatMs) {
    throw new ConfigError(
      'ROOMCAST_ROOM_LEASE_MS must be at least 3 times ROOMCAST_SHARD_HEARTBEAT_MS',
    );
  }

  return settings;
}

/** Parses `tenant:key,tenant:key` into key -> tenant. */
export function parseApiKeys(spec: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const entry of spec.split(',')) {
    const trimmed = entry.trim();
    if (trimmed === '') {
      continue;
    }

    const colon = trimmed.indexOf(':');
    const tenant = trimmed.slice(0, colon);
    const key = trimmed.slice(colon + 1);
    if (colon <= 0 || key.length < 16 || !/^[A-Za-z0-9_-]+$/.test(tenant)) {
      throw new ConfigError(
        'ROOMCAST_API_KEYS entries must be tenant:key with a tenant of letters, digits, _ or - and a key of at least 16 characters',
      );
    }

    keys.set(key, tenant);
  }

  return keys;
}
