/**
 * When and whether to reconnect. Pure functions over the close code table in
 * protocol/close-codes.ts, so the policy is tested without sockets.
 *
 * Imported from the protocol's files rather than its index: the index also
 * carries the server's msgpackr codec, which a browser bundle must not pull.
 */
import {
  closeCodeByNumber,
  type ReconnectAdvice,
} from '../protocol/close-codes.js';
import type { ControlReason } from '../protocol/frames.js';

/** Backoff bounds; the server's welcome frame advises its own. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 500, maxMs: 30_000 };

/** Control reasons after which the socket is closed for good. */
const FINAL_CONTROL_REASONS = new Set<ControlReason>([
  'room_closed',
  'kicked',
  'banned',
]);

export function isFinalControl(reason: ControlReason): boolean {
  return FINAL_CONTROL_REASONS.has(reason);
}

export interface CloseVerdict {
  /** The close code's stable name, or the SDK's name for what happened. */
  reason: string;
  advice: ReconnectAdvice;
}

/**
 * What a close means.
 * @param code the WebSocket close code
 * @param opened whether the handshake had completed
 * @param status the HTTP status of a refused handshake, when the WebSocket
 *   implementation reports it (the `ws` package does; browsers never do)
 */
export function closeVerdict(
  code: number,
  opened: boolean,
  status?: number,
): CloseVerdict {
  if (!opened) {
    if (status === 401) {
      return { reason: 'token_rejected', advice: 'refresh-token' };
    }

    if (status === 400 || status === 403) {
      // A malformed request or an Origin the edge refuses: retrying the same
      // request cannot succeed.
      return { reason: 'handshake_refused', advice: 'never' };
    }

    // 404 (room not found) is retried: a restarted standalone server has no
    // rooms until the platform creates them again.
    return { reason: 'connect_failed', advice: 'backoff' };
  }

  const known = closeCodeByNumber(code);
  if (known !== undefined) {
    return { reason: known.name, advice: known.advice };
  }

  // 1006 (no close frame: network loss, process killed) and codes roomcast
  // never sends: the connection is gone, the room probably is not.
  return { reason: 'connection_lost', advice: 'resume' };
}

/**
 * Full jitter: a uniformly random delay between 0 and the exponential cap.
 * @param failures consecutive failed or short-lived connections so far
 * @param random a number in [0, 1)
 */
export function backoffDelayMs(
  backoff: Backoff,
  failures: number,
  random: number,
): number {
  const capMs = Math.min(
    backoff.maxMs,
    backoff.baseMs * 2 ** Math.min(failures, 30),
  );
  return Math.floor(random * capMs);
}
