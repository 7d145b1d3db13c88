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
 */
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.js';

const MAYBE_RESERVED = /proto|\\u/;

export function registerJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (_request, body, done) => {
      try {
        done(null, parseJsonBody(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
}

/** Parses a request body; throws `invalid_json` or `reserved_key`. */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) {
    throw new ApiError('invalid_json', 'the JSON body is empty');
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

  return value;
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
