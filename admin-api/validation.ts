/**
 * Request validation with TypeBox's compiler instead of fastify's ajv: bodies
 * are checked as sent (no coercion, so `"5"` is not a number), while path
 * parameters and query strings, which are always text, are converted to the
 * schema's types first. Failures carry `validation` (the list of problems),
 * which errors.ts turns into 400 `invalid_request` with `details`.
 */
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler } from 'fastify';

const DATE_TIME =
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/i;

if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set(
    'date-time',
    (value) => DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)),
  );
}

if (!FormatRegistry.Has('uri')) {
  FormatRegistry.Set('uri', (value) => URL.canParse(value));
}

/** Problems reported per request, at most. */
const MAX_DETAILS = 10;

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({
  schema,
  httpPart,
}) => {
  const check = TypeCompiler.Compile(schema);
  const convert = httpPart === 'querystring' || httpPart === 'params';
  return (input: unknown) => {
    const value = convert ? Value.Convert(schema, input) : input;
    if (check.Check(value)) {
      return { value };
    }

    const details = [...check.Errors(value)]
      .slice(0, MAX_DETAILS)
      .map((error) => ({
        in: httpPart ?? 'request',
        path: error.path === '' ? '/' : error.path,
        message: error.message,
      }));
    const first = details[0];
    const message =
      first === undefined
        ? `invalid ${httpPart ?? 'request'}`
        : `${httpPart ?? 'request'} ${first.path}: ${first.message}`;
    return {
      error: Object.assign(new Error(message), { validation: details }),
    };
  };
};
