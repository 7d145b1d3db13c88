/**
 * Request and response schemas (TypeBox, i.e. JSON Schema). Bodies refuse
 * unknown fields. The same schemas validate requests and document the API.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ROOM_ID_PATTERN } from '../room-directory/index.js';

const strict = { additionalProperties: false } as const;

export const RoomId = Type.String({ pattern: ROOM_ID_PATTERN });
export const UserId = Type.String({ minLength: 1, maxLength: 128 });

export const RoomSettingsBody = Type.Object(
  {
    lossyItemsPerSecond: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10_000 }),
    ),
    lossyBytesPerSecond: Type.Optional(
      Type.Integer({ minimum: 256, maximum: 100 * 1024 * 1024 }),
    ),
  },
  strict,
);

export const CreateRoomBody = Type.Object(
  {
    id: Type.Optional(RoomId),
    title: Type.Optional(Type.String({ maxLength: 200 })),
    settings: Type.Optional(RoomSettingsBody),
  },
  strict,
);
export type CreateRoomBody = Static<typeof CreateRoomBody>;

export const RoomParams = Type.Object({ id: RoomId }, strict);
export type RoomParams = Static<typeof RoomParams>;

export const Sender = Type.Object(
  {
    id: UserId,
    name: Type.Optional(Type.String({ maxLength: 64 })),
    role: Type.Optional(
      Type.Union([
        Type.Literal('viewer'),
        Type.Literal('moderator'),
        Type.Literal('host'),
      ]),
    ),
    level: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
  },
  strict,
);

export const MessageType = Type.Union(
  ['host', 'gift', 'system', 'chat', 'like', 'join'].map((type) =>
    Type.Literal(type),
  ),
);

export const PublishBody = Type.Object(
  {
    type: MessageType,
    from: Type.Optional(Sender),
    data: Type.Optional(Type.Unknown()),
  },
  strict,
);
export type PublishBody = Static<typeof PublishBody>;

export const TokenBody = Type.Object(
  {
    room: RoomId,
    user: UserId,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    role: Type.Optional(
      Type.Union([
        Type.Literal('viewer'),
        Type.Literal('moderator'),
        Type.Literal('host'),
      ]),
    ),
    level: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    ttlSeconds: Type.Optional(
      Type.Integer({ minimum: 10, maximum: 30 * 24 * 3600 }),
    ),
  },
  strict,
);
export type TokenBody = Static<typeof TokenBody>;
