/**
 * The send time that travels inside published items, so latency is measured
 * end to end: from the moment the publisher meant to send (not when it got
 * round to it, which would hide queueing: coordinated omission) to the moment
 * a viewer read the item.
 *
 * The clock is `performance.timeOrigin + performance.now()`: wall-clock
 * milliseconds with sub-millisecond resolution that every process on the
 * machine agrees on (each process anchors its monotonic clock to the same
 * system clock at start-up), and that does not jump within a process.
 */
import { performance } from 'node:perf_hooks';

/** Wall-clock milliseconds, fractional. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Field of a reliable item's `data` carrying the intended send time. */
export const SEND_TIME_FIELD = 'lt';

const CHAT_PREFIX = 'lt:';

/** `data` of a reliable item published by the load test. */
export function reliableData(
  intendedMs: number,
  ordinal: number,
): Record<string, number> {
  return { [SEND_TIME_FIELD]: intendedMs, n: ordinal };
}

/** Chat text carrying the send time, padded to `textBytes` with filler. */
export function chatText(intendedMs: number, textBytes: number): string {
  const head = `${CHAT_PREFIX}${intendedMs.toFixed(3)} `;
  return textBytes > head.length
    ? head + 'x'.repeat(textBytes - head.length)
    : head.trimEnd();
}

/** The intended send time carried by a decoded item, or -1. */
export function sendTimeOf(item: Record<string, unknown>): number {
  const data = item['data'];
  if (typeof data === 'object' && data !== null) {
    const value = (data as Record<string, unknown>)[SEND_TIME_FIELD];
    return typeof value === 'number' ? value : -1;
  }

  const text = item['text'];
  if (typeof text === 'string' && text.startsWith(CHAT_PREFIX)) {
    const end = text.indexOf(' ');
    const value = Number(
      text.slice(CHAT_PREFIX.length, end === -1 ? undefined : end),
    );
    return Number.isFinite(value) ? value : -1;
  }

  return -1;
}
