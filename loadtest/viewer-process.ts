/**
 * Entry point of a simulator process (forked by {@link ViewerFleet}). It mints
 * tokens for its viewers, connects them at the planned rate, keeps them alive
 * with `ping` frames, sends a snapshot of its counters every interval, and on
 * `drain` waits until its viewers have every reliable item published, reports
 * and exits.
 */
import { DeliveryStats, bump } from './delivery-stats.js';
import type {
  CoordinatorMessage,
  DrainReport,
  WorkerMessage,
  WorkerPlan,
} from './fleet-messages.js';
import { RoomFrameCache } from './frame-summary.js';
import { AdminClient } from './admin-client.js';
import { LoadtestError } from './loadtest-error.js';
import { Viewer, type RoomTrack, type ViewerEvents } from './viewer.js';

const CONNECT_TICK_MS = 10;
/** Token requests in flight per process. */
const MAX_MINTS_IN_FLIGHT = 32;
/** How long closing viewers get to finish the close handshake. */
const CLOSE_WAIT_MS = 3000;

function send(message: WorkerMessage): void {
  process.send?.(message);
}

/** Sends and resolves once the message is handed to the IPC channel. */
function sendFlushed(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) {
      resolve();
    } else {
      process.send(message, undefined, undefined, () => resolve());
    }
  });
}

class ViewerProcess implements ViewerEvents {
  readonly stats = new DeliveryStats();
  readonly #plan: WorkerPlan;
  readonly #admin: AdminClient;
  readonly #rooms: RoomTrack[];
  readonly #viewers: Viewer[] = [];
  readonly #edge: URL;
  #started = 0;
  #mintsInFlight = 0;
  #settled = 0;
  #readySent = false;
  #behind = 0;
  #onAllCaughtUp: (() => void) | null = null;
  #ended = 0;
  #onAllEnded: (() => void) | null = null;
  #timers: NodeJS.Timeout[] = [];

  constructor(plan: WorkerPlan) {
    this.#plan = plan;
    this.#admin = new AdminClient({
      url: plan.adminUrl,
      apiKey: plan.apiKey,
      maxSockets: MAX_MINTS_IN_FLIGHT,
    });
    this.#edge = new URL(plan.edgeUrl);
    this.#rooms = plan.rooms.map((room) => ({
      id: room.id,
      cache: new RoomFrameCache(),
      finalSeq: -1,
    }));
    // Interleave rooms so every room fills at the same pace.
    const remaining = plan.rooms.map((room) => room.viewers);
    const perRoomIndex = plan.rooms.map(() => 0);
    let left = remaining.reduce((sum, n) => sum + n, 0);
    while (left > 0) {
      for (let r = 0; r < this.#rooms.length; r++) {
        if ((remaining[r] ?? 0) === 0) {
          continue;
        }

        const index = perRoomIndex[r] ?? 0;
        perRoomIndex[r] = index + 1;
        remaining[r] = (remaining[r] ?? 0) - 1;
        left -= 1;
        const sampled = plan.sampleEvery > 0 && index % plan.sampleEvery === 0;
        this.#viewers.push(
          new Viewer(this.#rooms[r] as RoomTrack, sampled, this),
        );
      }
    }
  }

  start(): void {
    const startMs = Date.now();
    const connectTimer = setInterval(() => {
      const due = Math.min(
        this.#viewers.length,
        Math.floor(
          ((Date.now() - startMs) * this.#plan.connectPerSecond) / 1000,
        ),
      );
      while (this.#started < due && this.#mintsInFlight < MAX_MINTS_IN_FLIGHT) {
        this.#startViewer(this.#started);
        this.#started += 1;
      }

      if (this.#started === this.#viewers.length) {
        clearInterval(connectTimer);
      }
    }, CONNECT_TICK_MS);
    this.#timers.push(connectTimer);
    this.#startPings();
    this.#checkReady();
  }

  async drain(
    finalSeqs: Record<string, number>,
    timeoutMs: number,
    graceMs: number,
  ): Promise<void> {
    for (const room of this.#rooms) {
      room.finalSeq = finalSeqs[room.id] ?? 0;
    }

    this.#behind = 0;
    for (const viewer of this.#viewers) {
      if (viewer.isOpen && viewer.welcomed && !viewer.caughtUp) {
        this.#behind += 1;
      }
    }

    const caughtUp = new Promise<void>((resolve) => {
      this.#onAllCaughtUp = resolve;
    });
    for (const viewer of this.#viewers) {
      viewer.checkCaughtUp();
    }

    if (this.#behind === 0) {
      this.#onAllCaughtUp = null;
    } else {
      await Promise.race([caughtUp, delay(timeoutMs)]);
    }

    await delay(graceMs);
    const report = this.#drainReport();
    await sendFlushed({
      type: 'drained',
      report,
      snapshot: this.stats.takeSnapshot(this.#plan.worker, -1),
    });
    await this.#closeAll();
  }

  snapshot(index: number): void {
    send({
      type: 'snapshot',
      snapshot: this.stats.takeSnapshot(this.#plan.worker, index),
    });
  }

  onWelcomed(): void {
    this.#settle();
  }

  onCaughtUp(): void {
    if (this.#onAllCaughtUp === null) {
      return;
    }

    this.#behind -= 1;
    if (this.#behind === 0) {
      this.#onAllCaughtUp();
      this.#onAllCaughtUp = null;
    }
  }

  onEnded(viewer: Viewer): void {
    if (!viewer.welcomed) {
      this.#settle();
    } else if (
      this.#onAllCaughtUp !== null &&
      !viewer.caughtUp &&
      this.#behind > 0
    ) {
      // A viewer that leaves during the drain is no longer waited for.
      this.onCaughtUp();
    }

    this.#ended += 1;
    if (this.#ended === this.#viewers.length) {
      this.#onAllEnded?.();
    }
  }

  #settle(): void {
    this.#settled += 1;
    this.#checkReady();
  }

  #checkReady(): void {
    if (this.#readySent || this.#settled < this.#viewers.length) {
      return;
    }

    this.#readySent = true;
    const connections = this.stats.connections;
    send({
      type: 'ready',
      welcomed: connections.welcomed,
      failed: this.#viewers.length - connections.welcomed,
    });
  }

  #startViewer(index: number): void {
    const viewer = this.#viewers[index] as Viewer;
    const user = `${this.#plan.userPrefix}-${this.#plan.worker}-${index}`;
    const addresses = this.#plan.localAddresses;
    this.#mintsInFlight += 1;
    this.#admin
      .mintToken(viewer.room.id, user, `viewer ${index}`)
      .then(
        (token) => {
          viewer.connect({
            host: this.#edge.hostname,
            port: Number(this.#edge.port || 80),
            path: `${this.#edge.pathname}?token=${encodeURIComponent(token)}`,
            ...(addresses.length === 0
              ? {}
              : { localAddress: addresses[index % addresses.length] }),
            connectTimeoutMs: this.#plan.connectTimeoutMs,
          });
        },
        (error: unknown) => {
          this.stats.connections.attempted += 1;
          bump(
            this.stats.connections.failed,
            error instanceof LoadtestError ? `token_${error.code}` : 'token',
          );
          this.onEnded(viewer);
        },
      )
      .finally(() => {
        this.#mintsInFlight -= 1;
      });
  }

  /** Pings each viewer once per interval, spread evenly over the interval. */
  #startPings(): void {
    const slots = Math.max(1, Math.round(this.#plan.pingIntervalMs / 1000));
    let tick = 0;
    this.#timers.push(
      setInterval(() => {
        const slot = tick % slots;
        tick += 1;
        for (let i = slot; i < this.#viewers.length; i += slots) {
          const viewer = this.#viewers[i] as Viewer;
          if (viewer.isOpen) {
            viewer.ping();
          }
        }
      }, 1000),
    );
  }

  #drainReport(): DrainReport {
    const report: DrainReport = {
      expected: 0,
      caughtUp: 0,
      behind: 0,
      missingAtEnd: 0,
      gone: 0,
      missedWhileGone: 0,
    };
    for (const viewer of this.#viewers) {
      const missing = Math.max(0, viewer.room.finalSeq - viewer.lastSeq);
      if (!viewer.isOpen || !viewer.welcomed) {
        report.gone += 1;
        if (viewer.welcomed) {
          report.missedWhileGone += missing;
        }
        continue;
      }

      report.expected += Math.max(0, viewer.room.finalSeq - viewer.welcomeSeq);
      if (missing === 0) {
        report.caughtUp += 1;
      } else {
        report.behind += 1;
        report.missingAtEnd += missing;
      }
    }

    return report;
  }

  async #closeAll(): Promise<void> {
    for (const timer of this.#timers) {
      clearInterval(timer);
    }

    const allEnded = new Promise<void>((resolve) => {
      this.#onAllEnded = resolve;
    });
    if (this.#ended === this.#viewers.length) {
      this.#onAllEnded = null;
    } else {
      for (const viewer of this.#viewers) {
        viewer.close();
      }

      await Promise.race([allEnded, delay(CLOSE_WAIT_MS)]);
      for (const viewer of this.#viewers) {
        viewer.destroy();
      }
    }

    this.#admin.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let running: ViewerProcess | null = null;

process.on('message', (message: CoordinatorMessage) => {
  if (message.type === 'start' && running === null) {
    running = new ViewerProcess(message.plan);
    running.start();
  } else if (message.type === 'tick' && running !== null) {
    running.snapshot(message.index);
  } else if (message.type === 'drain' && running !== null) {
    running.drain(message.finalSeqs, message.timeoutMs, message.graceMs).then(
      () => process.disconnect(),
      (error: unknown) => {
        send({ type: 'failed', message: String(error) });
        process.disconnect();
      },
    );
  }
});

// The coordinator went away: nothing is left to report to.
process.on('disconnect', () => {
  process.exit(0);
});
