/**
 * One simulated viewer: a lean WebSocket, the last reliable seq it saw, and
 * little else of its own. What it receives is counted in the process-wide
 * {@link DeliveryStats}.
 *
 * Every viewer checks its reliable seqs: a seq past the next expected one
 * counts the skipped items as lost, a seq at or below the last one counts as
 * duplicated. Most viewers get a frame's seqs from the room's frame cache; a
 * sampled viewer decodes every frame itself (an independent check of the
 * cache) and records the latency of every item that carries a send time.
 *
 * A viewer that reconnects asks for `resume=<last seq>`: the edge replays what
 * it missed, exactly once and in order, so the seq check runs on unchanged
 * across connections. A `reload` control (history no longer holds the seqs
 * asked for) moves the viewer to the room's position and counts the skipped
 * seqs apart from loss.
 */
import { encodeValue } from '../protocol/index.js';
import type { DeliveryStats } from './delivery-stats.js';
import { bump } from './delivery-stats.js';
import {
  decodeFrame,
  summarizeDecoded,
  unwrapFrame,
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
import type { SourcePorts } from './source-ports.js';

/** A room as the viewers of one process track it. */
export interface RoomTrack {
  id: string;
  cache: RoomFrameCache;
  /** The room's last published seq once publishing has ended; -1 before. */
  finalSeq: number;
}

/**
 * How frames travel: roomcast's own binary frames, or Socket.IO (msgpack
 * parser) carrying the same frames as `frame` events, for that baseline.
 */
export type WireProtocol = 'roomcast' | 'socketio';

/** What a viewer reports to the process that holds it. */
export interface ViewerEvents {
  readonly stats: DeliveryStats;
  readonly protocol: WireProtocol;
  /** Source ports to bind on the viewer's source address (source-ports.ts). */
  readonly sourcePorts?: SourcePorts;
  onWelcomed(viewer: Viewer): void;
  /** The viewer has every reliable item up to the room's final seq. */
  onCaughtUp(viewer: Viewer): void;
  /**
   * The connection failed to open (`code` -1) or closed after opening. The
   * process decides whether the viewer comes back.
   */
  onEnded(viewer: Viewer, code: number): void;
  /** A reliable seq out of order: a gap (`seq` past `lastSeq + 1`) or a duplicate. */
  onSeqAnomaly(
    viewer: Viewer,
    kind: 'gap' | 'duplicate',
    seq: number,
    lastSeq: number,
  ): void;
}

const PING_FRAME = encodeValue({ t: 'ping' });
/** Socket.IO CONNECT to the main namespace, msgpack parser encoding. */
const SOCKETIO_CONNECT = encodeValue({ type: 0, nsp: '/' });

/** Reconnect backoff when the server advised none. */
const DEFAULT_BACKOFF = { baseMs: 500, maxMs: 10_000 };

/** Source ports tried in a row when each is still held (EADDRINUSE). */
const MAX_PORT_TRIES = 20;

/** Largest message a viewer accepts; roomcast batches are far smaller. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export class Viewer implements LeanSocketHandler {
  readonly room: RoomTrack;
  readonly sampled: boolean;
  /** Bytes per second this viewer reads at most; 0 for no limit. */
  readonly readBytesPerSecond: number;
  readonly #events: ViewerEvents;
  #socket: LeanWebSocket;
  #connect: LeanConnectOptions | null = null;
  #lastSeq = -1;
  #welcomeSeq = -1;
  #connectStartMs = 0;
  #welcomed = false;
  #connected = false;
  #caughtUp = false;
  #readBudget = 0;
  #paused = false;
  #backoff = DEFAULT_BACKOFF;
  /** Reconnect attempts since the last welcome. */
  #attempts = 0;
  /** Source ports found held for the connection being opened. */
  #portTries = 0;
  /** What the connection being opened was opened with (its resume too). */
  #opening: LeanConnectOptions | null = null;
  #reconnects = 0;

  constructor(
    room: RoomTrack,
    sampled: boolean,
    readBytesPerSecond: number,
    events: ViewerEvents,
  ) {
    this.room = room;
    this.sampled = sampled;
    this.readBytesPerSecond = readBytesPerSecond;
    this.#events = events;
    this.#socket = new LeanWebSocket(this, MAX_MESSAGE_BYTES);
  }

  /** The last reliable seq seen; -1 before the first welcome frame. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Connections opened after the first: reconnects so far. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** The room's seq at this viewer's first welcome; -1 before it. */
  get welcomeSeq(): number {
    return this.#welcomeSeq;
  }

  get isOpen(): boolean {
    return this.#socket.isOpen;
  }

  /** Welcomed at least once. */
  get welcomed(): boolean {
    return this.#welcomed;
  }

  /** Welcomed on the current connection. */
  get connected(): boolean {
    return this.#connected && this.#socket.isOpen;
  }

  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  /** First connection; the options are kept for reconnecting. */
  connect(options: LeanConnectOptions): void {
    this.#connect = options;
    this.#open(options);
  }

  /**
   * Tries the first connection again after it failed (the retry waits
   * {@link nextReconnectDelayMs} first); false when there is nothing to
   * retry with (the token was never minted).
   */
  retryConnect(): boolean {
    const options = this.#connect;
    if (options === null || this.#welcomed) {
      return false;
    }

    this.#socket = new LeanWebSocket(this, MAX_MESSAGE_BYTES);
    this.#open(options);
    return true;
  }

  /** Counts a failed first connect toward the backoff of the next try. */
  failedAttempt(): void {
    this.#attempts += 1;
  }

  /**
   * How long to wait before the next reconnect: full jitter over the
   * backoff the server advised in its welcome, doubling per failed attempt.
   */
  nextReconnectDelayMs(): number {
    const capMs = Math.min(
      this.#backoff.maxMs,
      this.#backoff.baseMs * 2 ** Math.min(this.#attempts, 16),
    );
    return Math.random() * capMs;
  }

  /**
   * Reconnects to another edge from now on (same path and token), as a
   * client behind a load balancer does when its edge is gone.
   */
  moveTo(host: string, port: number): void {
    if (this.#connect !== null) {
      this.#connect = { ...this.#connect, host, port };
    }
  }

  /** The edge this viewer connects to, `host:port`; '' before the first. */
  get edge(): string {
    return this.#connect === null
      ? ''
      : `${this.#connect.host}:${this.#connect.port}`;
  }

  /** Connects again, asking the edge to replay what was missed. */
  reconnect(): void {
    const options = this.#connect;
    if (options === null) {
      return;
    }

    this.#socket = new LeanWebSocket(this, MAX_MESSAGE_BYTES);
    this.#paused = false;
    this.#attempts += 1;
    this.#reconnects += 1;
    const resume =
      this.#lastSeq >= 0
        ? `${options.path.includes('?') ? '&' : '?'}resume=${this.#lastSeq}`
        : '';
    this.#events.stats.connections.reconnects += 1;
    this.#open({ ...options, path: options.path + resume });
  }

  /** Keeps the connection alive; Engine.IO's heartbeat is the server's. */
  ping(): void {
    if (this.#events.protocol === 'roomcast') {
      this.#socket.send(PING_FRAME);
    }
  }

  /** Sends a client frame; the Socket.IO baseline takes none. */
  send(frame: Uint8Array): boolean {
    return this.#events.protocol === 'roomcast' && this.#socket.send(frame);
  }

  close(): void {
    this.#socket.close();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Refills a slow reader's budget for `elapsedMs` and reads on if it can. */
  refillReadBudget(elapsedMs: number): void {
    const cap = this.readBytesPerSecond / 10;
    this.#readBudget = Math.min(
      cap,
      this.#readBudget + (this.readBytesPerSecond * elapsedMs) / 1000,
    );
    if (this.#paused && this.#readBudget > 0) {
      this.#paused = false;
      this.#socket.resume();
    }
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
    detail: string,
    status: number,
  ): void {
    const options = this.#opening;
    if (
      detail === 'EADDRINUSE' &&
      options !== null &&
      this.#events.sourcePorts !== undefined &&
      this.#portTries < MAX_PORT_TRIES
    ) {
      // The simulator's own doing (a source port still held), not the
      // service's: the next port, at once, uncounted.
      this.#portTries += 1;
      this.#socket = new LeanWebSocket(this, MAX_MESSAGE_BYTES);
      this.#bind(options);
      return;
    }

    let key: string = failure;
    if (status > 0) {
      key = `${failure}_${status}`;
    } else if (failure === 'socket_error' && /^E[A-Z]+$/.test(detail)) {
      key = `${failure}_${detail}`;
    }

    // A viewer that was in before and fails to come back is told apart
    // from one that never got in.
    bump(
      this.#events.stats.connections.failed,
      this.#welcomed ? `reconnect_${key}` : key,
    );
    this.#events.onEnded(this, -1);
  }

  onClose(code: number): void {
    const connections = this.#events.stats.connections;
    connections.open -= 1;
    this.#connected = false;
    bump(connections.closed, String(code));
    if (!this.#welcomed) {
      // Opened but closed before its welcome: it never got in, so it is a
      // failed connect too (as the progress line already counts it).
      bump(connections.failed, `closed_before_welcome_${code}`);
    }

    this.#events.onEnded(this, code);
  }

  onMessage(payload: Buffer, isBinary: boolean): void {
    if (!isBinary && this.#events.protocol === 'socketio') {
      this.#onEngineIo(payload);
      return;
    }

    const stats = this.#events.stats;
    const delivery = stats.delivery;
    delivery.frames += 1;
    delivery.bytes += payload.length;
    if (this.readBytesPerSecond > 0) {
      this.#readBudget -= payload.length;
      if (this.#readBudget <= 0 && !this.#paused) {
        this.#paused = true;
        this.#socket.pause();
      }
    }

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
        this.#onWelcome(summary);
        return;
      case 'control':
        bump(stats.connections.controls, summary.reason);
        if (summary.reason === 'reload' && summary.seq >= 0) {
          delivery.reloadSkipped += Math.max(0, summary.seq - this.#lastSeq);
          this.#lastSeq = summary.seq;
          this.checkCaughtUp();
        }

        return;
      case 'error':
        bump(stats.connections.errors, summary.reason);
        return;
      default:
        return;
    }
  }

  /** Engine.IO text packets: open (then join the namespace) and ping. */
  #onEngineIo(payload: Buffer): void {
    const type = payload[0];
    if (type === 0x30) {
      this.#socket.send(SOCKETIO_CONNECT);
    } else if (type === 0x32) {
      this.#socket.sendText('3');
    }
  }

  #open(options: LeanConnectOptions): void {
    this.#connectStartMs = nowMs();
    this.#events.stats.connections.attempted += 1;
    this.#portTries = 0;
    this.#opening = options;
    this.#bind(options);
  }

  /** Connects from the next source port when there is a port picker. */
  #bind(options: LeanConnectOptions): void {
    const ports = this.#events.sourcePorts;
    this.#socket.connect(
      ports === undefined || options.localAddress === undefined
        ? options
        : { ...options, localPort: ports.next(options.localAddress) },
    );
  }

  #onWelcome(summary: FrameSummary): void {
    const stats = this.#events.stats;
    this.#connected = true;
    this.#attempts = 0;
    if (summary.backoffBaseMs > 0 && summary.backoffMaxMs > 0) {
      this.#backoff = {
        baseMs: summary.backoffBaseMs,
        maxMs: summary.backoffMaxMs,
      };
    }

    stats.recordConnectLatency(nowMs() - this.#connectStartMs);
    if (this.#welcomed) {
      // A reconnect: the seq check carries on from the last seq seen.
      stats.connections.rewelcomed += 1;
      return;
    }

    this.#welcomed = true;
    this.#lastSeq = summary.seq;
    this.#welcomeSeq = summary.seq;
    stats.connections.welcomed += 1;
    this.#events.onWelcomed(this);
    this.checkCaughtUp();
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
        this.#events.onSeqAnomaly(this, 'gap', seq, last);
      } else if (seq <= last) {
        delivery.duplicated += 1;
        this.#events.onSeqAnomaly(this, 'duplicate', seq, last);
        continue;
      }

      last = seq;
    }

    this.#lastSeq = last;
  }

  #recordLatencies(decoded: unknown): void {
    const frame = unwrapFrame(decoded);
    if (typeof frame !== 'object' || frame === null) {
      return;
    }

    const items = (frame as { items?: unknown }).items;
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
}
