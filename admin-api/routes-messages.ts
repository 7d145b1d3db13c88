import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { roomKey } from '../room-directory/index.js';
import type { AdminContext } from './context.js';
import { ApiError } from './errors.js';
import type { Answer } from './idempotency.js';
import {
  publishMessage,
  validateMessage,
  type MessageInput,
} from './publish.js';
import { findRoom } from './routes-rooms.js';
import {
  ErrorBody,
  IdempotencyHeaders,
  PublishBody,
  RoomParams,
  doc,
} from './schemas.js';

/** A `deliverAt` this far in the past is delivered now rather than refused. */
const PAST_TOLERANCE_MS = 5000;
/** The furthest ahead a message may be scheduled. */
const MAX_SCHEDULE_MS = 30 * 24 * 3600 * 1000;

interface ScheduledJob {
  tenant: string;
  room: string;
  id: string;
  message: MessageInput;
}

export function registerMessageRoutes(
  app: FastifyInstance,
  context: AdminContext,
): void {
  const v1 = app.withTypeProvider<TypeBoxTypeProvider>();

  v1.post(
    '/rooms/:id/messages',
    {
      schema: {
        params: RoomParams,
        headers: IdempotencyHeaders,
        body: PublishBody,
        ...doc('messages', 'Publish a message to a room, now or at deliverAt', {
          202: Type.Object({
            id: Type.String(),
            seq: Type.Optional(Type.Integer()),
            deliverAt: Type.Optional(Type.String({ format: 'date-time' })),
          }),
          404: ErrorBody,
          409: ErrorBody,
          422: ErrorBody,
        }),
      },
    },
    async (request, reply) => {
      const { tenant } = request.caller;
      const { id } = request.params;
      const { deliverAt, ...message } = request.body;
      const produce = async (): Promise<Answer> => {
        const room = await findRoom(context, tenant, id);
        if (deliverAt === undefined) {
          return {
            status: 202,
            body: await publishMessage(context, room, message),
          };
        }

        const atMs = Date.parse(deliverAt);
        const delayMs = atMs - context.clock();
        if (delayMs < -PAST_TOLERANCE_MS || delayMs > MAX_SCHEDULE_MS) {
          throw new ApiError(
            'deliver_at_out_of_range',
            'deliverAt must be from now to 30 days ahead',
          );
        }

        validateMessage(room.settings, message);
        const messageId = context.ids.next();
        const job: ScheduledJob = { tenant, room: id, id: messageId, message };
        await context.jobs.add('scheduled-message', messageId, job, {
          delayMs,
          attempts: 5,
          backoffMs: 1000,
        });
        return {
          status: 202,
          body: { id: messageId, deliverAt: new Date(atMs).toISOString() },
        };
      };
      const key = request.headers['idempotency-key'];
      if (key === undefined) {
        const answer = await produce();
        return reply.status(answer.status).send(answer.body);
      }

      const answer = await context.idempotency.run(
        tenant,
        key,
        { room: id, body: request.body },
        produce,
      );
      if (answer.replayed) {
        void reply.header('idempotent-replayed', 'true');
      }

      return reply.status(answer.status).send(answer.body);
    },
  );
}

/** The job handler of scheduled messages; publishes each once. */
export async function deliverScheduled(
  context: AdminContext,
  data: unknown,
): Promise<void> {
  const job = data as ScheduledJob;
  await context.effects.once(`message:${job.id}`, async () => {
    const room = await context.directory.get(job.tenant, job.room);
    if (room === undefined) {
      context.logger.info(
        { roomKey: roomKey(job.tenant, job.room), messageId: job.id },
        'scheduled message dropped: the room is closed',
      );
      return;
    }

    // The marker above closes the common case; the dedupe key closes the
    // window between the append and the marker for reliable messages.
    await publishMessage(context, room, job.message, {
      messageId: job.id,
      dedupeKey: `message:${job.id}`,
    });
  });
}
