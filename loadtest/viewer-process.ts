/**
 * Entry point of a simulator process (forked by {@link ViewerFleet}). It mints
 * tokens for its viewers, connects them at the planned rate, keeps them alive
 * with `ping` frames, runs the viewers' own behaviour (slow reading, chat and
 * likes, churn, chaos), answers each tick with a snapshot of its counters,
 * and on `drain` waits until its viewers have every reliable item published,
 * reports and exits.
 *
 * Timers are per process, never per viewer: one ticker each for connecting,
 * pinging (a slice of the viewers per second), refilling slow readers and
 * the viewers' own traffic.
 */
import { closeCodeByNumber, encodeValue } from '../protocol/index.js';
import { SourcePorts } from './source-ports.js';
import { AdminClient } from './admin-client.js';
import { DeliveryStats, bump } from './delivery-stats.js';
import type {
  CoordinatorMessage,
  DrainReport,
  ViewerChaos,
  WorkerMessage,
  WorkerPlan,
} from './fleet-messages.js';
import { RoomFrameCache } from './frame-summary.js';
import { LoadtestError } from './loadtest-error.js';
import { chatText, nowMs } from './send-time.js';
import {
  Viewer,
  type RoomTrack,
  type ViewerEvents,
  type WireProtocol,
} from './viewer.js';

const CONNECT_TICK_MS = 10;
const TRAFFIC_TICK_MS = 100;
/** Token requests in flight per process. */
const MAX_MINTS_IN_FLIGHT = 32;
/** How long closing viewers get to finish the close handshake. */
const CLOSE_WAIT_MS = 3000;
const LIKE_FRAME = encodeValue({ t: 'like', count: 1 });
/** Gaps and duplicates described in the report, per process. */
const MAX_ANOMALY_EXAMPLES = 10;

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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class ViewerProcess implements ViewerEvents {
  readonly stats = new DeliveryStats();
  readonly protocol: WireProtocol;
  readonly sourcePorts = new SourcePorts();
  readonly #plan: WorkerPlan;
  readonly #admin: AdminClient;
  readonly #rooms: RoomTrack[];
  readonly #viewers: Viewer[] = [];
  readonly #slow: Viewer[] = [];
  readonly #edges: URL[];
  /** Viewers that will not come back: failed, aborted, or told never to. */
  readonly #gone = new Set<Viewer>();
  /** Viewers whose connection the scenario aborted for good. */
  readonly #aborted = new Set<Viewer>();
  /** Viewers this process closed on purpose and will reconnect at once. */
  readonly #leaving = new Set<Viewer>();
  #started = 0;
  #mintsInFlight = 0;
  #settled = 0;
  #readySent = false;
  /** Until when failed first connects are tried again (see the plan). */
  #retryUntilMs = 0;
  #behind = 0;
  #onAllCaughtUp: (() => void) | null = null;
  #onAllEnded: (() => void) | null = null;
  #closing = false;
  #timers: NodeJS.Timeout[] = [];
  #trafficTimer: NodeJS.Timeout | null = null;
  readonly #anomalous = new Set<Viewer>();
  readonly #anomalyExamples: string[] = [];
  #cursor = 0;

  constructor(plan: WorkerPlan) {
    this.#plan = plan;
    this.protocol = plan.protocol;
    this.#admin = new AdminClient({
      url: plan.adminUrl,
      apiKey: plan.apiKey,
      maxSockets: MAX_MINTS_IN_FLIGHT,
    });
    this.#edges = plan.edgeUrls.map((url) => new URL(url));
    this.#rooms = plan.rooms.map((room) => ({
      id: room.id,
      cache: new RoomFrameCache(),
      finalSeq: -1,
    }));
    const slowEvery =
      plan.slowShare > 0 ? Math.max(1, Math.round(1 / plan.slowShare)) : 0;
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
        // Offset by one so the sampled viewers are fast readers.
        const slow = slowEvery > 0 && (index + 1) % slowEvery === 0;
        const viewer = new Viewer(
          this.#rooms[r] as RoomTrack,
          sampled,
          slow ? plan.slowBytesPerSecond : 0,
          this,
        );
        this.#viewers.push(viewer);
        if (slow) {
          this.#slow.push(viewer);
        }
      }
    }
  }

  start(): void {
    const startMs = Date.now();
    this.#retryUntilMs = startMs + this.#plan.retryConnectsForMs;
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
    if (this.#slow.length > 0) {
      this.#timers.push(
        setInterval(() => {
          for (const viewer of this.#slow) {
            viewer.refillReadBudget(TRAFFIC_TICK_MS);
          }
        }, TRAFFIC_TICK_MS),
      );
    }

    this.#checkReady();
  }

  /** Starts the viewers' own traffic: chat, likes and churn. */
  startTraffic(): void {
    const plan = this.#plan;
    if (plan.chatPerSecond + plan.likesPerSecond + plan.churnPerSecond === 0) {
      return;
    }

    const startMs = Date.now();
    let chats = 0;
    let likes = 0;
    let churned = 0;
    this.#trafficTimer = setInterval(() => {
      const elapsedMs = Date.now() - startMs;
      const due = (perSecond: number): number =>
        Math.floor((elapsedMs * perSecond) / 1000);
      for (; chats < due(plan.chatPerSecond); chats++) {
        const viewer = this.#nextConnected();
        if (
          viewer?.send(
            encodeValue({ t: 'chat', text: chatText(nowMs(), plan.chatBytes) }),
          ) === true
        ) {
          this.stats.delivery.chatSent += 1;
        }
      }

      for (; likes < due(plan.likesPerSecond); likes++) {
        if (this.#nextConnected()?.send(LIKE_FRAME) === true) {
          this.stats.delivery.likesSent += 1;
        }
      }

      for (; churned < due(plan.churnPerSecond); churned++) {
        const viewer = this.#nextConnected();
        if (viewer !== undefined) {
          this.#leaving.add(viewer);
          viewer.close();
        }
      }
    }, TRAFFIC_TICK_MS);
  }

  chaos(action: ViewerChaos, share: number): void {
    const every = share > 0 ? Math.max(1, Math.round(1 / share)) : 0;
    if (every === 0) {
      return;
    }

    for (let i = 0; i < this.#viewers.length; i += every) {
      const viewer = this.#viewers[i] as Viewer;
      if (!viewer.connected) {
        continue;
      }

      if (action === 'reconnect-storm') {
        this.#leaving.add(viewer);
      } else {
        this.#gone.add(viewer);
        this.#aborted.add(viewer);
      }

      viewer.destroy();
    }
  }

  async drain(
    finalSeqs: Record<string, number>,
    timeoutMs: number,
    graceMs: number,
  ): Promise<void> {
    if (this.#trafficTimer !== null) {
      clearInterval(this.#trafficTimer);
    }

    for (const room of this.#rooms) {
      room.finalSeq = finalSeqs[room.id] ?? 0;
    }

    this.#behind = 0;
    for (const viewer of this.#viewers) {
      if (this.#awaited(viewer)) {
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
      this.#onAllCaughtUp = null;
    }

    await delay(graceMs);
    for (const timer of this.#timers) {
      clearInterval(timer);
    }

    this.#closing = true;
    await sendFlushed({
      type: 'drained',
      report: this.#drainReport(),
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
    this.#notBehind();
  }

  onEnded(viewer: Viewer, code: number): void {
    if (this.#closing) {
      this.#checkAllEnded();
      return;
    }

    if (!viewer.welcomed) {
      if (this.#retryingConnects()) {
        this.#retryLater(viewer, () => {
          if (!viewer.retryConnect()) {
            this.onEnded(viewer, -1);
          }
        });
        return;
      }

      // Never got in: a failed first connection is final.
      this.#markGone(viewer);
      this.#settle();
      return;
    }

    if (this.#leaving.delete(viewer)) {
      viewer.reconnect();
      return;
    }

    if (this.#gone.has(viewer)) {
      this.#markGone(viewer);
      return;
    }

    const advice = code < 0 ? 'backoff' : closeCodeByNumber(code)?.advice;
    if (
      this.#plan.reconnect &&
      (code === 1006 || (advice !== undefined && advice !== 'never'))
    ) {
      if (code < 0) {
        // The edge could not be reached: try another one next time.
        this.#moveToAnotherEdge(viewer);
      }

      setTimeout(() => {
        if (!this.#closing) {
          viewer.reconnect();
        }
      }, viewer.nextReconnectDelayMs());
      return;
    }

    this.#markGone(viewer);
  }

  onSeqAnomaly(
    viewer: Viewer,
    kind: 'gap' | 'duplicate',
    seq: number,
    lastSeq: number,
  ): void {
    this.#anomalous.add(viewer);
    if (this.#anomalyExamples.length < MAX_ANOMALY_EXAMPLES) {
      this.#anomalyExamples.push(
        `${kind}: room ${viewer.room.id} seq ${seq} after seq ${lastSeq}, ` +
          `viewer ${this.#plan.worker}-${this.#viewers.indexOf(viewer)} ` +
          `on connection ${viewer.reconnects + 1}${viewer.sampled ? ' (sampled)' : ''}`,
      );
    }
  }

  /** A viewer the drain waits for: in the run, and not yet caught up. */
  #awaited(viewer: Viewer): boolean {
    return viewer.welcomed && !this.#gone.has(viewer) && !viewer.caughtUp;
  }

  #markGone(viewer: Viewer): void {
    const wasAwaited = this.#awaited(viewer);
    this.#gone.add(viewer);
    if (wasAwaited) {
      this.#notBehind();
    }
  }

  #notBehind(): void {
    if (this.#onAllCaughtUp === null) {
      return;
    }

    this.#behind -= 1;
    if (this.#behind <= 0) {
      this.#onAllCaughtUp();
      this.#onAllCaughtUp = null;
    }
  }

  /** Round-robin over the viewers, skipping ones not connected. */
  #nextConnected(): Viewer | undefined {
    let tries = this.#viewers.length;
    while (tries > 0) {
      tries -= 1;
      this.#cursor = (this.#cursor + 1) % this.#viewers.length;
      const viewer = this.#viewers[this.#cursor];
      if (viewer?.connected === true) {
        return viewer;
      }
    }

    return undefined;
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

  #moveToAnotherEdge(viewer: Viewer): void {
    const others = this.#edges
      .map(hostAndPort)
      .filter(({ host, port }) => `${host}:${port}` !== viewer.edge);
    const next = others[Math.floor(Math.random() * others.length)];
    if (next !== undefined) {
      viewer.moveTo(next.host, next.port);
    }
  }

  /** Runs `again` after the viewer's backoff, unless the process is closing. */
  #retryLater(viewer: Viewer, again: () => void): void {
    viewer.failedAttempt();
    setTimeout(() => {
      if (!this.#closing) {
        again();
      }
    }, viewer.nextReconnectDelayMs());
  }

  /** Whether a failed first connect is tried again now (`arrival.retry`). */
  #retryingConnects(): boolean {
    return Date.now() < this.#retryUntilMs;
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
          const edge = this.#edges[index % this.#edges.length] as URL;
          viewer.connect({
            ...hostAndPort(edge),
            path:
              `${edge.pathname}${edge.search}` +
              `${edge.search === '' ? '?' : '&'}token=${encodeURIComponent(token)}`,
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
          if (this.#retryingConnects() && !this.#closing) {
            this.#retryLater(viewer, () => this.#startViewer(index));
            return;
          }

          this.onEnded(viewer, -1);
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
      aborted: this.#aborted.size,
      neverConnected: 0,
      unreported: 0,
      missedWhileGone: 0,
      viewersWithAnomalies: this.#anomalous.size,
      anomalyExamples: [...this.#anomalyExamples],
    };
    for (const viewer of this.#viewers) {
      const missing = Math.max(0, viewer.room.finalSeq - viewer.lastSeq);
      if (!viewer.connected) {
        report.gone += 1;
        if (!viewer.welcomed) {
          report.neverConnected += 1;
        }

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

  #checkAllEnded(): void {
    if (this.#onAllEnded !== null && this.#viewers.every((v) => !v.isOpen)) {
      this.#onAllEnded();
      this.#onAllEnded = null;
    }
  }

  async #closeAll(): Promise<void> {
    const allEnded = new Promise<void>((resolve) => {
      this.#onAllEnded = resolve;
    });
    for (const viewer of this.#viewers) {
      if (viewer.isOpen) {
        viewer.close();
      }
    }

    this.#checkAllEnded();
    await Promise.race([allEnded, delay(CLOSE_WAIT_MS)]);
    for (const viewer of this.#viewers) {
      viewer.destroy();
    }

    this.#admin.close();
  }
}

/** Where a viewer connects for an edge URL (`ws://` only: port 80 by default). */
function hostAndPort(edge: URL): { host: string; port: number } {
  return { host: edge.hostname, port: Number(edge.port || 80) };
}

let running: ViewerProcess | null = null;

process.on('message', (message: CoordinatorMessage) => {
  if (message.type === 'start' && running === null) {
    running = new ViewerProcess(message.plan);
    send({ type: 'loaded' });
    return;
  }

  if (running === null) {
    return;
  }

  switch (message.type) {
    case 'go':
      running.start();
      break;
    case 'tick':
      running.snapshot(message.index);
      break;
    case 'publishing':
      running.startTraffic();
      break;
    case 'chaos':
      running.chaos(message.action, message.share);
      break;
    case 'drain':
      running.drain(message.finalSeqs, message.timeoutMs, message.graceMs).then(
        () => process.disconnect(),
        (error: unknown) => {
          send({ type: 'failed', message: String(error) });
          process.disconnect();
        },
      );
      break;
    default:
      break;
  }
});

// The coordinator went away: nothing is left to report to.
process.on('disconnect', () => {
  process.exit(0);
});
