/**
 * Every WebSocket close code roomcast sends, with what a client should do
 * about it. Clients read `advice`; nothing else in the code base uses a bare
 * close number. docs/protocol.md renders this table.
 */

/** What a closed client should do next. */
export type ReconnectAdvice =
  /** Reconnect after a jittered backoff and send `resume` with its last seq. */
  | 'resume'
  /** Reconnect after a jittered backoff; resume is still welcome. */
  | 'backoff'
  /** Get a fresh token from the platform, then reconnect and resume. */
  | 'refresh-token'
  /** Do not reconnect: the close is final for this room and token. */
  | 'never';

export interface CloseCode {
  code: number;
  /** Stable name, also sent as the close reason text. */
  name: string;
  advice: ReconnectAdvice;
  meaning: string;
}

function closeCode(
  code: number,
  name: string,
  advice: ReconnectAdvice,
  meaning: string,
): CloseCode {
  return { code, name, advice, meaning };
}

export const CloseCodes = {
  normal: closeCode(
    1000,
    'normal',
    'never',
    'The client or server ended the session on purpose.',
  ),
  goingAway: closeCode(
    1001,
    'going_away',
    'backoff',
    'The server process is shutting down.',
  ),
  slowConsumer: closeCode(
    4000,
    'slow_consumer',
    'resume',
    'The send buffer passed the hard bound; resume to get the reliable items missed.',
  ),
  badFrame: closeCode(
    4001,
    'bad_frame',
    'backoff',
    'The client kept sending frames that are not valid roomcast frames.',
  ),
  rateLimited: closeCode(
    4002,
    'rate_limited',
    'backoff',
    'The client kept sending after being told it was over its rate limit.',
  ),
  tokenExpired: closeCode(
    4003,
    'token_expired',
    'refresh-token',
    'The viewer token expired while connected.',
  ),
  roomClosed: closeCode(
    4004,
    'room_closed',
    'never',
    'The platform closed the room.',
  ),
  kicked: closeCode(
    4005,
    'kicked',
    'never',
    'The platform removed this viewer from the room.',
  ),
  banned: closeCode(
    4006,
    'banned',
    'never',
    'The platform banned this viewer from the room.',
  ),
  draining: closeCode(
    4007,
    'draining',
    'resume',
    'The edge is draining for a restart; reconnect after the advised delay.',
  ),
  idleTimeout: closeCode(
    4008,
    'idle_timeout',
    'resume',
    'Nothing was heard from the client within the idle timeout.',
  ),
  frameTooLarge: closeCode(
    4009,
    'frame_too_large',
    'backoff',
    'A client frame was larger than the configured limit.',
  ),
  overloaded: closeCode(
    4010,
    'overloaded',
    'backoff',
    'Reserved: an edge over its connect rate refuses the upgrade with HTTP 503 overloaded and Retry-After instead.',
  ),
  streamGap: closeCode(
    4011,
    'stream_gap',
    'resume',
    'The edge missed reliable items of the room and could not read them back; resume to get them.',
  ),
} as const satisfies Record<string, CloseCode>;

export type CloseCodeName = keyof typeof CloseCodes;

const byNumber = new Map<number, CloseCode>(
  Object.values(CloseCodes).map((entry) => [entry.code, entry]),
);

/** Looks up a close code by number; undefined for codes roomcast never sends. */
export function closeCodeByNumber(code: number): CloseCode | undefined {
  return byNumber.get(code);
}
