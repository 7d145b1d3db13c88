/**
 * What an app passes to `connect`, and the slice of the WHATWG WebSocket
 * the client needs, so browsers' and the `ws` package's sockets both fit.
 */
import type { Backoff } from './reconnect.js';

// A method's parameter is checked both ways, so implementations whose event
// types are richer (browsers', the `ws` package's) fit these slots.
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the WHATWG WebSocket the client uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onerror: Handler<unknown> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface TokenRefreshContext {
  /** `expired`: the token's time is up; `rejected`: the edge refused it. */
  reason: 'expired' | 'rejected';
  /** The token that no longer works. */
  token: string;
}

export interface ConnectOptions {
  /** The edge's WebSocket URL, e.g. `wss://live.example.com/ws`. */
  url: string;
  /** A viewer token minted by the platform through the admin API. */
  token: string;
  /**
   * The WebSocket implementation. Default: `globalThis.WebSocket` (browsers,
   * Node 22+). On Node 20 pass the `ws` package's `WebSocket`.
   */
  WebSocket?: WebSocketConstructor;
  /**
   * Returns a fresh token when the current one expired or was refused.
   * Without it, an expired token closes the client for good.
   */
  refreshToken?: (context: TokenRefreshContext) => string | Promise<string>;
  /** Resume after this seq on the first connection (e.g. saved across page loads). */
  resumeFrom?: number;
  /**
   * Backoff before the first welcome; afterwards the server's advice from
   * the welcome frame is used. Default 500 ms base, 30 s cap.
   */
  backoff?: Partial<Backoff>;
  /** Consecutive failed connections before giving up. Default: unlimited. */
  maxReconnectAttempts?: number;
  /** Acks are coalesced: at most one per this many ms. Default 1000. */
  ackIntervalMs?: number;
  /** A connection open this long resets the backoff. Default 10 000 ms. */
  stableAfterMs?: number;
  /** Source of jitter in [0, 1). Default Math.random. */
  random?: () => number;
  /** Milliseconds since the epoch. Default Date.now. */
  clock?: () => number;
}

export type ClientState = 'connecting' | 'open' | 'waiting' | 'closed';
