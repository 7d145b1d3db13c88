/**
 * What a client emits. Item payloads are the wire's own item maps, narrowed
 * by type; state payloads describe the connection.
 */
import type { ReconnectAdvice } from '../protocol/close-codes.js';
import type {
  BatchItem,
  ChatItem,
  JoinsItem,
  LikesItem,
  ReliableItem,
  ViewersItem,
  WelcomeFrame,
} from '../protocol/frames.js';
import type { RoomcastError } from './errors.js';

export type HostItem = ReliableItem & { type: 'host' };
export type GiftItem = ReliableItem & { type: 'gift' };
export type SystemItem = ReliableItem & { type: 'system' };

export interface ConnectingEvent {
  /** Connection attempts so far, this one included (1 for the first). */
  attempt: number;
  /** The seq the edge is asked to resume after; undefined on a fresh start. */
  resumeFrom: number | undefined;
}

export interface OpenEvent {
  room: string;
  user: string;
  viewers: number;
  /** The room's last reliable seq when the edge welcomed this socket. */
  seq: number;
  /** True when this socket resumes an earlier one: missed items follow. */
  resuming: boolean;
  limits: WelcomeFrame['limits'];
}

export interface ResumedEvent {
  /** Every reliable item up to this seq has been delivered. */
  seq: number;
  /** Reliable items delivered by the replay. */
  replayed: number;
}

export interface ResetEvent {
  /**
   * The seq the client is now at. Reliable items between the last one
   * delivered and this one are gone (history no longer reaches back, or the
   * server restarted): reload the room's state from the platform.
   */
  seq: number;
  message: string | undefined;
}

export interface ClosedEvent {
  /** The WebSocket close code (1006 when the connection just dropped). */
  code: number;
  /**
   * The close code's name from the protocol table (`room_closed`, `kicked`,
   * `token_expired`, ...), or one of the SDK's: `client` (close() was
   * called), `connection_lost`, `connect_failed`, `token_rejected`,
   * `handshake_refused`, `ping_timeout`, `reconnect_advised`.
   */
  reason: string;
  message: string | undefined;
  advice: ReconnectAdvice;
  /** False when the client is closed for good. */
  willReconnect: boolean;
  /** The jittered delay before the next attempt, when there is one. */
  reconnectInMs: number | undefined;
}

/** Every event a client emits, by name, with its payload type. */
export interface RoomcastEvents {
  host: HostItem;
  gift: GiftItem;
  system: SystemItem;
  chat: ChatItem;
  likes: LikesItem;
  joins: JoinsItem;
  viewers: ViewersItem;
  /** Every item, after its typed event; the only event for custom types. */
  item: BatchItem;
  connecting: ConnectingEvent;
  open: OpenEvent;
  resumed: ResumedEvent;
  reset: ResetEvent;
  closed: ClosedEvent;
  error: RoomcastError;
}
