/**
 * Schemas of the resources beyond rooms and messages: members, moderation,
 * broadcasts, keys and webhooks.
 */
import { Type } from '@sinclair/typebox';
import { WEBHOOK_EVENTS } from './webhooks.js';
import { MessageBody, RoomId, strict } from './schemas.js';

export const Reason = Type.String({ minLength: 1, maxLength: 200 });

export const KickBody = Type.Object({ reason: Type.Optional(Reason) }, strict);

export const RestrictBody = Type.Object(
  {
    reason: Type.Optional(Reason),
    durationSeconds: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 365 * 24 * 3600 }),
    ),
  },
  strict,
);

export const Restriction = Type.Object({
  user: Type.String(),
  reason: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  until: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const Member = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  connections: Type.Integer(),
  muted: Type.Boolean(),
});

export const BroadcastBody = Type.Object(
  {
    rooms: Type.Optional(
      Type.Array(RoomId, { minItems: 1, maxItems: 10_000, uniqueItems: true }),
    ),
    all: Type.Optional(Type.Literal(true)),
    message: MessageBody,
  },
  strict,
);

export const BroadcastStatus = Type.Object({
  id: Type.String(),
  state: Type.Union([
    Type.Literal('queued'),
    Type.Literal('running'),
    Type.Literal('completed'),
  ]),
  total: Type.Union([Type.Integer(), Type.Null()]),
  published: Type.Integer(),
  skipped: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  completedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const KeyRole = Type.Union([
  Type.Literal('admin'),
  Type.Literal('publisher'),
]);

export const CreateKeyBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    role: Type.Optional(KeyRole),
  },
  strict,
);

export const ApiKeyInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: KeyRole,
  prefix: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
});

export const WebhookEvent = Type.Union(
  WEBHOOK_EVENTS.map((event) => Type.Literal(event)),
);

export const CreateWebhookBody = Type.Object(
  {
    url: Type.String({
      format: 'uri',
      pattern: '^https?://',
      maxLength: 2000,
      description:
        'An http(s) URL written as the WHATWG URL parser writes it back: no ' +
        'whitespace, lowercase host, a path of at least /, special ' +
        'characters percent-encoded (https://hooks.example.com/roomcast).',
    }),
    events: Type.Array(WebhookEvent, { minItems: 1, uniqueItems: true }),
    secret: Type.Optional(Type.String({ minLength: 16, maxLength: 200 })),
  },
  strict,
);

export const Webhook = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(WebhookEvent),
  createdAt: Type.String({ format: 'date-time' }),
});

export const DeliveryRecord = Type.Object({
  deliveryId: Type.String(),
  event: WebhookEvent,
  attempt: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  status: Type.Union([Type.Integer(), Type.Null()]),
  outcome: Type.Union([Type.Literal('delivered'), Type.Literal('failed')]),
  error: Type.Optional(Type.String()),
  durationMs: Type.Number(),
});
