/**
 * Slow viewers, handled on purpose: a viewer whose send buffer grows past
 * the soft bound moves to the reliable lane (and back once the buffer is
 * under half of it), and one past the hard bound is closed with
 * `slow_consumer`, which tells it to resume. The same sweep closes viewers
 * whose token expired (`token_expired`).
 *
 * Reading a socket's buffer is a native call, so a full pass every tick
 * would cost a large share of a core at 100,000+ viewers: each tick checks
 * a slice of the viewers, so that every viewer is seen once a
 * {@link SWEEP_PERIOD_MS} whatever their number.
 */
import type { WebSocket } from 'uWebSockets.js';
import type { Settings } from '../config/index.js';
import type { CloseCodeName } from '../protocol/index.js';
import type { EdgeMetrics } from './edge-metrics.js';
import type { Viewer } from './viewer.js';

/** Every viewer's send buffer and token are checked once per this period. */
const SWEEP_PERIOD_MS = 1000;

export interface SendBuffersOptions {
  /** The edge's open sockets; the sweep walks them in slices. */
  sockets: ReadonlySet<WebSocket<Viewer>>;
  settings: Pick<
    Settings,
    'tickMs' | 'softBackpressureBytes' | 'hardBackpressureBytes'
  >;
  metrics: EdgeMetrics;
  /** Moves the viewer to the other lane. */
  setLane(ws: WebSocket<Viewer>, lane: 'full' | 'reliable'): void;
  close(ws: WebSocket<Viewer>, name: CloseCodeName): void;
}

export class SendBuffers {
  #options: SendBuffersOptions;
  /** Viewers whose send buffer was not empty when last checked. */
  #pressured = new Set<WebSocket<Viewer>>();
  #sweepCursor: Iterator<WebSocket<Viewer>> | undefined;

  constructor(options: SendBuffersOptions) {
    this.#options = options;
  }

  /** The socket closed. */
  forget(ws: WebSocket<Viewer>): void {
    this.#pressured.delete(ws);
  }

  /** The `drain` handler: uWS wrote part of the socket's send buffer. */
  drain(ws: WebSocket<Viewer>): void {
    const viewer = ws.getUserData();
    if (
      viewer.lane === 'reliable' &&
      ws.getBufferedAmount() < this.#options.settings.softBackpressureBytes / 2
    ) {
      this.#options.setLane(ws, 'full');
    }
  }

  /**
   * Checks a slice of the viewers each tick so that every viewer is seen
   * once a second whatever their number: send buffer past the soft bound
   * moves it to the reliable lane, past the hard bound closes it
   * (`slow_consumer`, resume), and an expired token closes it
   * (`token_expired`).
   */
  sweep(nowMs: number): void {
    // Viewers already seen backed up are checked every tick: their buffers
    // can grow by a frame per tick, and the hard bound must be caught well
    // before uWS's own limit. Everyone else is checked in slices.
    for (const ws of this.#pressured) {
      this.#check(ws, nowMs);
    }

    const { sockets } = this.#options;
    const { tickMs } = this.#options.settings;
    let budget = Math.ceil((sockets.size * tickMs) / SWEEP_PERIOD_MS) + 1;
    while (budget-- > 0) {
      this.#sweepCursor ??= sockets.values();
      const next = this.#sweepCursor.next();
      if (next.done === true) {
        this.#sweepCursor = undefined;
        return;
      }

      this.#check(next.value, nowMs);
    }
  }

  /** One viewer's token expiry and send buffer; see {@link sweep}. */
  #check(ws: WebSocket<Viewer>, nowMs: number): void {
    const viewer = ws.getUserData();
    if (viewer.closed) {
      this.#pressured.delete(ws);
      return;
    }

    if (viewer.claims.expiresAt * 1000 <= nowMs) {
      this.#options.close(ws, 'tokenExpired');
      return;
    }

    const buffered = ws.getBufferedAmount();
    const { softBackpressureBytes, hardBackpressureBytes } =
      this.#options.settings;
    const { metrics } = this.#options;
    if (buffered === 0) {
      if (viewer.lane === 'full') {
        this.#pressured.delete(ws);
      }

      return;
    }

    this.#pressured.add(ws);
    metrics.sendBufferBytes.observe(buffered);
    if (buffered > hardBackpressureBytes) {
      metrics.slowCloses.inc();
      this.#options.close(ws, 'slowConsumer');
    } else if (buffered > softBackpressureBytes && viewer.lane === 'full') {
      this.#options.setLane(ws, 'reliable');
    }
  }
}
