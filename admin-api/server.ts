/**
 * The platforms' HTTP API (fastify). Every `/v1` route needs
 * `Authorization: Bearer <api key>`; a key belongs to one tenant and sees only
 * that tenant's rooms. Bodies are validated by schema with unknown fields
 * refused; every error is `{error: {code, message, details?}}`.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { Bus } from '../bus/index.js';
import type { Settings } from '../config/index.js';
import type { IdGenerator } from '../ids/index.js';
import { histogram, type Registry } from '../metrics/index.js';
import type { RoomAccounting } from '../priority/index.js';
import type { ReliableLog } from '../reliable-log/index.js';
import type { RoomDirectory } from '../room-directory/index.js';
import type { ViewerTokens } from '../tokens/index.js';
import { ApiError, fromFastifyError } from './errors.js';
import { registerRoomRoutes } from './routes-rooms.js';
import { registerMessageRoutes } from './routes-messages.js';
import { registerTokenRoutes } from './routes-tokens.js';

/** What a room's owning shard knows about it. */
export interface RoomShardStats {
  members: number;
  accounting: RoomAccounting;
}

export interface AdminApiOptions {
  settings: Pick<Settings, 'maxBodyBytes' | 'tokenTtlSeconds'>;
  /** api key -> tenant */
  apiKeys: Map<string, string>;
  directory: RoomDirectory;
  log: ReliableLog;
  bus: Bus;
  ids: IdGenerator;
  tokens: ViewerTokens;
  registry: Registry;
  logger: Logger;
  clock?: () => number;
  /** Live stats of a room from its shard, when this process can ask one. */
  roomStats?: (roomKey: string) => Promise<RoomShardStats | undefined>;
  ready?: () => boolean;
}

export interface AdminContext extends AdminApiOptions {
  clock: () => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    tenant: string;
  }
}

export type AdminApp = FastifyInstance;

export function buildAdminApi(options: AdminApiOptions): AdminApp {
  const context: AdminContext = {
    ...options,
    clock: options.clock ?? Date.now,
  };
  const app = Fastify({
    loggerInstance: options.logger.child({
      component: 'admin-api',
    }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.settings.maxBodyBytes,
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: true,
        allErrors: false,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const requestSeconds = histogram(options.registry, {
    name: 'roomcast_admin_requests_seconds',
    help: 'Admin API request durations by route and status.',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  });

  // JSON only: anything else is answered 415 rather than parsed as text.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('tenant', '');
  app.addHook('onResponse', async (request, reply) => {
    requestSeconds.observe(
      {
        route: request.routeOptions.url ?? 'unmatched',
        method: request.method,
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler((error, request, reply) => {
    const apiError =
      error instanceof ApiError ? error : fromFastifyError(error);
    if (apiError.code === 'internal') {
      request.log.error({ err: error }, 'request failed');
    }

    void reply.status(apiError.status).send(apiError.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError(
      'not_found',
      `no route ${request.method} ${request.url}`,
    );
    void reply.status(error.status).send(error.toJSON());
  });

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    const ready = options.ready?.() ?? true;
    return reply.status(ready ? 200 : 503).send({ ready });
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await options.registry.metrics();
    return reply
      .header('content-type', options.registry.contentType)
      .send(text);
  });

  void app.register(
    async (v1) => {
      v1.addHook('onRequest', async (request) => {
        request.tenant = authenticate(request, options.apiKeys);
      });
      registerRoomRoutes(v1, context);
      registerMessageRoutes(v1, context);
      registerTokenRoutes(v1, context);
    },
    { prefix: '/v1' },
  );
  return app;
}

function authenticate(
  request: FastifyRequest,
  apiKeys: Map<string, string>,
): string {
  const header = request.headers.authorization;
  if (header === undefined || !header.startsWith('Bearer ')) {
    throw new ApiError('unauthorized', 'send Authorization: Bearer <api key>');
  }

  const tenant = apiKeys.get(header.slice('Bearer '.length).trim());
  if (tenant === undefined) {
    throw new ApiError('unauthorized', 'the API key is not valid');
  }

  return tenant;
}
