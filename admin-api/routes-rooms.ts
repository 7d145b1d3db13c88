import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { channels } from '../bus/index.js';
import { encodeEnvelope } from '../room-shard/index.js';
import { roomKey, type RoomStatus } from '../room-directory/index.js';
import { ApiError } from './errors.js';
import { CreateRoomBody, RoomParams } from './schemas.js';
import type { AdminContext } from './server.js';

export function registerRoomRoutes(
  app: FastifyInstance,
  context: AdminContext,
): void {
  const v1 = app.withTypeProvider<TypeBoxTypeProvider>();

  v1.post(
    '/rooms',
    { schema: { body: CreateRoomBody } },
    async (request, reply) => {
      const body = request.body ?? {};
      const record = {
        tenant: request.tenant,
        id: body.id ?? context.ids.next(),
        title: body.title ?? '',
        createdAt: new Date(context.clock()).toISOString(),
        settings: body.settings ?? {},
      };
      if (!(await context.directory.create(record))) {
        throw new ApiError('room_exists', `room ${record.id} already exists`);
      }

      request.log.info(
        { tenant: record.tenant, roomId: record.id },
        'room created',
      );
      return reply
        .status(201)
        .send(await present(context, { ...record, viewers: 0 }));
    },
  );

  v1.get('/rooms', async (request) => {
    const rooms = await context.directory.list(request.tenant);
    return {
      rooms: await Promise.all(rooms.map((room) => present(context, room))),
    };
  });

  v1.get('/rooms/:id', { schema: { params: RoomParams } }, async (request) => {
    const room = await context.directory.get(request.tenant, request.params.id);
    if (room === undefined) {
      throw new ApiError('room_not_found', `no room ${request.params.id}`);
    }

    return present(context, room);
  });

  v1.delete(
    '/rooms/:id',
    { schema: { params: RoomParams } },
    async (request, reply) => {
      const closed = await context.directory.close(
        request.tenant,
        request.params.id,
      );
      if (closed === undefined) {
        throw new ApiError('room_not_found', `no room ${request.params.id}`);
      }

      context.bus.publish(
        channels.roomIn(roomKey(closed.tenant, closed.id)),
        encodeEnvelope(['close']),
      );
      request.log.info(
        { tenant: closed.tenant, roomId: closed.id },
        'room closed',
      );
      return reply.status(204).send();
    },
  );
}

async function present(context: AdminContext, room: RoomStatus) {
  const key = roomKey(room.tenant, room.id);
  const [lastSeq, stats] = await Promise.all([
    context.log.lastSeq(key),
    context.roomStats?.(key),
  ]);
  return {
    id: room.id,
    title: room.title,
    createdAt: room.createdAt,
    viewers: room.viewers,
    lastSeq,
    settings: room.settings,
    ...(stats === undefined
      ? {}
      : { stats: { members: stats.members, ...stats.accounting } }),
  };
}
