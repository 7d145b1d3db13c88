/**
 * The admin API's JSON body parser. fastify's own one refuses a `__proto__`
 * key (and a `constructor` key holding a `prototype` key) as if the JSON were
 * malformed, which tells a platform to fix well-formed JSON. This one answers
 * those keys with their own code, `reserved_key`, wherever they sit (also
 * deep inside `data`), and `invalid_json` only for text that is not JSON.
 *
 * `JSON.parse` makes `__proto__` an own property, never the prototype, so
 * the parsed value is safe to look at; it is refused anyway because later
 * code that copies it with assignment or spreads it into msgpack encoders
 * could turn it into one. Refusing beats stripping: a stripped key would
 * change the platform's data without a word.
 *
 * The walk runs only when the text could hold such a key (a `proto` or a
 * `\u` escape in it), so ordinary bodies pay one scan of the string.
 *
 * An empty body is no body: many clients send `Content-Type:
 * application/json` on every request, a DELETE included. Routes that take no
 * body then see none, and routes that need one answer their usual schema
 * error. A charset other than UTF-8 is refused (415) rather than misread, and
 * a number too large for a double (`1e400`, which `JSON.parse` turns into
 * Infinity) is refused rather than stored as something else.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.js';

const MAYBE_RESERVED = /proto|\\u/;
/** Text that may hold a number past a double: a 3-digit exponent, 300 digits. */
const MAYBE_HUGE = /[eE][+-]?\d{3}|\d{300}/;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;

export function registerJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (request, body, done) => {
      try {
        checkCharset(request.headers['content-type']);
        done(null, parseJsonBody(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
}

function checkCharset(contentType: string | undefined): void {
  const charset = CHARSET.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new ApiError(
      'unsupported_media_type',
      'send the body as application/json in UTF-8',
    );
  }
}

/**
 * Parses a request body: undefined when it is empty; throws `invalid_json`,
 * `reserved_key`, or `invalid_request` for a number out of a double's range.
 */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) {
    return undefined;
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError('invalid_json', 'the body is not valid JSON', {
      cause: error,
    });
  }

  if (MAYBE_RESERVED.test(text)) {
    const path = reservedKeyPath(value);
    if (path !== undefined) {
      throw new ApiError(
        'reserved_key',
        `the body has a reserved key at ${path}; rename it`,
        { details: [{ path }] },
      );
    }
  }

  if (MAYBE_HUGE.test(text)) {
    const path = infinitePath(value);
    if (path !== undefined) {
      throw new ApiError(
        'invalid_request',
        `the number at ${path} is too large`,
        { details: [{ in: 'body', path, message: 'number out of range' }] },
      );
    }
  }

  return value;
}

/** The JSON path of the first number JSON.parse made infinite, if any. */
function infinitePath(root: unknown): string | undefined {
  const stack: [unknown, string][] = [[root, '$']];
  while (stack.length > 0) {
    const [value, path] = stack.pop() as [unknown, string];
    if (typeof value === 'number' && !Number.isFinite(value)) {
      return path;
    }

    if (typeof value !== 'object' || value === null) {
      continue;
    }

    for (const [key, child] of Object.entries(value)) {
      stack.push([
        child,
        Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`,
      ]);
    }
  }

  return undefined;
}

/** The JSON path of the first reserved key, or undefined when none. */
function reservedKeyPath(root: unknown): string | undefined {
  const stack: [unknown, string][] = [[root, '$']];
  while (stack.length > 0) {
    const [value, path] = stack.pop() as [unknown, string];
    if (typeof value !== 'object' || value === null) {
      continue;
    }

    for (const [key, child] of Object.entries(value)) {
      const childPath = Array.isArray(value)
        ? `${path}[${key}]`
        : `${path}.${key}`;
      if (key === '__proto__') {
        return childPath;
      }

      if (
        key === 'constructor' &&
        typeof child === 'object' &&
        child !== null &&
        Object.hasOwn(child, 'prototype')
      ) {
        return `${childPath}.prototype`;
      }

      stack.push([child, childPath]);
    }
  }

  return undefined;
}
