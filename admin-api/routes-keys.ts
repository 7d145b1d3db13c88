import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AdminContext } from './context.js';
import { ApiError } from './errors.js';
import { findRoom } from './routes-rooms.js';
import { ErrorBody, IdParams, TokenBody, doc } from './schemas.js';
import { ApiKeyInfo, CreateKeyBody } from './schemas-resources.js';

function requireAdmin(request: FastifyRequest): void {
  if (request.caller.role !== 'admin') {
    throw new ApiError('forbidden', 'managing keys needs an admin key');
  }
}

export function registerKeyRoutes(
  app: FastifyInstance,
  context: AdminContext,
): void {
  const v1 = app.withTypeProvider<TypeBoxTypeProvider>();

  v1.post(
    '/tokens',
    {
      schema: {
        body: TokenBody,
        ...doc('tokens', 'Mint a viewer token for one user in one room', {
          201: Type.Object({
            token: Type.String(),
            expiresAt: Type.String({ format: 'date-time' }),
          }),
          404: ErrorBody,
        }),
      },
    },
    async (request, reply) => {
      const body = request.body;
      await findRoom(context, request.caller.tenant, body.room);
      const minted = await context.tokens.mint(
        {
          tenant: request.caller.tenant,
          room: body.room,
          user: body.user,
          name: body.name ?? body.user,
          role: body.role ?? 'viewer',
          level: body.level ?? 0,
        },
        body.ttlSeconds ?? context.settings.tokenTtlSeconds,
      );
      return reply.status(201).send({
        token: minted.token,
        expiresAt: new Date(minted.expiresAt * 1000).toISOString(),
      });
    },
  );

  v1.post(
    '/keys',
    {
      schema: {
        body: CreateKeyBody,
        ...doc('keys', 'Create an API key of this tenant (admin keys only)', {
          201: Type.Object({ ...ApiKeyInfo.properties, key: Type.String() }),
          403: ErrorBody,
        }),
      },
    },
    async (request, reply) => {
      requireAdmin(request);
      const { info, secret } = await context.keys.create(
        request.caller.tenant,
        request.body.name ?? '',
        request.body.role ?? 'publisher',
      );
      return reply.status(201).send({ ...info, key: secret });
    },
  );

  v1.get(
    '/keys',
    {
      schema: doc('keys', 'List the tenant\u2019s created keys (no secrets)', {
        200: Type.Object({ keys: Type.Array(ApiKeyInfo) }),
        403: ErrorBody,
      }),
    },
    async (request) => {
      requireAdmin(request);
      return { keys: await context.keys.list(request.caller.tenant) };
    },
  );

  v1.delete(
    '/keys/:id',
    {
      schema: {
        params: IdParams,
        ...doc('keys', 'Revoke a key', {
          204: null,
          403: ErrorBody,
          404: ErrorBody,
        }),
      },
    },
    async (request, reply) => {
      requireAdmin(request);
      if (
        !(await context.keys.revoke(request.caller.tenant, request.params.id))
      ) {
        throw new ApiError('key_not_found', `no key ${request.params.id}`);
      }

      return reply.status(204).send();
    },
  );
}
