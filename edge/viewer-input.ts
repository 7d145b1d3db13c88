/**
 * Frames from viewers: checked for size before decoding, decoded by the
 * hostile-input codec, rate limited per connection, then queued for the
 * room's next per-tick batch to the shard. Every refusal is an `error` frame
 * and a strike; a viewer that keeps earning strikes is closed.
 */
import type { WebSocket } from 'uWebSockets.js';
import type { IdGenerator } from '../ids/index.js';
import {
  decodeClientFrame,
  type CloseCodeName,
  type ReliableItem,
  type ServerFrame,
  type ViewerErrorCode,
} from '../protocol/index.js';
import type { ReliableLog } from '../reliable-log/index.js';
import type { EdgeMetrics } from './edge-metrics.js';
import type { EdgeSettings } from './edge.js';
import type { ViewerDelivery } from './delivery.js';
import { TokenBucket } from './token-bucket.js';
import type { Viewer } from './viewer.js';

/** Most reliable items one resume replays before telling the viewer to reload. */
export const MAX_RESUME_ITEMS = 10_000;
/** Reliable items per batch frame when replaying history. */
const RESUME_ITEMS_PER_FRAME = 200;

export interface ViewerInputOptions {
  delivery: ViewerDelivery;
  settings: EdgeSettings;
  ids: IdGenerator;
  log: ReliableLog;
  metrics: EdgeMetrics;
  clock: () => number;
  send: (ws: WebSocket<Viewer>, frame: ServerFrame) => void;
  close: (ws: WebSocket<Viewer>, name: CloseCodeName) => void;
}

export class ViewerInput {
  #options: ViewerInputOptions;

  constructor(options: ViewerInputOptions) {
    this.#options = options;
  }

  onMessage(
    ws: WebSocket<Viewer>,
    message: ArrayBuffer,
    isBinary: boolean,
  ): void {
    const viewer = ws.getUserData();
    const { settings, metrics } = this.#options;
    if (!isBinary) {
      this.#refuse(ws, 'bad_frame', 'frames must be binary msgpack');
      return;
    }

    const result = decodeClientFrame(
      new Uint8Array(message),
      settings.maxFrameBytes,
    );
    if (!result.ok) {
      if (result.code === 'frame_too_large') {
        metrics.refusedFrames.inc({ code: result.code });
        this.#options.send(ws, {
          t: 'error',
          code: result.code,
          message: result.message,
        });
        this.#options.close(ws, 'frameTooLarge');
        return;
      }

      this.#refuse(ws, result.code, result.message);
      return;
    }

    const frame = result.frame;
    const room = viewer.room;
    if (room === undefined) {
      return;
    }

    metrics.clientFrames.inc({ type: frame.t });
    switch (frame.t) {
      case 'ping':
        this.#options.send(ws, { t: 'pong', ts: this.#options.clock() });
        return;
      case 'ack':
        viewer.ackedSeq = Math.max(viewer.ackedSeq, frame.seq);
        return;
      case 'resume':
        void this.resume(ws, frame.seq);
        return;
      case 'chat': {
        // Made at the first chat line: most viewers never send one.
        viewer.chat ??= new TokenBucket(
          settings.chatPerSecond,
          settings.chatBurst,
          this.#options.clock,
        );
        if (!viewer.chat.take()) {
          this.#refuse(
            ws,
            'rate_limited',
            `chat is limited to ${settings.chatPerSecond} per second`,
          );
          return;
        }

        const { claims } = viewer;
        room.queueInput({
          type: 'chat',
          id: this.#options.ids.next(),
          ts: this.#options.clock(),
          from: {
            id: claims.user,
            name: claims.name,
            role: claims.role,
            level: claims.level,
          },
          text: frame.text,
        });
        return;
      }

      case 'like': {
        viewer.likes ??= new TokenBucket(
          settings.likesPerSecond,
          settings.likesBurst,
          this.#options.clock,
        );
        if (!viewer.likes.take()) {
          this.#refuse(
            ws,
            'rate_limited',
            `likes are limited to ${settings.likesPerSecond} frames per second`,
          );
          return;
        }

        const { claims } = viewer;
        room.queueLikes(
          { id: claims.user, name: claims.name },
          frame.count ?? 1,
        );
        return;
      }
    }
  }

  /**
   * Replays the reliable items after `seq` from the log, then puts the
   * viewer (back) on live delivery right after the last one replayed. Live
   * frames are held meanwhile and released through the catch-up filter, so
   * the viewer gets every reliable item once and in order (a client that
   * resumes mid-connection may get items again that it already had; it
   * drops them by seq).
   */
  async resume(ws: WebSocket<Viewer>, seq: number): Promise<void> {
    const viewer = ws.getUserData();
    const room = viewer.room;
    if (room === undefined || viewer.resuming || viewer.closed) {
      return;
    }

    const { delivery, log, metrics } = this.#options;
    viewer.resuming = true;
    delivery.hold(ws, room);
    const items: ReliableItem[] = [];
    let after = seq;
    let reload: number | undefined;
    let why = 'the missed items are no longer kept';
    try {
      for (;;) {
        const result = await log.readAfter(viewer.roomKey, after, 1000);
        if (result.kind !== 'ok') {
          // 'ahead': the viewer is past anything this room has (its history
          // was reset), so its own seq means nothing here any more.
          if (result.kind === 'ahead') {
            after = result.lastSeq;
            why = `the room has no seq ${seq} (its last is ${result.lastSeq})`;
          }

          reload = result.lastSeq;
          break;
        }

        const last = result.items.at(-1);
        if (last === undefined) {
          break;
        }

        items.push(...result.items);
        after = last.seq;
        if (items.length > MAX_RESUME_ITEMS) {
          reload = result.lastSeq;
          why = `more than ${MAX_RESUME_ITEMS} items were missed`;
          break;
        }
      }
    } catch {
      reload = Math.max(after, room.lastForwardedSeq);
      why = 'the room history could not be read';
    }

    viewer.resuming = false;
    if (viewer.closed) {
      return;
    }

    ws.cork(() => {
      if (reload === undefined) {
        for (
          let start = 0;
          start < items.length;
          start += RESUME_ITEMS_PER_FRAME
        ) {
          this.#options.send(ws, {
            t: 'batch',
            room: room.roomId,
            items: items.slice(start, start + RESUME_ITEMS_PER_FRAME),
          });
        }

        this.#options.send(ws, { t: 'control', reason: 'resumed', seq: after });
        if (delivery.release(ws, room, after)) {
          metrics.resumes.inc({ outcome: 'ok' });
          return;
        }
      }

      // Too far behind to replay: the viewer starts over from the present.
      const now = Math.max(reload ?? 0, after, room.lastForwardedSeq);
      metrics.resumes.inc({ outcome: 'reload' });
      this.#options.send(ws, {
        t: 'control',
        reason: 'reload',
        message: `${why}; reload the room state`,
        seq: now,
      });
      delivery.startLive(ws, room, now);
    });
  }

  #refuse(ws: WebSocket<Viewer>, code: ViewerErrorCode, message: string): void {
    const viewer = ws.getUserData();
    this.#options.metrics.refusedFrames.inc({ code });
    viewer.strikes++;
    this.#options.send(ws, { t: 'error', code, message });
    if (viewer.strikes >= this.#options.settings.rateLimitStrikes) {
      this.#options.close(
        ws,
        code === 'rate_limited' ? 'rateLimited' : 'badFrame',
      );
    }
  }
}
