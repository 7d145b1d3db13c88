import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Broadcasts } from './broadcasts.js';
import { ApiError } from './errors.js';
import { validateMessage } from './publish.js';
import { ErrorBody, IdParams, doc } from './schemas.js';
import { BroadcastBody, BroadcastStatus } from './schemas-resources.js';

export function registerBroadcastRoutes(
  app: FastifyInstance,
  broadcasts: Broadcasts,
): void {
  const v1 = app.withTypeProvider<TypeBoxTypeProvider>();

  v1.post(
    '/broadcasts',
    {
      schema: {
        body: BroadcastBody,
        ...doc(
          'broadcasts',
          'Publish one message to many rooms (a list, or all: true) as a job; a reliable message reaches each room once, even when the job runs again after a crash',
          { 202: BroadcastStatus, 422: ErrorBody },
        ),
      },
    },
    async (request, reply) => {
      const { rooms, all, message } = request.body;
      if ((rooms === undefined) === (all === undefined)) {
        throw new ApiError(
          'invalid_request',
          'send exactly one of rooms (a list) and all: true',
        );
      }

      // Custom types differ per room; a broadcast uses the built-in ones.
      validateMessage({}, message);
      const status = await broadcasts.start(
        request.caller.tenant,
        rooms ?? null,
        message,
      );
      return reply.status(202).send(status);
    },
  );

  v1.get(
    '/broadcasts/:id',
    {
      schema: {
        params: IdParams,
        ...doc('broadcasts', 'A broadcast\u2019s progress', {
          200: BroadcastStatus,
          404: ErrorBody,
        }),
      },
    },
    async (request) => {
      const status = await broadcasts.get(
        request.caller.tenant,
        request.params.id,
      );
      if (status === undefined) {
        throw new ApiError(
          'broadcast_not_found',
          `no broadcast ${request.params.id}`,
        );
      }

      return status;
    },
  );
}
