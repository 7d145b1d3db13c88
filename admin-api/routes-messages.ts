import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { channels } from '../bus/index.js';
import type { EngineInput } from '../priority/index.js';
import {
  MAX_CHAT_TEXT_LENGTH,
  RELIABLE_TYPES,
  type Sender,
} from '../protocol/index.js';
import { encodeEnvelope } from '../room-shard/index.js';
import { roomKey } from '../room-directory/index.js';
import { ApiError } from './errors.js';
import { PublishBody, RoomParams } from './schemas.js';
import type { AdminContext } from './server.js';

const RELIABLE = new Set<string>(RELIABLE_TYPES);
/** Most likes one admin publish may add. */
const MAX_LIKES_PER_PUBLISH = 1_000_000;

export function registerMessageRoutes(
  app: FastifyInstance,
  context: AdminContext,
): void {
  const v1 = app.withTypeProvider<TypeBoxTypeProvider>();

  v1.post(
    '/rooms/:id/messages',
    { schema: { params: RoomParams, body: PublishBody } },
    async (request, reply) => {
      const { id } = request.params;
      const body = request.body;
      const room = await context.directory.get(request.tenant, id);
      if (room === undefined) {
        throw new ApiError('room_not_found', `no room ${id}`);
      }

      const key = roomKey(request.tenant, id);
      const messageId = context.ids.next();
      const ts = context.clock();
      const from = body.from as Sender | undefined;
      if (RELIABLE.has(body.type)) {
        const item = await context.log.append(key, {
          type: body.type,
          id: messageId,
          ts,
          ...(from === undefined ? {} : { from }),
          ...(body.data === undefined ? {} : { data: body.data }),
        });
        return reply.status(202).send({ id: messageId, seq: item.seq });
      }

      const input = lossyInput(body.type, messageId, ts, from, body.data);
      context.bus.publish(
        channels.roomIn(key),
        encodeEnvelope(['input', [input]]),
      );
      return reply.status(202).send({ id: messageId });
    },
  );
}

function lossyInput(
  type: string,
  id: string,
  ts: number,
  from: Sender | undefined,
  data: unknown,
): EngineInput {
  const fields = (
    typeof data === 'object' && data !== null ? data : {}
  ) as Record<string, unknown>;
  switch (type) {
    case 'chat': {
      const text = fields['text'];
      if (typeof text !== 'string' || text.trim() === '') {
        throw new ApiError(
          'invalid_request',
          'chat needs data.text, a non-empty string',
        );
      }

      if (text.length > MAX_CHAT_TEXT_LENGTH) {
        throw new ApiError(
          'invalid_request',
          `chat text is limited to ${MAX_CHAT_TEXT_LENGTH} characters`,
        );
      }

      if (from === undefined) {
        throw new ApiError('invalid_request', 'chat needs from: {id, name}');
      }

      return { type, id, ts, from, text };
    }

    case 'like': {
      const count = fields['count'] ?? 1;
      if (
        !Number.isInteger(count) ||
        (count as number) < 1 ||
        (count as number) > MAX_LIKES_PER_PUBLISH
      ) {
        throw new ApiError(
          'invalid_request',
          `data.count must be an integer from 1 to ${MAX_LIKES_PER_PUBLISH}`,
        );
      }

      return {
        type,
        ts,
        from: from ?? { id: 'platform' },
        count: count as number,
      };
    }

    default: {
      if (from === undefined) {
        throw new ApiError('invalid_request', 'join needs from: {id, name}');
      }

      return { type, ts, from };
    }
  }
}
