/**
 * Request and response schemas (TypeBox, i.e. JSON Schema). Bodies and
 * queries refuse unknown fields. The same schemas validate requests and
 * generate the OpenAPI document (openapi.ts).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ROOM_ID_PATTERN } from '../room-directory/index.js';

export const strict = { additionalProperties: false } as const;

export const RoomId = Type.String({ pattern: ROOM_ID_PATTERN });
export const UserId = Type.String({ minLength: 1, maxLength: 128 });
export const Id = Type.String({ pattern: '^[0-9]{1,20}$' });
export const Role = Type.Union([
  Type.Literal('viewer'),
  Type.Literal('moderator'),
  Type.Literal('host'),
]);

export const CustomType = Type.Object(
  {
    class: Type.Union([Type.Literal('reliable'), Type.Literal('lossy')]),
    priority: Type.Integer({ minimum: 0, maximum: 1000 }),
  },
  strict,
);

export const RoomSettingsBody = Type.Object(
  {
    lossyItemsPerSecond: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10_000 }),
    ),
    lossyBytesPerSecond: Type.Optional(
      Type.Integer({ minimum: 256, maximum: 100 * 1024 * 1024 }),
    ),
    joinsIntervalMs: Type.Optional(
      Type.Integer({
        minimum: 100,
        maximum: 60_000,
        description:
          'A `joins` notice goes out at most this often (ms); default 1000.',
      }),
    ),
    customTypes: Type.Optional(
      Type.Record(
        Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$' }),
        CustomType,
        {
          ...strict,
          maxProperties: 32,
        },
      ),
    ),
  },
  strict,
);

const IdleClose = Type.Integer({ minimum: 10, maximum: 30 * 24 * 3600 });

export const CreateRoomBody = Type.Object(
  {
    id: Type.Optional(RoomId),
    title: Type.Optional(Type.String({ maxLength: 200 })),
    settings: Type.Optional(RoomSettingsBody),
    idleCloseSeconds: Type.Optional(IdleClose),
  },
  strict,
);
export type CreateRoomBody = Static<typeof CreateRoomBody>;

export const UpdateRoomBody = Type.Object(
  {
    settings: Type.Optional(RoomSettingsBody),
    idleCloseSeconds: Type.Optional(Type.Union([IdleClose, Type.Null()])),
  },
  { ...strict, minProperties: 1 },
);

export const RoomParams = Type.Object({ id: RoomId }, strict);
export const RoomUserParams = Type.Object({ id: RoomId, user: UserId }, strict);
export const IdParams = Type.Object({ id: Id }, strict);

export const Cursor = Type.String({ maxLength: 200 });
export const Limit = Type.Integer({ minimum: 1, maximum: 500, default: 100 });

export const ListRoomsQuery = Type.Object(
  {
    cursor: Type.Optional(Cursor),
    limit: Type.Optional(Limit),
    prefix: Type.Optional(Type.String({ maxLength: 64 })),
    minViewers: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  strict,
);

export const PageQuery = Type.Object(
  { cursor: Type.Optional(Cursor), limit: Type.Optional(Limit) },
  strict,
);

export const Sender = Type.Object(
  {
    id: UserId,
    name: Type.Optional(Type.String({ maxLength: 64 })),
    role: Type.Optional(Role),
    level: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
  },
  strict,
);

/** Built-in types, or a custom type registered in the room's settings. */
export const MessageType = Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$' });

export const MessageBody = Type.Object(
  {
    type: MessageType,
    from: Type.Optional(Sender),
    data: Type.Optional(Type.Unknown()),
  },
  strict,
);

export const PublishBody = Type.Object(
  {
    ...MessageBody.properties,
    deliverAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  strict,
);
export type PublishBody = Static<typeof PublishBody>;

export const TokenBody = Type.Object(
  {
    room: RoomId,
    user: UserId,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    role: Type.Optional(Role),
    level: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    ttlSeconds: Type.Optional(
      Type.Integer({ minimum: 10, maximum: 30 * 24 * 3600 }),
    ),
  },
  strict,
);

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ pattern: '^[\\x21-\\x7e]{1,128}$' }),
  ),
});

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  }),
});

/** Route documentation: summary and tag for the OpenAPI document. */
export function doc(
  tag: string,
  summary: string,
  responses: Record<number, TSchema | null>,
): {
  tags: string[];
  summary: string;
  response: Record<number, TSchema>;
} {
  const response: Record<number, TSchema> = {};
  for (const [status, schema] of Object.entries(responses)) {
    response[Number(status)] = schema ?? Type.Null({ description: 'empty' });
  }

  return { tags: [tag], summary, response };
}
