/**
 * Every error the admin API answers with, by stable code, and the one place
 * codes map to HTTP statuses. docs/errors.md lists them with cause and fix.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { isRedisUnavailable } from '../redis/index.js';

export const API_ERRORS = {
  invalid_request: 400,
  invalid_json: 400,
  reserved_key: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  room_not_found: 404,
  member_not_found: 404,
  key_not_found: 404,
  webhook_not_found: 404,
  broadcast_not_found: 404,
  request_timeout: 408,
  room_exists: 409,
  idempotency_in_progress: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  unknown_message_type: 422,
  deliver_at_out_of_range: 422,
  invalid_settings: 422,
  rate_limited: 429,
  header_too_large: 431,
  unavailable: 503,
  internal: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly details: unknown;

  constructor(
    code: ApiErrorCode,
    message: string,
    options: ErrorOptions & {
      details?: unknown;
      retryAfterSeconds?: number;
    } = {},
  ) {
    super(message, options);
    this.name = 'ApiError';
    this.code = code;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** Sent as `Retry-After` on 409 `idempotency_in_progress` and 429. */
  readonly retryAfterSeconds: number | undefined;

  get status(): number {
    return API_ERRORS[this.code];
  }

  toJSON(): { error: { code: string; message: string; details?: unknown } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

/**
 * Answers an error Node's HTTP parser raises before fastify sees a request
 * (fastify's `clientErrorHandler`): headers past Node's size limit get 431
 * `header_too_large`, a request not received within Node's `requestTimeout`
 * 408 `request_timeout`, anything else 400 `invalid_request`, all in the
 * API's error shape. The connection is closed after, as Node does, since the
 * parser cannot find where the next request starts.
 */
export function answerClientError(error: Error, socket: Duplex): void {
  const { code } = error as { code?: string };
  if (code === 'ECONNRESET' || socket.destroyed) {
    return;
  }

  const apiError =
    code === 'HPE_HEADER_OVERFLOW'
      ? new ApiError(
          'header_too_large',
          'the request headers are larger than the server accepts',
        )
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new ApiError('request_timeout', 'the request was not sent in time')
        : new ApiError('invalid_request', 'the request is not valid HTTP');
  if (socket.writable) {
    const body = JSON.stringify(apiError.toJSON());
    socket.write(
      `HTTP/1.1 ${apiError.status} ${STATUS_CODES[apiError.status] ?? ''}\r\n` +
        `content-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        'connection: close\r\n\r\n' +
        body,
    );
  }

  socket.destroy(error);
}

/** Maps fastify's own error codes onto ours. */
export function fromFastifyError(thrown: unknown): ApiError {
  const error = (
    typeof thrown === 'object' && thrown !== null ? thrown : {}
  ) as {
    code?: string;
    statusCode?: number;
    message?: string;
    validation?: unknown;
  };
  if (error.validation !== undefined) {
    return new ApiError('invalid_request', error.message ?? 'invalid request', {
      details: error.validation,
    });
  }

  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(
        'unsupported_media_type',
        'send the body as application/json',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('invalid_json', 'the JSON body is empty');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('invalid_request', 'the content length is wrong');
    default:
      break;
  }

  if (thrown instanceof SyntaxError || error.statusCode === 400) {
    return new ApiError('invalid_json', 'the body is not valid JSON');
  }

  if (error.statusCode === 413) {
    return new ApiError('payload_too_large', 'the request body is too large');
  }

  if (error.statusCode === 415) {
    return new ApiError(
      'unsupported_media_type',
      'send the body as application/json',
    );
  }

  if (isRedisUnavailable(thrown)) {
    return new ApiError('unavailable', 'redis is unreachable; retry shortly');
  }

  return new ApiError('internal', 'internal error', { cause: thrown });
}
