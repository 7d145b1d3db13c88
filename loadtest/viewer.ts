/**
 * One simulated viewer: a lean WebSocket, the last reliable seq it saw, and
 * nothing else of its own. What it receives is counted in the process-wide
 * {@link DeliveryStats}.
 *
 * Every viewer checks its reliable seqs: a seq past the next expected one
 * counts the skipped items as lost, a seq at or below the last one counts as
 * duplicated. Most viewers get a frame's seqs from the room's frame cache; a
 * sampled viewer decodes every frame itself (an independent check of the
 * cache) and records the latency of every item that carries a send time.
 */
import { encodeValue } from '../protocol/index.js';
import type { DeliveryStats } from './delivery-stats.js';
import { bump } from './delivery-stats.js';
import {
  decodeFrame,
  summarizeDecoded,
  type FrameSummary,
  type RoomFrameCache,
} from './frame-summary.js';
import {
  LeanWebSocket,
  type ConnectFailure,
  type LeanConnectOptions,
  type LeanSocketHandler,
} from './lean-websocket.js';
import { nowMs, sendTimeOf } from './send-time.js';

/** A room as the viewers of one process track it. */
export interface RoomTrack {
  id: string;
  cache: RoomFrameCache;
  /** The room's last published seq once publishing has ended; -1 before. */
  finalSeq: number;
}

/** What a viewer reports to the process that holds it. */
export interface ViewerEvents {
  readonly stats: DeliveryStats;
  onWelcomed(viewer: Viewer): void;
  /** The viewer has every reliable item up to the room's final seq. */
  onCaughtUp(viewer: Viewer): void;
  /** The connection failed to open, or closed after opening. */
  onEnded(viewer: Viewer): void;
}

const PING_FRAME = encodeValue({ t: 'ping' });

/** Largest message a viewer accepts; roomcast batches are far smaller. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export class Viewer implements LeanSocketHandler {
  readonly room: RoomTrack;
  readonly sampled: boolean;
  readonly #events: ViewerEvents;
  readonly #socket: LeanWebSocket;
  #lastSeq = -1;
  #welcomeSeq = -1;
  #connectStartMs = 0;
  #welcomed = false;
  #caughtUp = false;
  #ended = false;

  constructor(room: RoomTrack, sampled: boolean, events: ViewerEvents) {
    this.room = room;
    this.sampled = sampled;
    this.#events = events;
    this.#socket = new LeanWebSocket(this, MAX_MESSAGE_BYTES);
  }

  /** The last reliable seq seen; -1 before the welcome frame. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** The room's seq when this viewer joined; -1 before the welcome frame. */
  get welcomeSeq(): number {
    return this.#welcomeSeq;
  }

  get isOpen(): boolean {
    return this.#socket.isOpen;
  }

  get welcomed(): boolean {
    return this.#welcomed;
  }

  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  connect(options: LeanConnectOptions): void {
    this.#connectStartMs = nowMs();
    this.#events.stats.connections.attempted += 1;
    this.#socket.connect(options);
  }

  ping(): void {
    this.#socket.send(PING_FRAME);
  }

  send(frame: Uint8Array): boolean {
    return this.#socket.send(frame);
  }

  close(): void {
    this.#socket.close();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Re-checks against the room's final seq, once it is known. */
  checkCaughtUp(): void {
    const finalSeq = this.room.finalSeq;
    if (
      !this.#caughtUp &&
      this.#welcomed &&
      finalSeq >= 0 &&
      this.#lastSeq >= finalSeq
    ) {
      this.#caughtUp = true;
      this.#events.onCaughtUp(this);
    }
  }

  onOpen(): void {
    const connections = this.#events.stats.connections;
    connections.opened += 1;
    connections.open += 1;
  }

  onConnectFailed(
    failure: ConnectFailure,
    _detail: string,
    status: number,
  ): void {
    bump(
      this.#events.stats.connections.failed,
      status > 0 ? `${failure}_${status}` : failure,
    );
    this.#end();
  }

  onClose(code: number): void {
    const connections = this.#events.stats.connections;
    connections.open -= 1;
    bump(connections.closed, String(code));
    this.#end();
  }

  onMessage(payload: Buffer): void {
    const stats = this.#events.stats;
    const delivery = stats.delivery;
    delivery.frames += 1;
    delivery.bytes += payload.length;
    let summary: FrameSummary;
    let decoded: unknown = null;
    if (this.sampled) {
      decoded = decodeFrame(payload);
      summary = summarizeDecoded(decoded);
    } else {
      summary = this.room.cache.summarize(payload, delivery);
    }

    switch (summary.kind) {
      case 'batch':
        this.#onBatch(summary);
        if (decoded !== null) {
          this.#recordLatencies(decoded);
        }

        this.checkCaughtUp();
        return;
      case 'welcome':
        if (!this.#welcomed) {
          this.#welcomed = true;
          this.#lastSeq = summary.seq;
          this.#welcomeSeq = summary.seq;
          stats.connections.welcomed += 1;
          stats.recordConnectLatency(nowMs() - this.#connectStartMs);
          this.#events.onWelcomed(this);
          this.checkCaughtUp();
        }

        return;
      case 'control':
        bump(stats.connections.controls, summary.reason);
        return;
      case 'error':
        bump(stats.connections.errors, summary.reason);
        return;
      default:
        return;
    }
  }

  #onBatch(summary: FrameSummary): void {
    const delivery = this.#events.stats.delivery;
    delivery.batchFrames += 1;
    delivery.likes += summary.likes;
    const items = delivery.items;
    for (let i = 0; i < summary.counts.length; i++) {
      items[i] = (items[i] ?? 0) + (summary.counts[i] ?? 0);
    }

    const seqs = summary.seqs;
    delivery.reliable += seqs.length;
    let last = this.#lastSeq;
    for (const seq of seqs) {
      if (seq > last + 1 && last >= 0) {
        delivery.gapLost += seq - last - 1;
      } else if (seq <= last) {
        delivery.duplicated += 1;
        continue;
      }

      last = seq;
    }

    this.#lastSeq = last;
  }

  #recordLatencies(decoded: unknown): void {
    const items = (decoded as { items?: unknown }).items;
    if (!Array.isArray(items)) {
      return;
    }

    const now = nowMs();
    const stats = this.#events.stats;
    for (const raw of items as unknown[]) {
      if (typeof raw !== 'object' || raw === null) {
        continue;
      }

      const item = raw as Record<string, unknown>;
      const sentMs = sendTimeOf(item);
      if (sentMs < 0) {
        continue;
      }

      if (typeof item['seq'] === 'number') {
        stats.recordReliableLatency(now - sentMs);
      } else if (item['type'] === 'chat') {
        stats.recordChatLatency(now - sentMs);
      }
    }
  }

  #end(): void {
    if (!this.#ended) {
      this.#ended = true;
      this.#events.onEnded(this);
    }
  }
}
