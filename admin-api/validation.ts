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
  /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:Z|[+-](\d\d):(\d\d))$/i;

/**
 * RFC 3339 date-time naming a moment that exists: `Date.parse` rolls
 * 2026-02-30 over into March rather than refusing it, so the fields are
 * checked against the calendar here.
 */
function isDateTime(value: string): boolean {
  const match = DATE_TIME.exec(value);
  if (match === null) {
    return false;
  }

  const [year, month, day, hour, minute, second, offsetH, offsetM] = match
    .slice(1)
    .map((field) => Number(field ?? 0));
  const daysInMonth = new Date(Date.UTC(year ?? 0, month ?? 0, 0)).getUTCDate();
  return (
    month !== undefined &&
    month >= 1 &&
    month <= 12 &&
    day !== undefined &&
    day >= 1 &&
    day <= daysInMonth &&
    (hour ?? 0) <= 23 &&
    (minute ?? 0) <= 59 &&
    (second ?? 0) <= 59 &&
    (offsetH ?? 0) <= 23 &&
    (offsetM ?? 0) <= 59
  );
}

/**
 * A URL is taken only as `new URL()` writes it back: no whitespace, nothing
 * the parser would encode, drop or rewrite, so the address stored and shown
 * is the one called.
 */
function isCanonicalUrl(value: string): boolean {
  return (
    !/\s/.test(value) && URL.canParse(value) && new URL(value).href === value
  );
}

if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', isDateTime);
}

if (!FormatRegistry.Has('uri')) {
  FormatRegistry.Set('uri', isCanonicalUrl);
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
