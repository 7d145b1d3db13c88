export { buildAdminApi } from './server.js';
export type { AdminApiOptions, AdminApp, RoomShardStats } from './server.js';
export { ApiError, API_ERRORS } from './errors.js';
export type { ApiErrorCode } from './errors.js';
