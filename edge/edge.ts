/**
 * The edge: uWebSockets.js server that admits viewers, forwards the shard's
 * encoded frames to them through uWS topics, and batches their chat, likes
 * and presence to the owning shard once per tick.
 *
 * How a viewer's socket opens (admission, then the upgrade, with the uWS
 * 20.30 bug it works around) is in upgrades.ts; the per-tick check of send
 * buffers in send-buffers.ts; what a room's shard sends, in
 * room-envelopes.ts.
 */
import { randomUUID } from 'node:crypto';
import uWS from 'uWebSockets.js';
import type { TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { channels, type Bus } from '../bus/index.js';
import type { Settings } from '../config/index.js';
import type { IdGenerator } from '../ids/index.js';
import type { Registry } from '../metrics/index.js';
import {
  CloseCodes,
  encodeFrame,
  type CloseCodeName,
  type ServerFrame,
} from '../protocol/index.js';
import type { ReliableLog } from '../reliable-log/index.js';
import type { BanCheck } from '../moderation/index.js';
import type { RoomDirectory } from '../room-directory/index.js';
import { encodeEnvelope } from '../room-shard/index.js';
import type { ViewerTokens } from '../tokens/index.js';
import { EdgeMetrics } from './edge-metrics.js';
import { Admission } from './admission.js';
import { ViewerDelivery } from './delivery.js';
import { LocalRoom, laneTopic } from './local-room.js';
import type { EdgeLoad } from './frame-pacer.js';
import { RoomEnvelopes } from './room-envelopes.js';
import { RoomFrames } from './room-frames.js';
import { endWithError, serveOps, type MetricsSource } from './ops-routes.js';
import { serveStaticFiles } from './static-files.js';
import { SendBuffers } from './send-buffers.js';
import { StreamGaps } from './stream-gaps.js';
import { Upgrades, withoutBaselineCompiler } from './upgrades.js';
import { ViewerInput } from './viewer-input.js';
import type { Viewer } from './viewer.js';

export type EdgeSettings = Pick<
  Settings,
  | 'tickMs'
  | 'maxFrameBytes'
  | 'chatPerSecond'
  | 'chatBurst'
  | 'likesPerSecond'
  | 'likesBurst'
  | 'rateLimitStrikes'
  | 'idleTimeoutSeconds'
  | 'softBackpressureBytes'
  | 'hardBackpressureBytes'
  | 'allowedOrigins'
  | 'maxConnectsPerSecond'
  | 'edgePresenceFramesPerSecond'
>;

export interface EdgeOptions {
  settings: EdgeSettings;
  bus: Bus;
  log: ReliableLog;
  directory: RoomDirectory;
  /** Bans set through the admin API, checked at the upgrade. */
  bans?: BanCheck;
  tokens: ViewerTokens;
  ids: IdGenerator;
  registry: Registry;
  logger: Logger;
  clock?: () => number;
  /** Extra readiness condition (e.g. the bus is up). */
  ready?: () => boolean;
  /** What `/metrics` serves; default: `registry`. An edge worker serves the whole edge's. */
  metrics?: MetricsSource;
  /**
   * Processes of the edge this one is a worker of (`--workers N`), which
   * share its budgets; default 1.
   */
  workers?: number;
  /** The edge's load as the frame pacer sees it; default: measured each tick. */
  load?: () => EdgeLoad;
}

/** How often an edge reports a room's backpressure share to its shard. */
const LOAD_REPORT_MS = 1000;
/** How long close() lets uWS flush the last close frames. */
const CLOSE_LINGER_MS = 1000;

export class Edge {
  readonly edgeId = randomUUID();
  #options: EdgeOptions;
  #clock: () => number;
  #app: TemplatedApp;
  #listenSocket: us_listen_socket | undefined;
  #rooms = new Map<string, LocalRoom>();
  #metrics: EdgeMetrics;
  #input: ViewerInput;
  #delivery: ViewerDelivery;
  #admission: Admission;
  #timer: NodeJS.Timeout | undefined;
  #sockets = new Set<WebSocket<Viewer>>();
  #closing = false;
  /** When the edge last closed a viewer; close() lingers after it. */
  #lastClosedMs = -Infinity;
  #upgrades: Upgrades;
  #sendBuffers: SendBuffers;
  #frames: RoomFrames;
  #gaps: StreamGaps;
  #envelopes: RoomEnvelopes;

  constructor(options: EdgeOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#metrics = new EdgeMetrics(options.registry);
    this.#admission = new Admission({
      tokens: options.tokens,
      directory: options.directory,
      ...(options.bans === undefined ? {} : { bans: options.bans }),
      allowedOrigins: options.settings.allowedOrigins,
      maxConnectsPerSecond: options.settings.maxConnectsPerSecond,
      clock: this.#clock,
    });
    withoutBaselineCompiler();
    this.#app = uWS.App();
    this.#delivery = new ViewerDelivery(this.#metrics);
    this.#upgrades = new Upgrades({
      admission: this.#admission,
      log: options.log,
      metrics: this.#metrics,
      logger: options.logger,
      clock: this.#clock,
      room: (key, roomId) => this.#room(key, roomId),
      stillOpen: async (tenant, roomId) =>
        (await options.directory.get(tenant, roomId)) !== undefined,
      setPosition: (room, publishedSeq) => {
        this.#gaps.setPosition(room, publishedSeq);
      },
      track: (ws, viewer) => this.#track(ws, viewer),
      greet: (ws) => this.#greet(ws),
    });
    this.#sendBuffers = new SendBuffers({
      sockets: this.#sockets,
      settings: options.settings,
      metrics: this.#metrics,
      setLane: (ws, lane) => this.#delivery.setLane(ws, lane),
      close: (ws, name) => this.#closeViewer(ws, name),
    });
    this.#frames = new RoomFrames({
      app: this.#app,
      metrics: this.#metrics,
      delivery: this.#delivery,
      clock: this.#clock,
      tickMs: options.settings.tickMs,
      presenceFramesPerSecond:
        options.settings.edgePresenceFramesPerSecond / (options.workers ?? 1),
    });
    this.#gaps = new StreamGaps({
      log: options.log,
      metrics: this.#metrics,
      logger: options.logger,
      clock: this.#clock,
      carries: (room) => this.#rooms.get(room.key) === room,
      forward: (room, frame) => {
        this.#frames.receive(room, frame);
        this.#frames.flush(room);
      },
      replay: (room, payload) => this.#envelopes.receive(room, payload),
      giveUp: (room) => {
        for (const ws of room.allSockets()) {
          this.#closeViewer(ws, 'streamGap');
        }
      },
    });
    this.#envelopes = new RoomEnvelopes({
      gaps: this.#gaps,
      frames: this.#frames,
      metrics: this.#metrics,
      close: (ws, name) => this.#closeViewer(ws, name),
      resync: (room) => this.#sendSnapshot(room, true),
    });
    options.bus.onResubscribed(() => {
      for (const room of this.#rooms.values()) {
        void this.#gaps.recheck(room);
      }
    });
    this.#input = new ViewerInput({
      delivery: this.#delivery,
      settings: options.settings,
      ids: options.ids,
      log: options.log,
      metrics: this.#metrics,
      clock: this.#clock,
      send: (ws, frame) => this.#sendDirect(ws, frame),
      close: (ws, name) => this.#closeViewer(ws, name),
    });
    const { registry } = options;
    serveOps(
      this.#app,
      options.metrics ??
        (async () => ({
          contentType: registry.contentType,
          text: await registry.metrics(),
        })),
      () => this.ready,
    );
    serveStaticFiles(this.#app);
    this.#app.ws<Viewer>('/ws', {
      compression: uWS.DISABLED,
      // uWS drops anything larger than this before it reaches us; frames
      // between maxFrameBytes and this get a clear error and close instead.
      maxPayloadLength: Math.max(options.settings.maxFrameBytes * 4, 16_384),
      idleTimeout: options.settings.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      // A safety net only: the sweep closes a viewer past the hard bound
      // with a code that says "resume" long before this; uWS's own close
      // would be abrupt. The margin covers a tick of large frames.
      maxBackpressure:
        options.settings.hardBackpressureBytes +
        Math.max(options.settings.hardBackpressureBytes, 16 * 1024 * 1024),
      closeOnBackpressureLimit: 1,
      upgrade: (res, req, context) => this.#upgrades.upgrade(res, req, context),
      open: this.#upgrades.open,
      message: (ws, message, isBinary) =>
        this.#input.onMessage(ws, message, isBinary),
      drain: (ws) => this.#sendBuffers.drain(ws),
      close: (ws, code) => this.#close(ws, code),
    });
    this.#app.any('/*', (res) => {
      endWithError(res, '404 Not Found', 'not_found', 'no such path');
    });
  }

  get ready(): boolean {
    return (
      !this.#closing &&
      !this.#admission.draining &&
      (this.#options.ready?.() ?? true)
    );
  }

  get connectionCount(): number {
    return this.#sockets.size;
  }

  /** Listens and starts the tick; resolves to the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#app.listen(host, port, (socket) => {
        if (socket === false) {
          reject(new Error(`edge could not listen on ${host}:${port}`));
          return;
        }

        this.#listenSocket = socket;
        this.#timer = setInterval(
          () => this.tick(),
          this.#options.settings.tickMs,
        );
        resolve(uWS.us_socket_local_port(socket));
      });
    });
  }

  /** Sends pending viewer input and presence to shards; sweeps send buffers. */
  tick(): void {
    const { bus } = this.#options;
    const nowMs = this.#clock();
    this.#frames.tick(
      nowMs,
      this.#rooms,
      this.#sockets.size,
      this.#options.load?.(),
    );
    this.#gaps.tick(nowMs, this.#rooms.values());
    for (const room of this.#rooms.values()) {
      const pending = room.takePending(nowMs);
      const inbound = channels.roomIn(room.key);
      if (pending.inputs !== undefined) {
        bus.publish(inbound, encodeEnvelope(['input', pending.inputs]));
      }

      if (pending.joins.length > 0 || pending.leaves.length > 0) {
        bus.publish(
          inbound,
          encodeEnvelope([
            'members',
            this.edgeId,
            pending.joins,
            pending.leaves,
          ]),
        );
      }

      if (nowMs - room.loadReportedMs >= LOAD_REPORT_MS) {
        this.#reportLoad(room, nowMs);
      }

      if (
        room.userCount === 0 &&
        (room.closed || !this.#upgrades.admitting(room.key))
      ) {
        this.#dropRoom(room);
      }
    }

    this.#sendBuffers.sweep(nowMs);
  }

  /**
   * Graceful drain (SIGTERM): `/readyz` turns false and new viewers are
   * refused with a retryable answer at once; every open viewer gets a
   * `control` frame and a `draining` close at its own random moment within
   * the first 80% of the grace period, so their reconnects spread out instead
   * of arriving together elsewhere. Resolves when all are gone, at the latest
   * after `graceMs`; then the edge is closed.
   */
  async drain(
    graceMs: number,
    random: () => number = Math.random,
  ): Promise<void> {
    this.#admission.draining = true;
    this.#options.logger.info(
      { viewers: this.#sockets.size, graceMs },
      'edge draining',
    );
    const timers: NodeJS.Timeout[] = [];
    const allClosed = new Promise<void>((resolve) => {
      this.#onEmpty = resolve;
      if (this.#sockets.size === 0) {
        resolve();
      }
    });
    for (const ws of this.#sockets) {
      const delayMs = Math.floor(random() * graceMs * 0.8);
      timers.push(setTimeout(() => this.#drainViewer(ws), delayMs));
    }

    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([
      allClosed,
      new Promise<void>((resolve) => {
        deadline = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(deadline);
    timers.forEach(clearTimeout);
    for (const ws of [...this.#sockets]) {
      this.#drainViewer(ws);
    }

    await this.close();
  }

  #onEmpty: (() => void) | undefined;

  /**
   * Tells the room's shard what share of this edge's viewers are shedding
   * the lossy lane; the engine shrinks the room's lossy budget while many
   * are, so the stream stays readable for everyone.
   */
  #reportLoad(room: LocalRoom, nowMs: number): void {
    const sockets = room.socketCount;
    const shedding = this.#app.numSubscribers(laneTopic('reliable', room.key));
    const backpressure = sockets === 0 ? 0 : Math.min(1, shedding / sockets);
    room.loadReportedMs = nowMs;
    if (backpressure === room.loadReported) {
      return;
    }

    room.loadReported = backpressure;
    this.#options.bus.publish(
      channels.roomIn(room.key),
      encodeEnvelope(['load', this.edgeId, backpressure]),
    );
  }

  #drainViewer(ws: WebSocket<Viewer>): void {
    if (ws.getUserData().closed) {
      return;
    }

    this.#sendDirect(ws, {
      t: 'control',
      reason: 'draining',
      message: 'this edge is restarting; reconnect and resume',
      reconnect: { afterMs: 1000 },
    });
    this.#closeViewer(ws, 'draining');
  }

  /**
   * Sends every room's full member list to its owning shard, replacing what
   * this edge reported before: for when the edge was out of touch with the
   * fleet (Redis outage) and shards may have forgotten its members.
   */
  resync(): void {
    for (const room of this.#rooms.values()) {
      this.#sendSnapshot(room, false);
    }
  }

  /** @param answer true when answering a new owner's `resync` */
  #sendSnapshot(room: LocalRoom, answer: boolean): void {
    this.#options.bus.publish(
      channels.roomIn(room.key),
      encodeEnvelope(['snapshot', this.edgeId, room.snapshot(), answer]),
    );
  }

  /** Stops accepting, closes every viewer with `going_away` and stops. */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#listenSocket !== undefined) {
      uWS.us_listen_socket_close(this.#listenSocket);
      this.#listenSocket = undefined;
    }

    for (const room of this.#rooms.values()) {
      this.#frames.flush(room);
    }

    for (const ws of [...this.#sockets]) {
      this.#closeViewer(ws, 'goingAway');
    }

    this.tick();
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const room of [...this.#rooms.values()]) {
      this.#dropRoom(room);
    }

    // Let the close handshakes finish: a process that exits while a
    // client's close reply is still unread makes the kernel answer with a
    // reset, and a client that had not read our close frame yet loses it
    // and sees 1006 instead of the code that tells it what to do.
    const lingerMs = this.#lastClosedMs + CLOSE_LINGER_MS - this.#clock();
    if (lingerMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, lingerMs));
    }
  }

  #room(key: string, roomId: string): LocalRoom {
    let room = this.#rooms.get(key);
    if (room?.closed === true) {
      // A room made again with the id of one that just closed.
      this.#dropRoom(room);
      room = undefined;
    }

    if (room === undefined) {
      const created = new LocalRoom(key, roomId);
      created.onEnvelope = (payload) =>
        this.#envelopes.receive(created, payload);
      created.subscribed = this.#options.bus.subscribe(
        channels.roomOut(key),
        created.onEnvelope,
      );
      this.#rooms.set(key, created);
      room = created;
    }

    return room;
  }

  #dropRoom(room: LocalRoom): void {
    this.#rooms.delete(room.key);
    room.waiting = undefined;
    if (room.loadReported > 0) {
      this.#options.bus.publish(
        channels.roomIn(room.key),
        encodeEnvelope(['load', this.edgeId, 0]),
      );
    }

    void this.#options.bus.unsubscribe(
      channels.roomOut(room.key),
      room.onEnvelope,
    );
  }

  /**
   * The edge's part of a socket's opening ({@link Upgrades}), once the
   * upgrade's `res.cork` has returned. {@link Edge.#greet} follows.
   */
  #track(ws: WebSocket<Viewer>, viewer: Viewer): void {
    this.#sockets.add(ws);
    this.#metrics.connections.set(this.#sockets.size);
    this.#metrics.connects.inc({ outcome: 'accepted' });
    const room = this.#rooms.get(viewer.roomKey);
    if (room !== undefined) {
      viewer.room = room;
      room.addSocket(ws);
    }
  }

  /** Sends `welcome` and starts delivery, in one write. */
  #greet(ws: WebSocket<Viewer>): void {
    const viewer = ws.getUserData();
    if (viewer.closed) {
      return;
    }

    const room = viewer.room;
    if (room === undefined || room.closed) {
      this.#closeViewer(ws, 'roomClosed');
      return;
    }

    ws.cork(() => {
      const { settings } = this.#options;
      // Joining fresh: live from wherever the room is. Topics not yet past
      // the log position read at admission mean catching up from it.
      viewer.welcomeSeq = Math.max(viewer.welcomeSeq, room.lastForwardedSeq);
      this.#sendDirect(ws, {
        t: 'welcome',
        room: room.roomId,
        user: viewer.claims.user,
        viewers: Math.max(room.viewers, room.userCount),
        seq: viewer.welcomeSeq,
        idleTimeoutMs: settings.idleTimeoutSeconds * 1000,
        limits: {
          chatPerSecond: settings.chatPerSecond,
          likesPerSecond: settings.likesPerSecond,
          maxFrameBytes: settings.maxFrameBytes,
        },
        backoff: { baseMs: 500, maxMs: 30_000 },
      });
      if (viewer.resumeSeq !== undefined) {
        void this.#input.resume(ws, viewer.resumeSeq);
        return;
      }

      this.#delivery.startLive(ws, room, viewer.welcomeSeq);
    });
  }

  #close(ws: WebSocket<Viewer>, code: number): void {
    const viewer = ws.getUserData();
    this.#upgrades.closed(viewer, code);
    viewer.closed = true;
    viewer.room?.removeSocket(ws);
    this.#sockets.delete(ws);
    this.#sendBuffers.forget(ws);
    this.#metrics.connections.set(this.#sockets.size);
    if (this.#sockets.size === 0) {
      this.#onEmpty?.();
    }
  }

  #sendDirect(ws: WebSocket<Viewer>, frame: ServerFrame): void {
    if (!ws.getUserData().closed) {
      ws.send(encodeFrame(frame), true);
      this.#metrics.framesSent.inc({ lane: 'direct' });
    }
  }

  #closeViewer(ws: WebSocket<Viewer>, name: CloseCodeName): void {
    const viewer = ws.getUserData();
    if (viewer.closed) {
      return;
    }

    const { code, name: reason } = CloseCodes[name];
    this.#lastClosedMs = this.#clock();
    ws.end(code, reason);
  }
}
