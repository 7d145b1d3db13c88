/**
 * Frames reach an edge over the bus, which delivers at most once: a
 * subscriber connection that drops and reconnects (Redis restarting, a
 * client killed for its output buffer, a network blip) misses whatever was
 * published meanwhile. Lossy items may go missing that way; reliable ones
 * may not.
 *
 * Each frame names the highest reliable seq its room had published before
 * it (`prevSeq`): a frame whose `prevSeq` is past the last seq this edge
 * received says frames were lost, and which seqs. The edge then holds
 * every envelope of the room, reads the missing items from the reliable
 * log (the shard only publishes what the log holds), forwards them as one
 * frame, and lets the held envelopes through after it: viewers see every
 * reliable item once, in seq order, a little late. (A frame may start past
 * `prevSeq + 1` when the shard skipped items trimmed from the history
 * before it could publish them; that is not a hole here.)
 *
 * A loss with no frame after it (the room went quiet) is found by
 * comparing the room's published cursor with what the edge received: at
 * once when the bus has resubscribed after a reconnect, and every
 * {@link RECHECK_MS} anyway (on Redis Cluster the client resubscribes
 * without telling). A frame may still be on its way when the cursor is
 * read, so a difference is read again after {@link RECHECK_GRACE_MS}
 * before it counts.
 *
 * When the items cannot be read (the log keeps failing, or any of them is
 * no longer kept) the room's viewers are closed with `stream_gap`, which
 * tells a client to resume: its own resume reads what it missed, or tells
 * it to reload. A hole is never passed on silently.
 */
import type { Logger } from 'pino';
import { encodeFrame, type ReliableItem } from '../protocol/index.js';
import type { ReliableLog } from '../reliable-log/index.js';
import type { EdgeMetrics } from './edge-metrics.js';
import type { ShardFrame } from './frame-pacer.js';
import { frameWithoutReliableUpTo } from './delivery.js';
import type { LocalRoom } from './local-room.js';

/** Reads of the missing items before the edge gives up on them. */
const READ_ATTEMPTS = 4;
/** Wait before the next read, times the attempt number. */
const READ_RETRY_MS = 250;
/** A read that takes longer than this counts as failed. */
const READ_TIMEOUT_MS = 2000;
/** How often a room's published cursor is compared with what it received. */
export const RECHECK_MS = 30_000;
/** How long a frame may be on its way after the cursor moved. */
export const RECHECK_GRACE_MS = 1000;
/** Larger holes are not read here: each viewer's own resume handles them. */
export const MAX_REPAIR_ITEMS = 10_000;

export interface StreamGapsOptions {
  log: Pick<ReliableLog, 'readAfter' | 'publishedSeq'>;
  metrics: EdgeMetrics;
  logger: Logger;
  /** Whether the edge still carries the room (it may drop it meanwhile). */
  carries(room: LocalRoom): boolean;
  /** Sends a frame to the room's viewers, ahead of anything held. */
  forward(room: LocalRoom, frame: ShardFrame): void;
  /**
   * Handles an envelope that waited for the repair, in arrival order, as
   * if it came from the bus now (queued again if another repair started).
   */
  replay(room: LocalRoom, payload: Buffer): void;
  /** The missing items cannot be had: the room's viewers must resume. */
  giveUp(room: LocalRoom): void;
  clock: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class StreamGaps {
  #options: StreamGapsOptions;
  #sleep: (ms: number) => Promise<void>;

  constructor(options: StreamGapsOptions) {
    this.#options = options;
    this.#sleep =
      options.sleep ??
      ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * The room's position, read from the log's published cursor once the
   * edge subscribed: frames are checked against it from now on.
   */
  setPosition(room: LocalRoom, publishedSeq: number): void {
    room.receivedSeq = Math.max(room.receivedSeq, publishedSeq);
    room.positionKnown = true;
    room.gapCheckedMs = this.#options.clock();
  }

  /**
   * Checks a frame from the bus against what the room received. Returns
   * the frame to forward (without reliable items the room already had,
   * which only a repair racing a late frame produces), or undefined when
   * it must wait: a repair started, and `payload` is the first envelope
   * the room holds for it.
   */
  admit(
    room: LocalRoom,
    frame: ShardFrame,
    firstSeq: number,
    prevSeq: number | undefined,
    payload: Buffer,
  ): ShardFrame | undefined {
    if (!room.positionKnown || firstSeq === 0) {
      room.receivedSeq = Math.max(room.receivedSeq, frame.maxSeq);
      return frame;
    }

    const received = room.receivedSeq;
    // Without `prevSeq` (a shard of an earlier version) the frame's first
    // seq stands in for it.
    const before = prevSeq ?? firstSeq - 1;
    if (before > received) {
      room.waiting = [payload];
      void this.#repair(room, received, before);
      return undefined;
    }

    room.receivedSeq = Math.max(received, frame.maxSeq);
    if (firstSeq > received) {
      return frame;
    }

    // Items this room already has (a repair read them while the frame was
    // still on its way): only what is newer goes on.
    this.#options.metrics.repeatedFrames.inc();
    return frameWithoutReliableUpTo(frame, received) ?? undefined;
  }

  /** Once per edge tick: rechecks the rooms not checked for {@link RECHECK_MS}. */
  tick(nowMs: number, rooms: Iterable<LocalRoom>): void {
    for (const room of rooms) {
      if (nowMs - room.gapCheckedMs >= RECHECK_MS) {
        room.gapCheckedMs = nowMs;
        void this.recheck(room);
      }
    }
  }

  /**
   * Compares the room's published cursor with what it received: a room
   * whose last frames were lost has no later frame to show it.
   */
  async recheck(room: LocalRoom): Promise<void> {
    if (!room.positionKnown) {
      return;
    }

    if (room.waiting !== undefined) {
      // A repair is running: it covers the hole it was started for, not
      // one the bus made since (a resubscribe while it reads). Check again
      // once it is done, or a last lost frame waits for RECHECK_MS.
      room.recheckAfterRepair = true;
      return;
    }

    let published: number;
    try {
      published = await this.#options.log.publishedSeq(room.key);
      if (published > room.receivedSeq) {
        await this.#sleep(RECHECK_GRACE_MS);
      }
    } catch {
      // Redis is out of reach; a later check tries again.
      return;
    }

    if (published > room.receivedSeq && this.#options.carries(room)) {
      if (room.waiting !== undefined) {
        room.recheckAfterRepair = true;
        return;
      }

      room.waiting = [];
      await this.#repair(room, room.receivedSeq, published);
    }
  }

  async #repair(
    room: LocalRoom,
    afterSeq: number,
    upTo: number,
  ): Promise<void> {
    const { metrics, logger } = this.#options;
    logger.warn(
      { roomKey: room.key, afterSeq, upTo },
      'reliable items missing from the bus; reading them from the log',
    );
    const found = await this.#read(room, afterSeq, upTo);
    if (!this.#options.carries(room)) {
      room.waiting = undefined;
      return;
    }

    room.receivedSeq = Math.max(room.receivedSeq, upTo);
    if (found === 'failed') {
      metrics.streamGaps.inc({ outcome: 'failed' });
      logger.warn(
        { roomKey: room.key, afterSeq, upTo },
        'missing reliable items could not be read; viewers must resume',
      );
      this.#options.giveUp(room);
    } else {
      metrics.streamGaps.inc({ outcome: 'repaired' });
      metrics.repairedItems.inc(found.length);
      this.#options.forward(room, repairFrame(room, found));
    }

    const waiting = room.waiting ?? [];
    room.waiting = undefined;
    // A replayed frame may start another repair: the edge then adds the
    // rest to that repair's waiting envelopes itself.
    for (const payload of waiting) {
      this.#options.replay(room, payload);
    }

    // A recheck that came while this repair ran (a replay may have started
    // another repair: that one's end does it).
    if (room.recheckAfterRepair && room.waiting === undefined) {
      room.recheckAfterRepair = false;
      void this.recheck(room);
    }
  }

  /** The items after `afterSeq` up to `upTo` that the log holds, or 'failed'. */
  async #read(
    room: LocalRoom,
    afterSeq: number,
    upTo: number,
  ): Promise<ReliableItem[] | 'failed'> {
    const missing = upTo - afterSeq;
    if (missing > MAX_REPAIR_ITEMS) {
      return 'failed';
    }

    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      if (attempt > 0) {
        await this.#sleep(READ_RETRY_MS * attempt);
      }

      if (!this.#options.carries(room)) {
        return 'failed';
      }

      let result;
      try {
        result = await withTimeout(
          this.#options.log.readAfter(room.key, afterSeq, missing),
          READ_TIMEOUT_MS,
        );
      } catch (error) {
        this.#options.logger.warn(
          { err: error, roomKey: room.key, attempt },
          'reading missing reliable items failed',
        );
        continue;
      }

      if (result.kind !== 'ok') {
        // Part of the hole is no longer kept ('gone'), or the room's history
        // was reset ('ahead'): viewers cannot have those items from here.
        return 'failed';
      }

      const items = result.items.filter((item) => item.seq <= upTo);
      return items.length > 0 ? items : 'failed';
    }

    return 'failed';
  }
}

/** The missing items as one frame of reliable items only. */
function repairFrame(room: LocalRoom, items: ReliableItem[]): ShardFrame {
  return {
    maxSeq: items.at(-1)?.seq ?? 0,
    viewers: room.viewers,
    full: encodeFrame({ t: 'batch', room: room.roomId, items }),
    reliableOnly: true,
    lossyCount: 0,
    presenceOnly: false,
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
