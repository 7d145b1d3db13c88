/**
 * What a viewer sends on its own initiative: chat, likes and acks. Chat is
 * checked against the edge's limits before it leaves, likes are merged into
 * as few frames as the edge's like limit allows and wait while the client
 * reconnects, and acks are coalesced to one per interval.
 *
 * The client hands the outbox a way to send on the current socket when that
 * socket is welcomed, and takes it back when the socket goes.
 */
import type { ClientFrame, WelcomeFrame } from '../protocol/frames.js';
import { RoomcastError } from './errors.js';
import { encode } from './msgpack.js';
import { RateLimit } from './rate-limit.js';

/** Longest chat text the edge accepts (protocol/codec.ts agrees, tested). */
export const CHAT_TEXT_MAX_LENGTH = 500;
/** Most likes one `like` frame carries. */
export const LIKES_PER_FRAME_MAX = 100;
/** Seconds of likes at the allowed rate that may wait to be sent. */
const LIKES_QUEUE_SECONDS = 5;

type Timer = ReturnType<typeof setTimeout>;

/** The welcomed socket, as the outbox sees it. */
interface Link {
  limits: WelcomeFrame['limits'];
  /** Sends encoded bytes on the socket if it is still open. */
  send(bytes: Uint8Array): void;
  chatLimit: RateLimit;
  likeLimit: RateLimit;
}

export interface OutboxOptions {
  clock: () => number;
  /** At most one ack per this many ms. */
  ackIntervalMs: number;
  /** The last reliable seq delivered to the app, the one to ack. */
  deliveredSeq: () => number | undefined;
}

export class Outbox {
  #options: OutboxOptions;
  #link: Link | undefined;
  #pendingLikes = 0;
  #ackedSeq = 0;
  #ackTimer: Timer | undefined;
  #likeTimer: Timer | undefined;

  constructor(options: OutboxOptions) {
    this.#options = options;
  }

  /** A socket was welcomed: its limits apply and waiting likes go out. */
  open(limits: WelcomeFrame['limits'], send: (bytes: Uint8Array) => void) {
    const { clock } = this.#options;
    this.#link = {
      limits,
      send,
      chatLimit: new RateLimit(
        limits.chatPerSecond,
        Math.max(1, limits.chatPerSecond),
        clock,
      ),
      likeLimit: new RateLimit(
        limits.likesPerSecond,
        Math.max(1, limits.likesPerSecond),
        clock,
      ),
    };
    this.#flushLikes();
  }

  /**
   * The socket is gone: timers stop, likes keep waiting for the next one,
   * and acks start over (a new connection has acked nothing).
   */
  close(): void {
    clearTimeout(this.#ackTimer);
    clearTimeout(this.#likeTimer);
    this.#ackTimer = undefined;
    this.#likeTimer = undefined;
    this.#link = undefined;
    this.#ackedSeq = 0;
  }

  /** See RoomcastClient.chat for the errors thrown. */
  chat(text: string): void {
    if (typeof text !== 'string' || text.trim() === '') {
      throw new RoomcastError('invalid_argument', 'chat text is empty');
    }

    if (text.length > CHAT_TEXT_MAX_LENGTH) {
      throw new RoomcastError(
        'text_too_long',
        `chat text is limited to ${CHAT_TEXT_MAX_LENGTH} characters`,
      );
    }

    const link = this.#link;
    if (link === undefined) {
      throw new RoomcastError('not_connected', 'the client is reconnecting');
    }

    const bytes = encode({ t: 'chat', text } satisfies ClientFrame);
    if (bytes.byteLength > link.limits.maxFrameBytes) {
      throw new RoomcastError(
        'frame_too_large',
        `chat frames are limited to ${link.limits.maxFrameBytes} bytes`,
      );
    }

    if (!link.chatLimit.take()) {
      throw new RoomcastError(
        'rate_limited',
        `chat is limited to ${link.limits.chatPerSecond} per second`,
        { retryAfterMs: link.chatLimit.msUntilToken() },
      );
    }

    link.send(bytes);
  }

  /** See RoomcastClient.like for the errors thrown. */
  like(count: number): void {
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new RoomcastError(
        'invalid_argument',
        'like count must be a positive integer',
      );
    }

    const perSecond = this.#link?.limits.likesPerSecond ?? 1;
    const maxPending = LIKES_PER_FRAME_MAX * perSecond * LIKES_QUEUE_SECONDS;
    if (this.#pendingLikes + count > maxPending) {
      throw new RoomcastError(
        'rate_limited',
        `at most ${maxPending} likes may wait to be sent`,
        { retryAfterMs: 1000 },
      );
    }

    this.#pendingLikes += count;
    this.#flushLikes();
  }

  /** Acks the delivered seq within the ack interval, once. */
  scheduleAck(): void {
    const seq = this.#options.deliveredSeq();
    if (this.#ackTimer !== undefined || seq === undefined) {
      return;
    }

    if (seq > this.#ackedSeq) {
      this.#ackTimer = setTimeout(() => {
        this.#ackTimer = undefined;
        this.ackNow();
      }, this.#options.ackIntervalMs);
    }
  }

  /** Acks the delivered seq now if it was not acked yet (e.g. on close). */
  ackNow(): void {
    const seq = this.#options.deliveredSeq();
    if (this.#link !== undefined && seq !== undefined && seq > this.#ackedSeq) {
      this.#link.send(encode({ t: 'ack', seq } satisfies ClientFrame));
      this.#ackedSeq = seq;
    }
  }

  #flushLikes(): void {
    const link = this.#link;
    if (link === undefined || this.#likeTimer !== undefined) {
      return;
    }

    while (this.#pendingLikes > 0 && link.likeLimit.take()) {
      const count = Math.min(this.#pendingLikes, LIKES_PER_FRAME_MAX);
      link.send(encode({ t: 'like', count } satisfies ClientFrame));
      this.#pendingLikes -= count;
    }

    if (this.#pendingLikes > 0) {
      this.#likeTimer = setTimeout(() => {
        this.#likeTimer = undefined;
        this.#flushLikes();
      }, link.likeLimit.msUntilToken());
    }
  }
}
