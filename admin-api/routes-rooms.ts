import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { channels } from '../bus/index.js';
import { BUILT_IN_TYPES } from '../priority/index.js';
import { encodeEnvelope } from '../room-shard/index.js';
import type { RoomSettings } from '../room-directory/index.js';
import { roomKey, type RoomStatus } from '../room-directory/index.js';
import type { AdminContext } from './context.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { ApiError } from './errors.js';
import { closeRoom, type RoomLifecycle } from './room-lifecycle.js';
import {
  CreateRoomBody,
  ErrorBody,
  ListRoomsQuery,
  RoomParams,
  RoomSettingsBody,
  UpdateRoomBody,
  doc,
} from './schemas.js';

const roomFields = {
  id: Type.String(),
  title: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  viewers: Type.Integer({ description: 'distinct users, as last reported' }),
  lastSeq: Type.Integer(),
  settings: RoomSettingsBody,
  idleCloseSeconds: Type.Optional(Type.Integer()),
};

/** A room as lists, creation and changes answer it: no stats. */
const Room = Type.Object(roomFields);

/**
 * A room with its stats, as `GET /v1/rooms/{id}` answers it. Only the
 * room's owning shard has the figures; in a fleet asking it is a round trip
 * over Redis, which is why lists do not carry them.
 */
const RoomWithStats = Type.Object({
  ...roomFields,
  stats: Type.Optional(
    Type.Record(Type.String(), Type.Unknown(), {
      description:
        'members, and items received, delivered, merged, dropped and pending by class and in total, as the owning shard counted them (received = delivered + merged + dropped + pending). The counts start at zero when another shard takes the room over (failover or hand-off). Absent when no shard answered within 2 s: the room is moving between shards; retry',
    }),
  ),
});

export function registerRoomRoutes(
  app: FastifyInstance,
  context: AdminContext,
  lifecycle: RoomLifecycle,
): void {
  const v1 = app.withTypeProvider<TypeBoxTypeProvider>();

  v1.post(
    '/rooms',
    {
      schema: {
        body: CreateRoomBody,
        ...doc('rooms', 'Create a room', {
          201: Room,
          409: ErrorBody,
          422: ErrorBody,
        }),
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      checkSettings(body.settings);
      const record = {
        tenant: request.caller.tenant,
        id: body.id ?? context.ids.next(),
        title: body.title ?? '',
        createdAt: new Date(context.clock()).toISOString(),
        settings: body.settings ?? {},
        ...(body.idleCloseSeconds === undefined
          ? {}
          : { idleCloseSeconds: body.idleCloseSeconds }),
      };
      if (!(await context.directory.create(record))) {
        throw new ApiError('room_exists', `room ${record.id} already exists`);
      }

      await lifecycle.watch(record);
      await context.webhooks.emit(record.tenant, 'room.created', {
        room: record.id,
        title: record.title,
        createdAt: record.createdAt,
      });
      request.log.info(
        { tenant: record.tenant, roomId: record.id },
        'room created',
      );
      return reply
        .status(201)
        .send(await present(context, { ...record, viewers: 0 }));
    },
  );

  v1.get(
    '/rooms',
    {
      schema: {
        querystring: ListRoomsQuery,
        ...doc('rooms', 'List rooms, in id order, a page at a time', {
          200: Type.Object({
            rooms: Type.Array(Room),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
        }),
      },
    },
    async (request) => {
      const { cursor, limit = 100, prefix, minViewers } = request.query;
      const after = cursor === undefined ? '' : decodeCursor(cursor);
      // TODO(perf): the directory has no paged listing; this sorts every room
      // of the tenant for each page.
      const matching = (await context.directory.list(request.caller.tenant))
        .filter(
          (room) =>
            room.id > after &&
            (prefix === undefined || room.id.startsWith(prefix)) &&
            (minViewers === undefined || room.viewers >= minViewers),
        )
        .sort((a, b) => (a.id < b.id ? -1 : 1));
      const page = matching.slice(0, limit);
      const last = page.at(-1);
      return {
        rooms: await Promise.all(page.map((room) => present(context, room))),
        nextCursor:
          matching.length > limit && last !== undefined
            ? encodeCursor(last.id)
            : null,
      };
    },
  );

  v1.get(
    '/rooms/:id',
    {
      schema: {
        params: RoomParams,
        ...doc('rooms', 'Get a room with its stats', {
          200: RoomWithStats,
          404: ErrorBody,
        }),
      },
    },
    async (request) => {
      const room = await findRoom(
        context,
        request.caller.tenant,
        request.params.id,
      );
      return present(context, room, { stats: true });
    },
  );

  v1.patch(
    '/rooms/:id',
    {
      schema: {
        params: RoomParams,
        body: UpdateRoomBody,
        ...doc('rooms', 'Change a room\u2019s settings', {
          200: Room,
          404: ErrorBody,
        }),
      },
    },
    async (request) => {
      const { tenant } = request.caller;
      const room = await findRoom(context, tenant, request.params.id);
      const { settings, idleCloseSeconds } = request.body;
      checkSettings(settings);
      const idle =
        idleCloseSeconds === undefined
          ? room.idleCloseSeconds
          : (idleCloseSeconds ?? undefined);
      const updated = await context.directory.update(tenant, room.id, {
        settings: { ...room.settings, ...settings },
        ...(idle === undefined ? {} : { idleCloseSeconds: idle }),
      });
      if (updated === undefined) {
        throw new ApiError('room_not_found', `no room ${room.id}`);
      }

      context.bus.publish(
        channels.roomIn(roomKey(tenant, room.id)),
        encodeEnvelope(['settings', updated.settings]),
      );
      return present(context, updated);
    },
  );

  v1.delete(
    '/rooms/:id',
    {
      schema: {
        params: RoomParams,
        ...doc('rooms', 'Close a room; its viewers are told and closed', {
          204: null,
          404: ErrorBody,
        }),
      },
    },
    async (request, reply) => {
      const closed = await closeRoom(
        context,
        request.caller.tenant,
        request.params.id,
        'closed',
      );
      if (!closed) {
        throw new ApiError('room_not_found', `no room ${request.params.id}`);
      }

      return reply.status(204).send();
    },
  );
}

export async function findRoom(
  context: AdminContext,
  tenant: string,
  id: string,
): Promise<RoomStatus> {
  const room = await context.directory.get(tenant, id);
  if (room === undefined) {
    throw new ApiError('room_not_found', `no room ${id}`);
  }

  return room;
}

/** What the schema cannot say: custom types may not reuse built-in names. */
function checkSettings(settings: RoomSettings | undefined): void {
  for (const name of Object.keys(settings?.customTypes ?? {})) {
    if (BUILT_IN_TYPES.includes(name)) {
      throw new ApiError(
        'invalid_settings',
        `custom type ${name} reuses a built-in type name`,
      );
    }
  }
}

/** The room as answered; `stats` asks its shard, one question per call. */
async function present(
  context: AdminContext,
  room: RoomStatus,
  { stats: withStats = false } = {},
) {
  const key = roomKey(room.tenant, room.id);
  const [lastSeq, stats] = await Promise.all([
    context.log.lastSeq(key),
    withStats ? context.roomStats(key) : undefined,
  ]);
  return {
    id: room.id,
    title: room.title,
    createdAt: room.createdAt,
    viewers: room.viewers,
    lastSeq,
    settings: room.settings,
    ...(room.idleCloseSeconds === undefined
      ? {}
      : { idleCloseSeconds: room.idleCloseSeconds }),
    ...(stats === undefined
      ? {}
      : { stats: { members: stats.members, ...stats.accounting } }),
  };
}
