/**
 * Open-loop publishing through the admin API.
 *
 * Each stream (one room, one message type, a rate) has a fixed schedule: its
 * k-th message is due at `start + (k + phase) / rate`. Messages are sent when
 * due whatever happened to earlier ones, so a slow admin API makes requests
 * pile up instead of slowing the schedule, and the time a message carries is
 * the time it was due, not the time it went out: queueing in the publisher
 * counts as latency (no coordinated omission). The streams wait in a binary
 * heap ordered by due time, so a thousand rooms cost the same per message as
 * one.
 */
import type { AdminClient, PublishBody, PublishReply } from './admin-client.js';
import { newHistogram, recordMs, type Histogram } from './latency-histogram.js';
import { chatText, nowMs, reliableData } from './send-time.js';

/** Message types the admin API accepts, as the publisher sends them. */
export const PUBLISH_TYPES = [
  'host',
  'gift',
  'system',
  'chat',
  'like',
  'join',
] as const;
export type PublishType = (typeof PUBLISH_TYPES)[number];

export function isReliableType(type: PublishType): boolean {
  return type === 'host' || type === 'gift' || type === 'system';
}

export interface PublishStream {
  room: string;
  type: PublishType;
  perSecond: number;
}

/** The one call the publisher makes; {@link AdminClient} is the real one. */
export type PublishTarget = Pick<AdminClient, 'publish'>;

export interface PublisherOptions {
  admin: PublishTarget;
  streams: PublishStream[];
  durationMs: number;
  /** Chat text length in characters, send time included; default 40. */
  chatTextBytes?: number;
  /**
   * Requests in flight past which a due message is skipped and counted in
   * `skipped` (a run with skips has lost its open-loop rate); default 4,096.
   */
  maxInFlight?: number;
  /** Called for every reply, e.g. to build a timeline. */
  onReply?: (type: PublishType, reply: PublishReply, latencyMs: number) => void;
}

/** Counts of one message type. */
export interface PublishTypeCounts {
  sent: number;
  accepted: number;
  /** Non-202 replies, by status and error code. */
  refused: Record<string, number>;
  /** Requests that got no reply (connection error or timeout). */
  failed: number;
  skipped: number;
}

export interface PublishResult {
  startMs: number;
  endMs: number;
  byType: Record<PublishType, PublishTypeCounts>;
  /** Highest seq acknowledged per room (0 when no reliable item). */
  finalSeqs: Record<string, number>;
  /** Reliable items accepted per room. */
  reliableAccepted: Record<string, number>;
  /** From due time to reply, in microseconds. */
  httpLatency: Histogram;
  /** Sends that went out more than 10 ms after they were due. */
  late: number;
  maxInFlight: number;
}

const LATE_MS = 10;

interface ScheduledStream {
  stream: PublishStream;
  intervalMs: number;
  phase: number;
  ordinal: number;
  dueMs: number;
}

/** Min-heap of streams by due time. */
class DueHeap {
  readonly #items: ScheduledStream[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): ScheduledStream | undefined {
    return this.#items[0];
  }

  push(item: ScheduledStream): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as ScheduledStream).dueMs <= item.dueMs) {
        break;
      }

      items[i] = items[parent] as ScheduledStream;
      i = parent;
    }

    items[i] = item;
  }

  pop(): ScheduledStream | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) {
      return top;
    }

    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      let smallestDue = last.dueMs;
      if (
        left < items.length &&
        (items[left] as ScheduledStream).dueMs < smallestDue
      ) {
        smallest = left;
        smallestDue = (items[left] as ScheduledStream).dueMs;
      }

      if (
        right < items.length &&
        (items[right] as ScheduledStream).dueMs < smallestDue
      ) {
        smallest = right;
      }

      if (smallest === i) {
        break;
      }

      items[i] = items[smallest] as ScheduledStream;
      i = smallest;
    }

    items[i] = last;
    return top;
  }
}

function emptyCounts(): PublishTypeCounts {
  return { sent: 0, accepted: 0, refused: {}, failed: 0, skipped: 0 };
}

export function messageBody(
  type: PublishType,
  dueMs: number,
  ordinal: number,
  chatTextBytes: number,
): PublishBody {
  const who = ordinal % 1000;
  switch (type) {
    case 'host':
      return {
        type,
        from: { id: 'lt-host', name: 'Host' },
        data: reliableData(dueMs, ordinal),
      };
    case 'gift':
      return {
        type,
        from: { id: `lt-gifter-${who}`, name: `gifter ${who}` },
        data: { ...reliableData(dueMs, ordinal), gift: 'rose', count: 1 },
      };
    case 'system':
      return { type, data: reliableData(dueMs, ordinal) };
    case 'chat':
      return {
        type,
        from: { id: `lt-chatter-${who}`, name: `chatter ${who}` },
        data: { text: chatText(dueMs, chatTextBytes) },
      };
    case 'like':
    case 'join':
      return { type, from: { id: `lt-fan-${who}`, name: `fan ${who}` } };
  }
}

export class Publisher {
  readonly #options: PublisherOptions;
  readonly #chatTextBytes: number;
  readonly #maxInFlight: number;
  #inFlight = 0;

  constructor(options: PublisherOptions) {
    this.#options = options;
    this.#chatTextBytes = options.chatTextBytes ?? 40;
    this.#maxInFlight = options.maxInFlight ?? 4096;
  }

  /** Publishes for the duration, then waits for every reply. */
  run(): Promise<PublishResult> {
    const startMs = nowMs();
    const endMs = startMs + this.#options.durationMs;
    const byType = Object.fromEntries(
      PUBLISH_TYPES.map((type) => [type, emptyCounts()]),
    ) as Record<PublishType, PublishTypeCounts>;
    const result: PublishResult = {
      startMs,
      endMs,
      byType,
      finalSeqs: {},
      reliableAccepted: {},
      httpLatency: newHistogram(),
      late: 0,
      maxInFlight: 0,
    };
    const heap = new DueHeap();
    const streams = this.#options.streams.filter((s) => s.perSecond > 0);
    streams.forEach((stream, index) => {
      result.finalSeqs[stream.room] = 0;
      result.reliableAccepted[stream.room] = 0;
      const intervalMs = 1000 / stream.perSecond;
      const phase = index / streams.length;
      heap.push({
        stream,
        intervalMs,
        phase,
        ordinal: 0,
        dueMs: startMs + phase * intervalMs,
      });
    });

    return new Promise((resolve) => {
      let scheduling = true;
      const maybeDone = (): void => {
        if (!scheduling && this.#inFlight === 0) {
          resolve(result);
        }
      };

      const tick = (): void => {
        const now = nowMs();
        for (;;) {
          const next = heap.peek();
          if (next === undefined || next.dueMs > now || next.dueMs >= endMs) {
            break;
          }

          heap.pop();
          this.#fire(next, now, result, maybeDone);
          next.ordinal += 1;
          next.dueMs = startMs + (next.ordinal + next.phase) * next.intervalMs;
          heap.push(next);
        }

        const next = heap.peek();
        if (next === undefined || next.dueMs >= endMs) {
          scheduling = false;
          maybeDone();
          return;
        }

        setTimeout(tick, Math.max(0, next.dueMs - nowMs()));
      };

      tick();
    });
  }

  #fire(
    scheduled: ScheduledStream,
    now: number,
    result: PublishResult,
    maybeDone: () => void,
  ): void {
    const { room, type } = scheduled.stream;
    const counts = result.byType[type];
    if (this.#inFlight >= this.#maxInFlight) {
      counts.skipped += 1;
      return;
    }

    const dueMs = scheduled.dueMs;
    if (now - dueMs > LATE_MS) {
      result.late += 1;
    }

    counts.sent += 1;
    this.#inFlight += 1;
    result.maxInFlight = Math.max(result.maxInFlight, this.#inFlight);
    const body = messageBody(
      type,
      dueMs,
      scheduled.ordinal,
      this.#chatTextBytes,
    );
    this.#options.admin.publish(room, body).then(
      (reply) => {
        const latencyMs = nowMs() - dueMs;
        recordMs(result.httpLatency, latencyMs);
        if (reply.status === 202) {
          counts.accepted += 1;
          if (reply.seq !== undefined) {
            result.reliableAccepted[room] =
              (result.reliableAccepted[room] ?? 0) + 1;
            result.finalSeqs[room] = Math.max(
              result.finalSeqs[room] ?? 0,
              reply.seq,
            );
          }
        } else {
          const key = `${reply.status}${reply.code === undefined ? '' : ` ${reply.code}`}`;
          counts.refused[key] = (counts.refused[key] ?? 0) + 1;
        }

        this.#options.onReply?.(type, reply, latencyMs);
        this.#settle(maybeDone);
      },
      () => {
        counts.failed += 1;
        this.#settle(maybeDone);
      },
    );
  }

  #settle(maybeDone: () => void): void {
    this.#inFlight -= 1;
    maybeDone();
  }
}

export interface BurstResult {
  type: PublishType;
  room: string;
  accepted: number;
  refused: number;
  failed: number;
  /** Highest seq acknowledged. */
  maxSeq: number;
  durationMs: number;
}

/**
 * Publishes `count` messages to one room as fast as the admin API takes them,
 * `concurrency` in flight: closed loop on purpose, to find what the API
 * accepts under a burst. Its latency is not a rate's latency and is not
 * recorded; the viewers still record the latency of every item.
 */
export async function publishBurst(
  admin: PublishTarget,
  room: string,
  type: PublishType,
  count: number,
  concurrency: number,
): Promise<BurstResult> {
  const startMs = nowMs();
  const result: BurstResult = {
    type,
    room,
    accepted: 0,
    refused: 0,
    failed: 0,
    maxSeq: 0,
    durationMs: 0,
  };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const ordinal = next;
      next += 1;
      try {
        const reply = await admin.publish(
          room,
          messageBody(type, nowMs(), ordinal, 40),
        );
        if (reply.status === 202) {
          result.accepted += 1;
          result.maxSeq = Math.max(result.maxSeq, reply.seq ?? 0);
        } else {
          result.refused += 1;
        }
      } catch {
        result.failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  result.durationMs = nowMs() - startMs;
  return result;
}
