export { roomKey, splitRoomKey, ROOM_ID_PATTERN } from './directory.js';
export type {
  RoomDirectory,
  RoomEvent,
  RoomRecord,
  RoomSettings,
  RoomStatus,
} from './directory.js';
export { MemoryRoomDirectory } from './directory-memory.js';
export { RedisRoomDirectory } from './directory-redis.js';
export type { RedisRoomDirectoryOptions } from './directory-redis.js';
