import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AdminContext } from './context.js';
import { ApiError } from './errors.js';
import { ErrorBody, IdParams, doc } from './schemas.js';
import {
  CreateWebhookBody,
  DeliveryRecord,
  Webhook,
} from './schemas-resources.js';

export function registerWebhookRoutes(
  app: FastifyInstance,
  context: AdminContext,
): void {
  const v1 = app.withTypeProvider<TypeBoxTypeProvider>();
  const find = async (tenant: string, id: string) => {
    const webhook = await context.webhooks.get(tenant, id);
    if (webhook === undefined) {
      throw new ApiError('webhook_not_found', `no webhook ${id}`);
    }

    return webhook;
  };

  v1.post(
    '/webhooks',
    {
      schema: {
        body: CreateWebhookBody,
        ...doc('webhooks', 'Register an endpoint; the secret is shown once', {
          201: Type.Object({ ...Webhook.properties, secret: Type.String() }),
        }),
      },
    },
    async (request, reply) => {
      const { webhook, secret } = await context.webhooks.create(
        request.caller.tenant,
        request.body,
      );
      return reply.status(201).send({ ...webhook, secret });
    },
  );

  v1.get(
    '/webhooks',
    {
      schema: doc('webhooks', 'List endpoints', {
        200: Type.Object({ webhooks: Type.Array(Webhook) }),
      }),
    },
    async (request) => ({
      webhooks: await context.webhooks.list(request.caller.tenant),
    }),
  );

  v1.get(
    '/webhooks/:id',
    {
      schema: {
        params: IdParams,
        ...doc('webhooks', 'One endpoint', { 200: Webhook, 404: ErrorBody }),
      },
    },
    async (request) => find(request.caller.tenant, request.params.id),
  );

  v1.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        params: IdParams,
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })) },
          { additionalProperties: false },
        ),
        ...doc('webhooks', 'The endpoint\u2019s delivery log, newest first', {
          200: Type.Object({ deliveries: Type.Array(DeliveryRecord) }),
          404: ErrorBody,
        }),
      },
    },
    async (request) => {
      const { tenant } = request.caller;
      await find(tenant, request.params.id);
      return {
        deliveries: await context.webhooks.deliveries(
          tenant,
          request.params.id,
          request.query.limit ?? 50,
        ),
      };
    },
  );

  v1.delete(
    '/webhooks/:id',
    {
      schema: {
        params: IdParams,
        ...doc('webhooks', 'Remove an endpoint', { 204: null, 404: ErrorBody }),
      },
    },
    async (request, reply) => {
      if (
        !(await context.webhooks.remove(
          request.caller.tenant,
          request.params.id,
        ))
      ) {
        throw new ApiError(
          'webhook_not_found',
          `no webhook ${request.params.id}`,
        );
      }

      return reply.status(204).send();
    },
  );
}
