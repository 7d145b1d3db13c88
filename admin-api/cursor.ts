/**
 * Paging cursors: the last id of a page, base64url-encoded. A cursor decodes
 * only when it is exactly what `encodeCursor` gives for some id, so one the
 * API did not hand out is refused (400) on every list instead of read as a
 * position that happens to match nothing.
 */
import { ApiError } from './errors.js';

export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId).toString('base64url');
}

/** The id a cursor stands for; throws `invalid_request` for any other text. */
export function decodeCursor(cursor: string): string {
  const lastId = Buffer.from(cursor, 'base64url').toString('utf8');
  if (lastId === '' || encodeCursor(lastId) !== cursor) {
    throw new ApiError('invalid_request', 'cursor is not one this API gave', {
      details: [
        { in: 'querystring', path: '/cursor', message: 'unknown cursor' },
      ],
    });
  }

  return lastId;
}
