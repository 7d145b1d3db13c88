import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ApiError } from './errors.js';
import { TokenBody } from './schemas.js';
import type { AdminContext } from './server.js';

export function registerTokenRoutes(
  app: FastifyInstance,
  context: AdminContext,
): void {
  const v1 = app.withTypeProvider<TypeBoxTypeProvider>();

  v1.post(
    '/tokens',
    { schema: { body: TokenBody } },
    async (request, reply) => {
      const body = request.body;
      const room = await context.directory.get(request.tenant, body.room);
      if (room === undefined) {
        throw new ApiError('room_not_found', `no room ${body.room}`);
      }

      const minted = await context.tokens.mint(
        {
          tenant: request.tenant,
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
}
