export { RedisKeys, roomTag } from './keys.js';
export {
  connect,
  disconnect,
  isReady,
  isRedisUnavailable,
  redisTarget,
  whenReady,
  RedisConfigError,
} from './connection.js';
export type { RedisClient, RedisTarget, ConnectOptions } from './connection.js';
