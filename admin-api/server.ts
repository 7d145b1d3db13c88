/**
 * The platforms' HTTP API (fastify). Every `/v1` route needs
 * `Authorization: Bearer <api key>`; a key belongs to one tenant and sees only
 * that tenant's rooms. Bodies and queries are validated by schema with
 * unknown fields refused; every error is `{error: {code, message, details?}}`.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { Bus } from '../bus/index.js';
import type { Settings } from '../config/index.js';
import type { IdGenerator } from '../ids/index.js';
import { MemoryKvStore, type KvStore } from '../kv-store/index.js';
import { gauge, histogram, type Registry } from '../metrics/index.js';
import { Restrictions } from '../moderation/index.js';
import type { ReliableLog } from '../reliable-log/index.js';
import type { RoomDirectory } from '../room-directory/index.js';
import type { ViewerTokens } from '../tokens/index.js';
import { ApiKeys, type Caller } from './api-keys.js';
import { Broadcasts } from './broadcasts.js';
import type { AdminContext, MemberSource, RoomShardStats } from './context.js';
import { EffectMarkers } from './effects.js';
import { answerClientError, ApiError, fromFastifyError } from './errors.js';
import { IdempotencyRecords } from './idempotency.js';
import { registerJsonParser } from './json-body.js';
import { JOB_KINDS, type JobQueue } from './jobs.js';
import { MemoryJobQueue } from './jobs-memory.js';
import { OpenApiCollector } from './openapi.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { RoomLifecycle } from './room-lifecycle.js';
import { registerBroadcastRoutes } from './routes-broadcasts.js';
import { registerKeyRoutes } from './routes-keys.js';
import { registerMemberRoutes } from './routes-members.js';
import { deliverScheduled, registerMessageRoutes } from './routes-messages.js';
import { registerRoomRoutes } from './routes-rooms.js';
import { registerWebhookRoutes } from './routes-webhooks.js';
import { validatorCompiler } from './validation.js';
import { Webhooks, type WebhooksOptions } from './webhooks.js';

export interface AdminApiOptions {
  settings: Pick<
    Settings,
    'maxBodyBytes' | 'tokenTtlSeconds' | 'adminRequestsPerSecond'
  >;
  /** api key -> tenant; these are admin keys */
  apiKeys: Map<string, string>;
  directory: RoomDirectory;
  log: ReliableLog;
  bus: Bus;
  ids: IdGenerator;
  tokens: ViewerTokens;
  registry: Registry;
  logger: Logger;
  clock?: () => number;
  /** Durable state; default in this process's memory. */
  kv?: KvStore;
  /** Durable jobs; default in this process's memory. */
  jobs?: JobQueue;
  /** Run job workers in this process. Default true. */
  runJobs?: boolean;
  /** Live stats of a room from its shard, when this process can ask one. */
  roomStats?: (roomKey: string) => Promise<RoomShardStats | undefined>;
  members?: MemberSource;
  /** Per API key. Default 1,000 requests/s with bursts of 2,000. */
  rateLimit?: Omit<RateLimitOptions, 'clock'>;
  webhooks?: Pick<WebhooksOptions, 'timeoutMs' | 'attempts' | 'backoffMs'>;
  /** Time between two lifecycle checks of a room, ms. Default 5,000. */
  lifecycleCheckMs?: number;
  /**
   * False while the stores (Redis) are unreachable: `/readyz` answers 503
   * and so does every `/v1` request, with `unavailable`. Default: always
   * ready.
   */
  ready?: () => boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

export type AdminApp = FastifyInstance;

export interface AdminRuntime {
  context: AdminContext;
  broadcasts: Broadcasts;
  lifecycle: RoomLifecycle;
}

/** The API's state and services, without HTTP; job workers use it alone. */
export function createAdminRuntime(options: AdminApiOptions): AdminRuntime {
  const clock = options.clock ?? Date.now;
  const kv = options.kv ?? new MemoryKvStore(clock);
  const jobs = options.jobs ?? new MemoryJobQueue(options.logger);
  const effects = new EffectMarkers(kv);
  const newId = () => options.ids.next();
  const context: AdminContext = {
    settings: options.settings,
    directory: options.directory,
    log: options.log,
    bus: options.bus,
    ids: options.ids,
    tokens: options.tokens,
    registry: options.registry,
    logger: options.logger.child({ component: 'admin-api' }),
    clock,
    kv,
    jobs,
    effects,
    keys: new ApiKeys({ kv, staticKeys: options.apiKeys, newId, clock }),
    idempotency: new IdempotencyRecords(kv),
    restrictions: new Restrictions(kv, clock),
    webhooks: new Webhooks({
      kv,
      jobs,
      effects,
      newId,
      registry: options.registry,
      logger: options.logger,
      clock,
      ...options.webhooks,
    }),
    roomStats: options.roomStats ?? (async () => undefined),
    members: options.members,
  };
  return {
    context,
    broadcasts: new Broadcasts(context),
    lifecycle: new RoomLifecycle(context, options.lifecycleCheckMs),
  };
}

/** Runs every kind of job in this process. */
export function runJobWorkers(runtime: AdminRuntime): void {
  const { context, broadcasts, lifecycle } = runtime;
  const { jobs } = context;
  jobs.process(
    'webhook',
    (data, job) => context.webhooks.deliver(data, job),
    16,
  );
  jobs.process(
    'scheduled-message',
    (data) => deliverScheduled(context, data),
    16,
  );
  jobs.process('broadcast', (data) => broadcasts.run(data), 2);
  jobs.process('room-lifecycle', (data) => lifecycle.check(data), 8);
}

export function buildAdminApi(options: AdminApiOptions): AdminApp {
  const runtime = createAdminRuntime(options);
  const { context } = runtime;
  if (options.runJobs ?? true) {
    runJobWorkers(runtime);
  }

  const app = Fastify({
    loggerInstance: context.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.settings.maxBodyBytes,
    // A user id is up to 128 characters, percent-encoded up to 9 bytes each.
    routerOptions: { maxParamLength: 1200 },
    // Errors fastify raises before routing (a URL that does not decode, a
    // path segment past maxParamLength) get the API's error body too, not
    // fastify's own.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const apiError =
        error.code === 'FST_ERR_BAD_URL' ||
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new ApiError('invalid_request', 'the URL is malformed', {
              cause: error,
            })
          : fromFastifyError(error);
      void reply.status(apiError.status).send(apiError.toJSON());
    },
    // Errors Node's HTTP parser raises before fastify (headers too large).
    clientErrorHandler: answerClientError,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  if (options.jobs === undefined) {
    app.addHook('onClose', () => context.jobs.close());
  }

  registerMetrics(app, options.registry, context.jobs);

  const perSecond = options.settings.adminRequestsPerSecond;
  const limiter = new RateLimiter({
    requestsPerSecond: options.rateLimit?.requestsPerSecond ?? perSecond,
    burst: options.rateLimit?.burst ?? 2 * perSecond,
    clock: context.clock,
  });
  const openApi = new OpenApiCollector();

  // JSON only: anything else is answered 415 rather than parsed as text.
  app.removeContentTypeParser('text/plain');
  registerJsonParser(app);
  app.decorateRequest('caller', null as unknown as Caller);
  app.setErrorHandler((error, request, reply) => {
    const apiError =
      error instanceof ApiError ? error : fromFastifyError(error);
    if (apiError.code === 'internal') {
      request.log.error({ err: error }, 'request failed');
    }

    if (apiError.retryAfterSeconds !== undefined) {
      void reply.header('retry-after', String(apiError.retryAfterSeconds));
    }

    void reply.status(apiError.status).send(apiError.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError(
      'not_found',
      `no route ${request.method} ${request.url.split('?')[0] ?? ''}`,
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
  app.get('/v1/openapi.json', async () => openApi.document('1'));

  void app.register(
    async (v1) => {
      v1.addHook('onRoute', (route) => {
        route.schema ??= {};
        (route.schema as { querystring?: unknown }).querystring ??= Type.Object(
          {},
          { additionalProperties: false },
        );
        openApi.onRoute(route);
      });
      v1.addHook('onRequest', async (request) => {
        // Without its stores nothing under /v1 can be answered truthfully.
        if (options.ready?.() === false) {
          throw new ApiError(
            'unavailable',
            'redis is unreachable; retry shortly',
          );
        }

        const caller = await authenticate(request, context);
        const waitSeconds = limiter.take(`${caller.tenant}:${caller.keyId}`);
        if (waitSeconds > 0) {
          throw new ApiError('rate_limited', 'this key is over its rate', {
            retryAfterSeconds: waitSeconds,
          });
        }

        request.caller = caller;
      });
      registerRoomRoutes(v1, context, runtime.lifecycle);
      registerMemberRoutes(v1, context);
      registerMessageRoutes(v1, context);
      registerBroadcastRoutes(v1, runtime.broadcasts);
      registerKeyRoutes(v1, context);
      registerWebhookRoutes(v1, context);
    },
    { prefix: '/v1' },
  );
  return app;
}

async function authenticate(
  request: FastifyRequest,
  context: AdminContext,
): Promise<Caller> {
  const header = request.headers.authorization;
  if (header === undefined || !header.startsWith('Bearer ')) {
    throw new ApiError('unauthorized', 'send Authorization: Bearer <api key>');
  }

  const caller = await context.keys.resolve(
    header.slice('Bearer '.length).trim(),
  );
  if (caller === undefined) {
    throw new ApiError('unauthorized', 'the API key is not valid');
  }

  return caller;
}

function registerMetrics(
  app: FastifyInstance,
  registry: Registry,
  jobs: JobQueue,
): void {
  const requestSeconds = histogram(registry, {
    name: 'roomcast_admin_requests_seconds',
    help: 'Admin API request durations by route and status.',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  });
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
  gauge(registry, {
    name: 'roomcast_jobs',
    help: 'Durable jobs by queue and state (waiting, delayed, active, failed).',
    labelNames: ['queue', 'state'],
    async collect() {
      const depths = await jobs.depths().catch(() => undefined);
      if (depths === undefined) {
        return;
      }

      for (const kind of JOB_KINDS) {
        for (const [state, count] of Object.entries(depths[kind])) {
          this.set({ queue: kind, state }, count);
        }
      }
    },
  });
}
