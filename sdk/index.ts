/**
 * roomcast viewer SDK: connect to a room's edge with a viewer token and get
 * typed events. Runs in browsers (global WebSocket) and in Node (pass the
 * `ws` package's WebSocket). docs/sdk.md is the guide.
 */
export { connect, RoomcastClient } from './client.js';
export { CHAT_TEXT_MAX_LENGTH, LIKES_PER_FRAME_MAX } from './outbox.js';
export type {
  ClientState,
  ConnectOptions,
  TokenRefreshContext,
  WebSocketConstructor,
  WebSocketLike,
} from './options.js';
export { RoomcastError } from './errors.js';
export type { RoomcastErrorCode } from './errors.js';
export type { Listener } from './emitter.js';
export type { Backoff } from './reconnect.js';
export type {
  ClosedEvent,
  ConnectingEvent,
  GiftItem,
  HostItem,
  OpenEvent,
  ResetEvent,
  ResumedEvent,
  RoomcastEvents,
  SystemItem,
} from './events.js';
export type { ReconnectAdvice } from '../protocol/close-codes.js';
export type {
  BatchItem,
  ChatItem,
  CustomItem,
  GiftCombo,
  JoinsItem,
  LikesItem,
  ReliableItem,
  Sender,
  ViewerErrorCode,
  ViewerRole,
  ViewersItem,
} from '../protocol/frames.js';
