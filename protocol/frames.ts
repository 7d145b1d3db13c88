/**
 * The frames of the viewer protocol. Every frame is a msgpack map with a
 * string field `t`. docs/protocol.md is the prose version of this file.
 */

/** Who sent an item: a platform user or the host. */
export interface Sender {
  id: string;
  name?: string;
  role?: ViewerRole;
  level?: number;
}

export type ViewerRole = 'viewer' | 'moderator' | 'host';

/** The built-in message types the admin API and viewers publish. */
export const RELIABLE_TYPES = ['host', 'gift', 'system'] as const;
export const LOSSY_TYPES = ['chat', 'like', 'join'] as const;
export type ReliableType = (typeof RELIABLE_TYPES)[number];
export type LossyType = (typeof LOSSY_TYPES)[number];
export type MessageType = ReliableType | LossyType;

/** A reliable item: never dropped, numbered without gaps per room. */
export interface ReliableItem {
  type: string;
  id: string;
  seq: number;
  /** Milliseconds since the epoch when the service accepted it. */
  ts: number;
  from?: Sender;
  data?: unknown;
  /**
   * Present only on a gift that stands for several merged gifts: every seq it
   * covers, ascending, starting with `seq`. A client counts all of them as
   * received; the other seqs never arrive as items of their own.
   */
  seqs?: number[];
  /** Present on gifts when the room merges gift combos. */
  combo?: GiftCombo;
}

/** A run of the same gift from the same sender, each within the window. */
export interface GiftCombo {
  /** The id of the combo's first gift; the same on every item of the combo. */
  id: string;
  /** Gifts this item stands for: the length of `seqs`, or 1 without it. */
  count: number;
  /** Gifts in the combo so far, this item included. */
  total: number;
}

export interface ChatItem {
  type: 'chat';
  id: string;
  ts: number;
  from: Sender;
  text: string;
  /** Present and true only on the copy sent back to a sender whose chat was dropped. */
  echo?: boolean;
}

export interface LikesItem {
  type: 'likes';
  /** Likes since the previous likes item. */
  count: number;
  /** The room's running total. */
  total: number;
  /** A few recent likers' names. */
  names?: string[];
}

export interface JoinsItem {
  type: 'joins';
  count: number;
  /** A sample of the names that joined. */
  names: string[];
}

export interface ViewersItem {
  type: 'viewers';
  count: number;
}

/** An item of a lossy type a platform registered: no seq, may be dropped. */
export interface CustomItem {
  type: string;
  id?: string;
  ts: number;
  from?: Sender;
  data?: unknown;
}

export type BatchItem =
  ReliableItem | ChatItem | LikesItem | JoinsItem | ViewersItem | CustomItem;

export interface WelcomeFrame {
  t: 'welcome';
  room: string;
  user: string;
  viewers: number;
  /** The room's last reliable seq (0 when none yet). */
  seq: number;
  /** Send `ping` at least this often, or the edge closes the socket. */
  idleTimeoutMs: number;
  limits: {
    chatPerSecond: number;
    likesPerSecond: number;
    maxFrameBytes: number;
  };
  /** Reconnect backoff the server advises: full jitter between 0 and the cap. */
  backoff: { baseMs: number; maxMs: number };
}

export interface BatchFrame {
  t: 'batch';
  room: string;
  items: BatchItem[];
}

export type ControlReason =
  'room_closed' | 'kicked' | 'banned' | 'draining' | 'reload' | 'resumed';

export interface ControlFrame {
  t: 'control';
  reason: ControlReason;
  message?: string;
  /** Present when the client should come back: wait a random delay in [0, afterMs]. */
  reconnect?: { afterMs: number };
  /** On `resumed` and `reload`: the seq the viewer is now at. */
  seq?: number;
}

export interface ErrorFrame {
  t: 'error';
  code: ViewerErrorCode;
  message: string;
}

export interface PongFrame {
  t: 'pong';
  ts: number;
}

export type ServerFrame =
  WelcomeFrame | BatchFrame | ControlFrame | ErrorFrame | PongFrame;

/** Codes of `error` frames; the socket stays open unless a close follows. */
export type ViewerErrorCode =
  | 'bad_frame'
  | 'unknown_type'
  | 'frame_too_large'
  | 'rate_limited'
  | 'muted'
  | 'text_too_long'
  | 'resume_unavailable';

export interface ChatFrame {
  t: 'chat';
  text: string;
}

export interface LikeFrame {
  t: 'like';
  /** Likes in this frame, 1 to 100; default 1. */
  count?: number;
}

export interface AckFrame {
  t: 'ack';
  seq: number;
}

export interface ResumeFrame {
  t: 'resume';
  seq: number;
}

export interface PingFrame {
  t: 'ping';
}

export type ClientFrame =
  ChatFrame | LikeFrame | AckFrame | ResumeFrame | PingFrame;
