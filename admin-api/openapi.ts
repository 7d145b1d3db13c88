/**
 * The OpenAPI 3.1 document of `/v1`, generated from the schemas the routes
 * validate with, so the document cannot drift from what the API accepts.
 * Routes are collected as fastify registers them.
 */
import type { RouteOptions } from 'fastify';

type Json = Record<string, unknown>;

interface RouteDoc {
  method: string;
  url: string;
  schema: Json;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  413: 'Body too large',
  415: 'Unsupported media type',
  422: 'Unprocessable',
  429: 'Rate limited',
  503: 'Unavailable',
};

/** Answers every route may give, besides its own. */
const COMMON_ERRORS = [400, 401, 413, 415, 429];

export class OpenApiCollector {
  #routes: RouteDoc[] = [];

  /** An `onRoute` hook: records each documented route. */
  readonly onRoute = (route: RouteOptions): void => {
    const schema = route.schema as Json | undefined;
    if (schema?.['summary'] === undefined) {
      return;
    }

    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') {
        this.#routes.push({
          method: method.toLowerCase(),
          url: route.url,
          schema,
        });
      }
    }
  };

  document(version: string): Json {
    const paths: Record<string, Json> = {};
    const errorRef = { $ref: '#/components/schemas/Error' };
    for (const route of this.#routes) {
      const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
      const { schema } = route;
      const parameters = [
        ...parametersOf(schema['params'], 'path'),
        ...parametersOf(schema['querystring'], 'query'),
        ...parametersOf(schema['headers'], 'header'),
      ];
      const responses: Json = {};
      const declared = (schema['response'] ?? {}) as Record<string, Json>;
      for (const [status, body] of Object.entries(declared)) {
        const code = Number(status);
        responses[status] =
          code === 204
            ? { description: STATUS_TEXT[code] }
            : {
                description: STATUS_TEXT[code] ?? status,
                content: {
                  'application/json': {
                    schema: code >= 400 ? errorRef : plain(body),
                  },
                },
              };
      }

      for (const code of COMMON_ERRORS) {
        responses[String(code)] ??= {
          description: STATUS_TEXT[code],
          content: { 'application/json': { schema: errorRef } },
        };
      }

      paths[path] ??= {};
      (paths[path] as Json)[route.method] = {
        tags: schema['tags'],
        summary: schema['summary'],
        ...(parameters.length === 0 ? {} : { parameters }),
        ...(schema['body'] === undefined
          ? {}
          : {
              requestBody: {
                required: true,
                content: {
                  'application/json': { schema: plain(schema['body']) },
                },
              },
            }),
        responses,
      };
    }

    return {
      openapi: '3.1.0',
      info: {
        title: 'roomcast admin API',
        version,
        description:
          'Rooms, messages, broadcasts, moderation, viewer tokens, API keys and webhooks of one tenant. Authenticate with `Authorization: Bearer <api key>`. Errors are `{error: {code, message, details?}}`; docs/errors.md lists every code.',
      },
      servers: [{ url: '/' }],
      security: [{ bearer: [] }],
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
        schemas: {
          Error: {
            type: 'object',
            required: ['error'],
            properties: {
              error: {
                type: 'object',
                required: ['code', 'message'],
                properties: {
                  code: { type: 'string' },
                  message: { type: 'string' },
                  details: {},
                },
              },
            },
          },
        },
      },
      paths: sortKeys(paths),
    };
  }
}

function parametersOf(schema: unknown, where: string): Json[] {
  const object = schema as
    { properties?: Record<string, Json>; required?: string[] } | undefined;
  return Object.entries(object?.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (object?.required ?? []).includes(name),
    schema: plain(property),
  }));
}

/** A schema as plain JSON: TypeBox's symbol keys dropped. */
function plain(schema: unknown): Json {
  return JSON.parse(JSON.stringify(schema ?? {})) as Json;
}

function sortKeys(object: Record<string, Json>): Record<string, Json> {
  return Object.fromEntries(
    Object.entries(object).sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}
