export { SETTINGS } from './settings.js';
export type { Settings, SettingName } from './settings.js';
export { loadConfig, parseApiKeys, ConfigError } from './load-config.js';
