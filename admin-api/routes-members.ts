/**
 * Members of a room and moderation: kick, ban and mute. A kick or ban goes
 * to the room's shard, which tells the user's sockets `control {reason}` and
 * closes them (4005 kicked, 4006 banned); a ban is also stored, and edges
 * refuse the user's tokens for the room until it ends. A mute makes the
 * shard drop (and count) the user's chat until it ends.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { channels } from '../bus/index.js';
import { encodeEnvelope, kickEnvelope } from '../room-shard/index.js';
import { roomKey } from '../room-directory/index.js';
import type { AdminContext, MemberView } from './context.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { ApiError } from './errors.js';
import { findRoom } from './routes-rooms.js';
import {
  ErrorBody,
  PageQuery,
  RoomParams,
  RoomUserParams,
  doc,
} from './schemas.js';
import {
  KickBody,
  Member,
  RestrictBody,
  Restriction,
} from './schemas-resources.js';

/** No shard answered for the room: it is moving, or none is running. */
function noAnswer(roomId: string): ApiError {
  return new ApiError(
    'unavailable',
    `no shard answered for room ${roomId} (it is moving between shards, or no shard is running); retry shortly`,
  );
}

export function registerMemberRoutes(
  app: FastifyInstance,
  context: AdminContext,
): void {
  const v1 = app.withTypeProvider<TypeBoxTypeProvider>();
  const members = () => {
    if (context.members === undefined) {
      throw new ApiError(
        'unavailable',
        'member lists are served by admin processes that run with the room shard (standalone)',
      );
    }

    return context.members;
  };
  const withMute = async (key: string, member: MemberView) => ({
    ...member,
    muted:
      (await context.restrictions.active('mute', key, member.id)) !== undefined,
  });

  v1.get(
    '/rooms/:id/members',
    {
      schema: {
        params: RoomParams,
        querystring: PageQuery,
        ...doc('members', 'Count and list a room\u2019s members', {
          200: Type.Object({
            count: Type.Integer(),
            members: Type.Array(Member),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
          404: ErrorBody,
          503: ErrorBody,
        }),
      },
    },
    async (request) => {
      const room = await findRoom(
        context,
        request.caller.tenant,
        request.params.id,
      );
      const key = roomKey(room.tenant, room.id);
      const limit = request.query.limit ?? 100;
      const { cursor } = request.query;
      const after = cursor === undefined ? '' : decodeCursor(cursor);
      const page = await members().page(key, after, limit + 1);
      if (page === undefined) {
        throw noAnswer(room.id);
      }

      const shown = page.members.slice(0, limit);
      const last = shown.at(-1);
      return {
        count: page.count,
        members: await Promise.all(shown.map((m) => withMute(key, m))),
        nextCursor:
          page.members.length > limit && last !== undefined
            ? encodeCursor(last.id)
            : null,
      };
    },
  );

  v1.get(
    '/rooms/:id/members/:user',
    {
      schema: {
        params: RoomUserParams,
        ...doc('members', 'One member\u2019s state', {
          200: Member,
          404: ErrorBody,
          503: ErrorBody,
        }),
      },
    },
    async (request) => {
      const { id, user } = request.params;
      const room = await findRoom(context, request.caller.tenant, id);
      const key = roomKey(room.tenant, room.id);
      const member = await members().get(key, user);
      if (member === undefined) {
        throw noAnswer(id);
      }

      if (member === null) {
        throw new ApiError('member_not_found', `${user} is not in room ${id}`);
      }

      return withMute(key, member);
    },
  );

  for (const action of ['kick', 'ban'] as const) {
    v1.post(
      `/rooms/:id/members/:user/${action}`,
      {
        schema: {
          params: RoomUserParams,
          body: action === 'kick' ? KickBody : RestrictBody,
          ...doc(
            'moderation',
            action === 'kick'
              ? 'Remove a user from a room now'
              : 'Ban a user from a room, for a duration or until lifted',
            {
              [action === 'kick' ? 204 : 200]:
                action === 'kick' ? null : Restriction,
              404: ErrorBody,
            },
          ),
        },
      },
      async (request, reply) => {
        const { id, user } = request.params;
        const room = await findRoom(context, request.caller.tenant, id);
        const key = roomKey(room.tenant, room.id);
        const body = request.body as {
          reason?: string;
          durationSeconds?: number;
        };
        const reason = body.reason ?? (action === 'kick' ? 'kicked' : 'banned');
        let answer;
        if (action === 'ban') {
          answer = await context.restrictions.add('ban', key, user, {
            reason,
            ...(body.durationSeconds === undefined
              ? {}
              : { durationSeconds: body.durationSeconds }),
          });
          await context.webhooks.emit(room.tenant, 'member.banned', {
            room: room.id,
            ...answer,
          });
        }

        // Straight to the edges, so the user goes whether or not a shard
        // owns the room; the owner keeps a ban (room-shard/shard.ts).
        context.bus.publish(
          channels.roomOut(key),
          kickEnvelope(
            user,
            reason,
            answer === undefined ? 'kicked' : 'banned',
          ),
        );
        if (answer !== undefined) {
          context.bus.publish(
            channels.roomIn(key),
            encodeEnvelope([
              'kick',
              user,
              reason,
              'banned',
              answer.until === null ? null : Date.parse(answer.until),
            ]),
          );
        }
        request.log.info({ roomKey: key, user, action }, 'member removed');
        return answer === undefined
          ? reply.status(204).send()
          : reply.status(200).send(answer);
      },
    );
  }

  v1.post(
    '/rooms/:id/members/:user/mute',
    {
      schema: {
        params: RoomUserParams,
        body: RestrictBody,
        ...doc('moderation', 'Mute a user\u2019s chat in a room', {
          200: Restriction,
          404: ErrorBody,
        }),
      },
    },
    async (request) => {
      const { id, user } = request.params;
      const room = await findRoom(context, request.caller.tenant, id);
      const key = roomKey(room.tenant, room.id);
      const mute = await context.restrictions.add('mute', key, user, {
        reason: request.body.reason ?? 'muted',
        ...(request.body.durationSeconds === undefined
          ? {}
          : { durationSeconds: request.body.durationSeconds }),
      });
      context.bus.publish(
        channels.roomIn(key),
        encodeEnvelope([
          'mute',
          user,
          mute.until === null ? null : Date.parse(mute.until),
        ]),
      );
      return mute;
    },
  );

  for (const kind of ['ban', 'mute'] as const) {
    v1.delete(
      `/rooms/:id/${kind}s/:user`,
      {
        schema: {
          params: RoomUserParams,
          ...doc('moderation', `Lift a ${kind}`, { 204: null, 404: ErrorBody }),
        },
      },
      async (request, reply) => {
        const { id, user } = request.params;
        const room = await findRoom(context, request.caller.tenant, id);
        const key = roomKey(room.tenant, room.id);
        if (!(await context.restrictions.remove(kind, key, user))) {
          throw new ApiError(
            'member_not_found',
            `${user} has no active ${kind}`,
          );
        }

        context.bus.publish(
          channels.roomIn(key),
          encodeEnvelope([kind === 'mute' ? 'unmute' : 'unban', user]),
        );

        return reply.status(204).send();
      },
    );

    v1.get(
      `/rooms/:id/${kind}s`,
      {
        schema: {
          params: RoomParams,
          ...doc('moderation', `List a room\u2019s active ${kind}s`, {
            200: Type.Object({ [`${kind}s`]: Type.Array(Restriction) }),
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
        const list = await context.restrictions.list(
          kind,
          roomKey(room.tenant, room.id),
        );
        return { [`${kind}s`]: list };
      },
    );
  }
}
