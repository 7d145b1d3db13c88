/**
 * The viewer client: one WebSocket to an edge at a time, reopened with
 * jittered backoff and resumed from the last reliable seq until the server
 * says not to come back or the app calls close().
 *
 * Every socket gets its own small record and its handlers check that it is
 * still the current one, so a late event from an abandoned socket can never
 * touch the state of its successor.
 */
import type { ReconnectAdvice } from '../protocol/close-codes.js';
import type {
  BatchItem,
  ClientFrame,
  ControlFrame,
  ReliableItem,
  WelcomeFrame,
} from '../protocol/frames.js';
import { Emitter, type Listener } from './emitter.js';
import { RoomcastError } from './errors.js';
import type { ClosedEvent, RoomcastEvents } from './events.js';
import { decode, encode } from './msgpack.js';
import type {
  ClientState,
  ConnectOptions,
  TokenRefreshContext,
  WebSocketConstructor,
  WebSocketLike,
} from './options.js';
import { Outbox } from './outbox.js';
import {
  DEFAULT_BACKOFF,
  backoffDelayMs,
  closeVerdict,
  isFinalControl,
  type Backoff,
} from './reconnect.js';
import { RecentIds, ReliableOrder } from './reliable-order.js';
import { tokenExpired } from './token-claims.js';

/** A token this close to expiry is refreshed before reconnecting with it. */
const TOKEN_EXPIRY_MARGIN_MS = 5_000;
const WEBSOCKET_OPEN = 1;

interface Socket {
  ws: WebSocketLike;
  opened: boolean;
  welcome: WelcomeFrame | undefined;
  openedAtMs: number;
  lastFrameAtMs: number;
  /** HTTP status of a refused handshake, if the implementation said. */
  status: number | undefined;
}

interface CloseInfo {
  code: number;
  reason: string;
  message: string | undefined;
  advice: ReconnectAdvice;
}

type Timer = ReturnType<typeof setTimeout>;

export class RoomcastClient {
  #options: ConnectOptions;
  #WebSocket: WebSocketConstructor;
  #random: () => number;
  #clock: () => number;
  #emitter = new Emitter<RoomcastEvents>();
  #token: string;
  #state: ClientState = 'connecting';
  #socket: Socket | undefined;
  #order = new ReliableOrder();
  #lossyIds = new RecentIds(1024);
  #backoff: Backoff;
  #failures = 0;
  #attempts = 0;
  #resuming = false;
  #replayed = 0;
  #final: { reason: string; message: string | undefined } | undefined;
  #advisedAtMs: number | undefined;
  #userClosed = false;
  #outbox: Outbox;
  #reconnectTimer: Timer | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #advisedTimer: Timer | undefined;
  #whenClosed: Promise<ClosedEvent>;
  #resolveClosed: (event: ClosedEvent) => void = () => undefined;

  constructor(options: ConnectOptions) {
    const implementation =
      options.WebSocket ??
      (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (implementation === undefined) {
      throw new RoomcastError(
        'no_websocket',
        'no global WebSocket here: pass one as options.WebSocket (e.g. the ws package)',
      );
    }

    this.#options = options;
    this.#WebSocket = implementation;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? Date.now;
    this.#token = options.token;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#outbox = new Outbox({
      clock: this.#clock,
      ackIntervalMs: options.ackIntervalMs ?? 1000,
      deliveredSeq: () => this.#order.seq,
    });
    if (options.resumeFrom !== undefined) {
      this.#order.start(options.resumeFrom);
    }

    this.#whenClosed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    // Start after the caller had the chance to add listeners.
    queueMicrotask(() => {
      void this.#reconnect(undefined);
    });
  }

  get state(): ClientState {
    return this.#state;
  }

  /** The last reliable seq delivered; undefined before the first welcome. */
  get seq(): number | undefined {
    return this.#order.seq;
  }

  /** The current socket's limits; undefined while not connected. */
  get limits(): WelcomeFrame['limits'] | undefined {
    return this.#socket?.welcome?.limits;
  }

  /** Resolves with the final `closed` event. */
  get closed(): Promise<ClosedEvent> {
    return this.#whenClosed;
  }

  on<E extends keyof RoomcastEvents>(
    event: E,
    listener: Listener<RoomcastEvents[E]>,
  ): () => void {
    return this.#emitter.on(event, listener);
  }

  once<E extends keyof RoomcastEvents>(
    event: E,
    listener: Listener<RoomcastEvents[E]>,
  ): () => void {
    return this.#emitter.once(event, listener);
  }

  off<E extends keyof RoomcastEvents>(
    event: E,
    listener: Listener<RoomcastEvents[E]>,
  ): void {
    this.#emitter.off(event, listener);
  }

  /**
   * Sends a chat message. Throws {@link RoomcastError}: `invalid_argument`,
   * `text_too_long`, `frame_too_large`, `not_connected`, `closed`, or
   * `rate_limited` (with `retryAfterMs`) when over the welcome's chat limit.
   */
  chat(text: string): void {
    this.#assertOpen();
    this.#outbox.chat(text);
  }

  /**
   * Likes the room `count` times. Likes are merged into as few frames as the
   * edge's like limit allows, and wait (a few seconds' worth at most) while
   * reconnecting. Throws `invalid_argument`, `closed`, or `rate_limited` when
   * that queue is full.
   */
  like(count = 1): void {
    this.#assertOpen();
    this.#outbox.like(count);
  }

  /** Closes for good; resolves once the final `closed` event was emitted. */
  close(): Promise<void> {
    if (!this.#userClosed && this.#state !== 'closed') {
      this.#userClosed = true;
      clearTimeout(this.#reconnectTimer);
      const socket = this.#socket;
      if (socket === undefined) {
        this.#finish({
          code: 1000,
          reason: 'client',
          message: undefined,
          advice: 'never',
        });
      } else {
        this.#outbox.ackNow();
        this.#abandon(socket, 'client', 'never');
      }
    }

    return this.#whenClosed.then(() => undefined);
  }

  #assertOpen(): void {
    if (this.#userClosed || this.#state === 'closed') {
      throw new RoomcastError('closed', 'the client is closed');
    }
  }

  async #reconnect(refresh: TokenRefreshContext['reason'] | undefined) {
    this.#reconnectTimer = undefined;
    const hook = this.#options.refreshToken;
    if (
      refresh === undefined &&
      hook !== undefined &&
      tokenExpired(this.#token, this.#clock(), TOKEN_EXPIRY_MARGIN_MS)
    ) {
      refresh = 'expired';
    }

    if (refresh !== undefined && hook !== undefined) {
      let token: unknown;
      try {
        token = await hook({ reason: refresh, token: this.#token });
        if (typeof token !== 'string' || token === '') {
          throw new TypeError('refreshToken must resolve to a token string');
        }
      } catch (error) {
        if (this.#userClosed) {
          return;
        }

        this.#emitter.emit(
          'error',
          new RoomcastError(
            'token_refresh_failed',
            'the refreshToken hook failed; retrying with backoff',
            { cause: error },
          ),
        );
        this.#schedule(
          this.#nextDelayMs(),
          {
            code: 1006,
            reason: 'token_refresh_failed',
            message: undefined,
            advice: 'refresh-token',
          },
          refresh,
        );
        return;
      }

      this.#token = token;
    }

    if (!this.#userClosed) {
      this.#connect();
    }
  }

  #connect(): void {
    const resumeFrom = this.#order.seq;
    this.#attempts++;
    this.#state = 'connecting';
    this.#emitter.emit('connecting', { attempt: this.#attempts, resumeFrom });
    const url = new URL(this.#options.url);
    url.searchParams.set('token', this.#token);
    if (resumeFrom === undefined) {
      url.searchParams.delete('resume');
    } else {
      url.searchParams.set('resume', String(resumeFrom));
    }

    let ws: WebSocketLike;
    try {
      ws = new this.#WebSocket(url.toString());
    } catch (error) {
      this.#emitter.emit(
        'error',
        new RoomcastError('not_connected', 'could not open a WebSocket', {
          cause: error,
        }),
      );
      this.#afterClose(undefined, {
        code: 1006,
        reason: 'connect_failed',
        message: undefined,
        advice: 'backoff',
      });
      return;
    }

    const socket: Socket = {
      ws,
      opened: false,
      welcome: undefined,
      openedAtMs: 0,
      lastFrameAtMs: 0,
      status: undefined,
    };
    this.#socket = socket;
    this.#resuming = resumeFrom !== undefined;
    this.#replayed = 0;
    this.#final = undefined;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      socket.opened = true;
      socket.openedAtMs = this.#clock();
      socket.lastFrameAtMs = socket.openedAtMs;
    };
    ws.onerror = (event) => {
      socket.status ??= handshakeStatus(event);
    };
    ws.onmessage = (event) => {
      if (this.#socket === socket) {
        this.#onMessage(socket, event.data);
      }
    };
    ws.onclose = (event) => {
      if (this.#socket === socket) {
        this.#onClose(socket, event.code, event.reason);
      }
    };
  }

  #onMessage(socket: Socket, data: unknown): void {
    let bytes: Uint8Array;
    if (data instanceof ArrayBuffer) {
      bytes = new Uint8Array(data);
    } else if (ArrayBuffer.isView(data)) {
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      return;
    }

    socket.lastFrameAtMs = this.#clock();
    let frame: Record<string, unknown>;
    try {
      const value = decode(bytes);
      if (typeof value !== 'object' || value === null) {
        throw new TypeError('a frame must be a map');
      }

      frame = value as Record<string, unknown>;
    } catch (error) {
      this.#emitter.emit(
        'error',
        new RoomcastError('bad_server_frame', 'skipped an undecodable frame', {
          cause: error,
        }),
      );
      return;
    }

    switch (frame['t']) {
      case 'welcome':
        this.#onWelcome(socket, frame as unknown as WelcomeFrame);
        return;
      case 'batch':
        if (Array.isArray(frame['items'])) {
          this.#onItems(socket, frame['items'] as unknown[]);
        }

        return;
      case 'control':
        this.#onControl(socket, frame as unknown as ControlFrame);
        return;
      case 'error':
        this.#emitter.emit(
          'error',
          new RoomcastError(
            frame['code'] as RoomcastError['code'],
            String(frame['message']),
            { source: 'server' },
          ),
        );
        return;
    }
  }

  #onWelcome(socket: Socket, welcome: WelcomeFrame): void {
    socket.welcome = welcome;
    const { limits, backoff } = welcome;
    if (backoff.baseMs > 0 && backoff.maxMs >= backoff.baseMs) {
      this.#backoff = { baseMs: backoff.baseMs, maxMs: backoff.maxMs };
    }

    if (!this.#resuming) {
      this.#order.start(welcome.seq);
    }

    this.#state = 'open';
    this.#emitter.emit('open', {
      room: welcome.room,
      user: welcome.user,
      viewers: welcome.viewers,
      seq: welcome.seq,
      resuming: this.#resuming,
      limits,
    });
    const pingEveryMs = Math.max(1000, Math.floor(welcome.idleTimeoutMs / 2));
    this.#pingTimer = setInterval(() => {
      this.#ping(socket, pingEveryMs);
    }, pingEveryMs);
    this.#outbox.open(limits, (bytes) => {
      if (socket.ws.readyState === WEBSOCKET_OPEN) {
        socket.ws.send(bytes);
      }
    });
  }

  #ping(socket: Socket, pingEveryMs: number): void {
    if (this.#clock() - socket.lastFrameAtMs > 3 * pingEveryMs) {
      // Not even a pong for three intervals: the connection is dead even if
      // the socket has not noticed yet.
      this.#abandon(socket, 'ping_timeout', 'resume');
      return;
    }

    this.#send(socket, { t: 'ping' });
  }

  #onItems(socket: Socket, items: unknown[]): void {
    for (const raw of items) {
      if (typeof raw !== 'object' || raw === null) {
        continue;
      }

      const item = raw as BatchItem;
      if (typeof item.type !== 'string') {
        continue;
      }

      if ('seq' in item && typeof item.seq === 'number') {
        const delivered = this.#order.offer(item as ReliableItem);
        if (this.#resuming) {
          this.#replayed += delivered.length;
        }

        delivered.forEach((reliable) => {
          this.#emitItem(reliable);
        });
      } else if (
        !('id' in item) ||
        typeof item.id !== 'string' ||
        this.#lossyIds.add(item.id)
      ) {
        this.#emitItem(item);
      }
    }

    const seq = this.#order.seq;
    if (this.#order.waiting && !this.#resuming && seq !== undefined) {
      // An item came before its predecessor: ask the edge to replay from the
      // last one delivered; what came early is held until then.
      this.#resuming = true;
      this.#replayed = 0;
      this.#send(socket, { t: 'resume', seq });
    }

    this.#outbox.scheduleAck();
  }

  #emitItem(item: BatchItem): void {
    switch (item.type) {
      case 'host':
      case 'gift':
      case 'system':
      case 'chat':
      case 'likes':
      case 'joins':
      case 'viewers':
        // The switch narrows the name; the item's shape is the wire's.
        this.#emitter.emit(item.type, item as never);
        break;
    }

    this.#emitter.emit('item', item);
  }

  #onControl(socket: Socket, control: ControlFrame): void {
    switch (control.reason) {
      case 'resumed': {
        this.#resuming = false;
        const released = this.#order.skipTo(control.seq ?? 0);
        this.#replayed += released.length;
        released.forEach((item) => {
          this.#emitItem(item);
        });
        this.#emitter.emit('resumed', {
          seq: this.#order.seq ?? 0,
          replayed: this.#replayed,
        });
        this.#outbox.scheduleAck();
        return;
      }

      case 'reload': {
        this.#resuming = false;
        const seq = control.seq ?? 0;
        const released = this.#order.skipTo(seq, true);
        this.#emitter.emit('reset', { seq, message: control.message });
        released.forEach((item) => {
          this.#emitItem(item);
        });
        this.#outbox.scheduleAck();
        return;
      }
    }

    if (isFinalControl(control.reason)) {
      this.#final = { reason: control.reason, message: control.message };
      return;
    }

    if (control.reconnect !== undefined && this.#advisedTimer === undefined) {
      const delayMs = Math.floor(this.#random() * control.reconnect.afterMs);
      this.#advisedAtMs = this.#clock() + delayMs;
      this.#advisedTimer = setTimeout(() => {
        this.#advisedTimer = undefined;
        if (this.#socket === socket) {
          this.#abandon(socket, 'reconnect_advised', 'resume', control.reason);
        }
      }, delayMs);
    }
  }

  #onClose(socket: Socket, code: number, reasonText: string): void {
    if (this.#final !== undefined) {
      this.#afterClose(socket, {
        code,
        reason: this.#final.reason,
        message: this.#final.message,
        advice: 'never',
      });
      return;
    }

    const verdict = closeVerdict(code, socket.opened, socket.status);
    let { reason, advice } = verdict;
    if (
      !socket.opened &&
      advice !== 'never' &&
      tokenExpired(this.#token, this.#clock())
    ) {
      reason = 'token_expired';
      advice = 'refresh-token';
    }

    this.#afterClose(socket, {
      code,
      reason,
      message: reasonText === '' ? undefined : reasonText,
      advice,
    });
  }

  /** Drops a socket without waiting for its close handshake. */
  #abandon(
    socket: Socket,
    reason: string,
    advice: ReconnectAdvice,
    message?: string,
  ): void {
    const { ws } = socket;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onerror = null;
    ws.onclose = null;
    try {
      ws.close(1000, reason);
    } catch {
      // Already closing; nothing more to do with it.
    }

    this.#afterClose(socket, { code: 1000, reason, message, advice });
  }

  #afterClose(socket: Socket | undefined, info: CloseInfo): void {
    this.#socket = undefined;
    clearInterval(this.#pingTimer);
    clearTimeout(this.#advisedTimer);
    this.#pingTimer = undefined;
    this.#advisedTimer = undefined;
    this.#outbox.close();
    if (
      socket?.welcome !== undefined &&
      this.#clock() - socket.openedAtMs >=
        (this.#options.stableAfterMs ?? 10_000)
    ) {
      this.#failures = 0;
    }

    const refreshable =
      info.advice !== 'refresh-token' ||
      this.#options.refreshToken !== undefined;
    const withinAttempts =
      this.#failures < (this.#options.maxReconnectAttempts ?? Infinity);
    if (
      this.#userClosed ||
      info.advice === 'never' ||
      !refreshable ||
      !withinAttempts
    ) {
      this.#finish(info);
      return;
    }

    let delayMs = this.#nextDelayMs();
    if (this.#advisedAtMs !== undefined) {
      delayMs = Math.max(0, this.#advisedAtMs - this.#clock());
      this.#advisedAtMs = undefined;
    }

    const refresh =
      info.advice !== 'refresh-token'
        ? undefined
        : info.reason === 'token_rejected'
          ? 'rejected'
          : 'expired';
    this.#schedule(delayMs, info, refresh);
  }

  #nextDelayMs(): number {
    const delayMs = backoffDelayMs(
      this.#backoff,
      this.#failures,
      this.#random(),
    );
    this.#failures++;
    return delayMs;
  }

  #schedule(
    delayMs: number,
    info: CloseInfo,
    refresh: TokenRefreshContext['reason'] | undefined,
  ): void {
    this.#state = 'waiting';
    this.#emitter.emit('closed', {
      ...info,
      willReconnect: true,
      reconnectInMs: delayMs,
    });
    this.#reconnectTimer = setTimeout(() => {
      void this.#reconnect(refresh);
    }, delayMs);
  }

  #finish(info: CloseInfo): void {
    this.#state = 'closed';
    clearTimeout(this.#reconnectTimer);
    const event: ClosedEvent = {
      ...info,
      reason: this.#userClosed ? 'client' : info.reason,
      willReconnect: false,
      reconnectInMs: undefined,
    };
    this.#emitter.emit('closed', event);
    this.#resolveClosed(event);
  }

  #send(socket: Socket, frame: ClientFrame): void {
    if (socket.ws.readyState === WEBSOCKET_OPEN) {
      socket.ws.send(encode(frame));
    }
  }
}

/**
 * The HTTP status of a refused handshake from an `error` event, when the
 * implementation puts it there (the `ws` package: "Unexpected server
 * response: 401"). Browsers hide it on purpose.
 */
function handshakeStatus(event: unknown): number | undefined {
  const message =
    typeof event === 'object' && event !== null && 'message' in event
      ? String(event.message)
      : '';
  const match = /Unexpected server response: (\d{3})/.exec(message);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** Connects to a room; see {@link ConnectOptions}. Starts on the next microtask. */
export function connect(options: ConnectOptions): RoomcastClient {
  return new RoomcastClient(options);
}
