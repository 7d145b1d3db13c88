import type { ViewerErrorCode } from '../protocol/frames.js';

/**
 * Codes of the errors the SDK throws or emits. The server's own `error`
 * frame codes pass through unchanged (`source: 'server'`).
 */
export type RoomcastErrorCode =
  | ViewerErrorCode
  /** The client is closed for good; make a new one with `connect()`. */
  | 'closed'
  /** The socket is (re)connecting; chat cannot be sent right now. */
  | 'not_connected'
  /** An argument is out of range (empty chat, like count not a positive integer). */
  | 'invalid_argument'
  /** The token refresh hook threw or returned something other than a string. */
  | 'token_refresh_failed'
  /** The server sent a frame the SDK could not decode; it was skipped. */
  | 'bad_server_frame'
  /** No WebSocket implementation: pass one in `ConnectOptions.WebSocket`. */
  | 'no_websocket';

export interface RoomcastErrorOptions {
  source?: 'client' | 'server';
  /** For `rate_limited`: milliseconds until the call would succeed. */
  retryAfterMs?: number;
  cause?: unknown;
}

export class RoomcastError extends Error {
  readonly code: RoomcastErrorCode;
  /** `server` for `error` frames from the edge, `client` for the SDK's own. */
  readonly source: 'client' | 'server';
  readonly retryAfterMs: number | undefined;

  constructor(
    code: RoomcastErrorCode,
    message: string,
    options: RoomcastErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'RoomcastError';
    this.code = code;
    this.source = options.source ?? 'client';
    this.retryAfterMs = options.retryAfterMs;
  }
}
