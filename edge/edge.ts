/**
 * The edge: uWebSockets.js server that admits viewers, forwards the shard's
 * encoded frames to them through uWS topics, and batches their chat, likes
 * and presence to the owning shard once per tick.
 *
 * Admission is async (token check, room lookup, bus subscription, log
 * position) and happens before the upgrade completes, so a refused viewer
 * never gets an open socket. The welcome frame's seq is read after the
 * room's bus subscription is live: every reliable item after it reaches the
 * viewer, in order.
 *
 * An asynchronous upgrade must run inside `res.cork` (so the 101 answer is
 * one write), and uWS 20.30 has a bug there: after the callback, `cork`
 * reads the HTTP response state from memory the upgrade handed back to the
 * allocator, and when those bytes happen to look like "Connection: close"
 * it shuts the new WebSocket down (the client sees 1006 right after the
 * 101). Any native allocation between the upgrade and the end of `cork` can
 * reuse that memory. Ours are kept out of it: the open handler only does
 * bookkeeping, and the welcome and the topic subscription follow once
 * `cork` has returned. V8's were the rest: a function reaching its baseline
 * compile (Sparkplug) in there dropped one connect (always the same one of
 * a given sequence of connects) in about one fresh process in five, and
 * none with Sparkplug off. The edge therefore turns Sparkplug off for its
 * process ({@link withoutBaselineCompiler}); docs/edge.md has the figures.
 */
import { randomUUID } from 'node:crypto';
import v8 from 'node:v8';
import uWS from 'uWebSockets.js';
import type {
  HttpRequest,
  HttpResponse,
  TemplatedApp,
  WebSocket,
  us_listen_socket,
  us_socket_context_t,
} from 'uWebSockets.js';
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
import { decodeOutbound, encodeEnvelope } from '../room-shard/index.js';
import type { ViewerTokens } from '../tokens/index.js';
import { EdgeMetrics } from './edge-metrics.js';
import { Admission, type AdmissionRequest, type Refusal } from './admission.js';
import { ViewerDelivery } from './delivery.js';
import { LocalRoom, laneTopic } from './local-room.js';
import type { EdgeLoad } from './frame-pacer.js';
import { RoomFrames } from './room-frames.js';
import { endWithError, serveOps, type MetricsSource } from './ops-routes.js';
import { serveStaticFiles } from './static-files.js';
import { StreamGaps } from './stream-gaps.js';
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

/** Every viewer's send buffer and token are checked once per this period. */
const SWEEP_PERIOD_MS = 1000;
/** The answer to a viewer whose admission failed on our side. */
const UNAVAILABLE: Refusal = {
  status: '503 Service Unavailable',
  code: 'unavailable',
  message: 'try again shortly',
  retryAfterSeconds: 2,
};
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
  #pendingAdmits = new Map<string, number>();
  #metrics: EdgeMetrics;
  #input: ViewerInput;
  #delivery: ViewerDelivery;
  #admission: Admission;
  #timer: NodeJS.Timeout | undefined;
  #sockets = new Set<WebSocket<Viewer>>();
  /** Viewers whose send buffer was not empty when last checked. */
  #pressured = new Set<WebSocket<Viewer>>();
  #sweepCursor: Iterator<WebSocket<Viewer>> | undefined;
  #closing = false;
  /** True while `res.upgrade` runs inside `res.cork`; see the module header. */
  #upgrading = false;
  /** The socket the running upgrade opened, greeted once `cork` returns. */
  #opened: WebSocket<Viewer> | undefined;
  /** When the edge last closed a viewer; close() lingers after it. */
  #lastClosedMs = -Infinity;
  #frames: RoomFrames;
  #gaps: StreamGaps;

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
      replay: (room, payload) => this.#onEnvelope(room, payload),
      giveUp: (room) => {
        for (const ws of room.allSockets()) {
          this.#closeViewer(ws, 'streamGap');
        }
      },
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
      upgrade: (res, req, context) => this.#upgrade(res, req, context),
      open: (ws) => this.#open(ws),
      message: (ws, message, isBinary) =>
        this.#input.onMessage(ws, message, isBinary),
      drain: (ws) => this.#drain(ws),
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

      if (room.userCount === 0 && !this.#pendingAdmits.has(room.key)) {
        this.#dropRoom(room);
      }
    }

    this.#sweep(nowMs);
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

  #upgrade(
    res: HttpResponse,
    req: HttpRequest,
    context: us_socket_context_t,
  ): void {
    const secKey = req.getHeader('sec-websocket-key');
    const secProtocol = req.getHeader('sec-websocket-protocol');
    const secExtensions = req.getHeader('sec-websocket-extensions');
    const query = new URLSearchParams(req.getQuery() ?? '');
    const request = {
      token: query.get('token') ?? undefined,
      resume: query.get('resume'),
      origin: req.getHeader('origin'),
    };
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void this.#admit(request).then((outcome) => {
      if (aborted) {
        if (!('status' in outcome)) {
          this.#releaseAdmit(outcome.roomKey);
        }

        return;
      }

      if (!('status' in outcome)) {
        this.#upgradeNow(
          res,
          outcome,
          [secKey, secProtocol, secExtensions],
          context,
        );
        return;
      }

      res.cork(() => {
        this.#metrics.connects.inc({ outcome: outcome.code });
        const headers: Record<string, string> =
          outcome.retryAfterSeconds === undefined
            ? {}
            : { 'retry-after': String(outcome.retryAfterSeconds) };
        endWithError(
          res,
          outcome.status,
          outcome.code,
          outcome.message,
          headers,
        );
      });
    });
  }

  /**
   * Completes an admitted upgrade: opens the socket inside `res.cork` with
   * nothing but bookkeeping in the open handler, then greets the viewer
   * outside it (see the module header for the uWS bug this avoids).
   */
  #upgradeNow(
    res: HttpResponse,
    viewer: Viewer,
    [secKey, secProtocol, secExtensions]: [string, string, string],
    context: us_socket_context_t,
  ): void {
    this.#upgrading = true;
    try {
      res.cork(() => {
        res.upgrade(viewer, secKey, secProtocol, secExtensions, context);
      });
    } finally {
      this.#upgrading = false;
    }

    const ws = this.#opened;
    this.#opened = undefined;
    if (ws !== undefined) {
      this.#greet(ws);
    }
  }

  async #admit(request: AdmissionRequest): Promise<Viewer | Refusal> {
    let admitted;
    try {
      admitted = await this.#admission.check(request);
    } catch (error) {
      this.#options.logger.error({ err: error }, 'admission failed');
      return UNAVAILABLE;
    }

    if ('status' in admitted) {
      return admitted;
    }

    const { claims, roomKey: key, resumeSeq } = admitted;
    this.#pendingAdmits.set(key, (this.#pendingAdmits.get(key) ?? 0) + 1);
    try {
      const local = this.#room(key, claims.room);
      await local.subscribed;
      local.positionRead ??= this.#readPosition(local);
      await local.positionRead;
      const lastSeq = await this.#options.log.lastSeq(key);
      return {
        claims,
        // The room's own string, shared by its viewers.
        roomKey: local.key,
        room: undefined,
        welcomeSeq: lastSeq,
        resumeSeq,
        chat: undefined,
        likes: undefined,
        strikes: 0,
        resuming: false,
        catchUp: undefined,
        subscribed: false,
        lane: 'full',
        ackedSeq: 0,
        closed: false,
        connectedAtMs: this.#clock(),
      };
    } catch (error) {
      this.#releaseAdmit(key);
      this.#options.logger.error({ err: error }, 'admission failed');
      return UNAVAILABLE;
    }
  }

  /**
   * Once per room, after its subscription is live: what the room's topics
   * carried so far is what its owner published before the subscription.
   * A failed read is tried again by the next admission.
   */
  async #readPosition(room: LocalRoom): Promise<void> {
    let published;
    try {
      published = await this.#options.log.publishedSeq(room.key);
    } catch (error) {
      room.positionRead = undefined;
      throw error;
    }

    if (room.lastForwardedSeq === 0) {
      room.lastForwardedSeq = published;
      room.staleUpTo = published;
    }

    this.#gaps.setPosition(room, published);
  }

  #releaseAdmit(key: string): void {
    const pending = (this.#pendingAdmits.get(key) ?? 1) - 1;
    if (pending <= 0) {
      this.#pendingAdmits.delete(key);
    } else {
      this.#pendingAdmits.set(key, pending);
    }
  }

  #room(key: string, roomId: string): LocalRoom {
    let room = this.#rooms.get(key);
    if (room === undefined) {
      const created = new LocalRoom(key, roomId);
      created.onEnvelope = (payload) => this.#onEnvelope(created, payload);
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
   * Bookkeeping only: this runs inside `res.cork`, where uWS 20.30 must not
   * see a native allocation (module header). {@link Edge.#greet} follows.
   */
  #open(ws: WebSocket<Viewer>): void {
    const viewer = ws.getUserData();
    this.#releaseAdmit(viewer.roomKey);
    this.#sockets.add(ws);
    this.#metrics.connections.set(this.#sockets.size);
    this.#metrics.connects.inc({ outcome: 'accepted' });
    const room = this.#rooms.get(viewer.roomKey);
    if (room !== undefined) {
      viewer.room = room;
      room.addSocket(ws);
    }

    if (this.#upgrading) {
      this.#opened = ws;
      return;
    }

    this.#greet(ws);
  }

  /** Sends `welcome` and starts delivery, in one write. */
  #greet(ws: WebSocket<Viewer>): void {
    const viewer = ws.getUserData();
    if (viewer.closed) {
      return;
    }

    const room = viewer.room;
    if (room === undefined) {
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
    if (this.#upgrading) {
      // Nothing of ours closes a socket inside the upgrade's cork: this is
      // the uWS bug of the module header, counted so it stays visible.
      this.#metrics.connects.inc({ outcome: 'dropped_at_open' });
      this.#options.logger.warn(
        { code, user: viewer.claims.user },
        'viewer dropped by uWS at open',
      );
    }

    viewer.closed = true;
    viewer.room?.removeSocket(ws);
    this.#sockets.delete(ws);
    this.#pressured.delete(ws);
    this.#metrics.connections.set(this.#sockets.size);
    if (this.#sockets.size === 0) {
      this.#onEmpty?.();
    }
  }

  #drain(ws: WebSocket<Viewer>): void {
    const viewer = ws.getUserData();
    if (
      viewer.lane === 'reliable' &&
      ws.getBufferedAmount() < this.#options.settings.softBackpressureBytes / 2
    ) {
      this.#delivery.setLane(ws, 'full');
    }
  }

  /**
   * Checks a slice of the viewers each tick so that every viewer is seen
   * once a second whatever their number: send buffer past the soft bound
   * moves it to the reliable lane, past the hard bound closes it
   * (`slow_consumer`, resume), and an expired token closes it
   * (`token_expired`). Reading a socket's buffer is a native call, so a full
   * pass every tick would cost a large share of a core at 100,000+ viewers.
   */
  #sweep(nowMs: number): void {
    // Viewers already seen backed up are checked every tick: their buffers
    // can grow by a frame per tick, and the hard bound must be caught well
    // before uWS's own limit. Everyone else is checked in slices.
    for (const ws of this.#pressured) {
      this.#check(ws, nowMs);
    }

    const { tickMs } = this.#options.settings;
    let budget = Math.ceil((this.#sockets.size * tickMs) / SWEEP_PERIOD_MS) + 1;
    while (budget-- > 0) {
      this.#sweepCursor ??= this.#sockets.values();
      const next = this.#sweepCursor.next();
      if (next.done === true) {
        this.#sweepCursor = undefined;
        return;
      }

      this.#check(next.value, nowMs);
    }
  }

  /** One viewer's token expiry and send buffer; see {@link Edge.tick}. */
  #check(ws: WebSocket<Viewer>, nowMs: number): void {
    const viewer = ws.getUserData();
    if (viewer.closed) {
      this.#pressured.delete(ws);
      return;
    }

    if (viewer.claims.expiresAt * 1000 <= nowMs) {
      this.#closeViewer(ws, 'tokenExpired');
      return;
    }

    const buffered = ws.getBufferedAmount();
    const { softBackpressureBytes, hardBackpressureBytes } =
      this.#options.settings;
    if (buffered === 0) {
      if (viewer.lane === 'full') {
        this.#pressured.delete(ws);
      }

      return;
    }

    this.#pressured.add(ws);
    this.#metrics.sendBufferBytes.observe(buffered);
    if (buffered > hardBackpressureBytes) {
      this.#metrics.slowCloses.inc();
      this.#closeViewer(ws, 'slowConsumer');
    } else if (buffered > softBackpressureBytes && viewer.lane === 'full') {
      this.#delivery.setLane(ws, 'reliable');
    }
  }

  #onEnvelope(room: LocalRoom, payload: Buffer): void {
    if (room.waiting !== undefined) {
      // Reliable items the bus lost are being read back; see stream-gaps.ts.
      room.waiting.push(payload);
      return;
    }

    const envelope = decodeOutbound(payload);
    if (envelope === undefined) {
      return;
    }

    if (envelope[0] !== 'frame') {
      // Whatever the shard sends next comes after the frames held so far.
      this.#frames.flush(room);
    }

    switch (envelope[0]) {
      case 'frame': {
        const [
          ,
          maxSeq,
          viewers,
          full,
          reliableOnly,
          lossyCount,
          presence,
          firstSeq,
          prevSeq,
        ] = envelope;
        const frame = this.#gaps.admit(
          room,
          {
            maxSeq,
            viewers,
            full,
            reliableOnly,
            lossyCount,
            presenceOnly: presence === true,
          },
          typeof firstSeq === 'number' ? firstSeq : 0,
          typeof prevSeq === 'number' ? prevSeq : undefined,
          payload,
        );
        if (frame !== undefined) {
          this.#frames.receive(room, frame);
        }

        return;
      }

      case 'user': {
        const [, userId, frame] = envelope;
        for (const ws of room.socketsOf(userId)) {
          ws.send(frame, true);
          this.#metrics.framesSent.inc({ lane: 'direct' });
        }

        return;
      }

      case 'close': {
        const [, frame, codeName] = envelope;
        for (const ws of room.allSockets()) {
          ws.send(frame, true);
          this.#closeViewer(ws, codeName);
        }

        return;
      }

      case 'kick': {
        const [, userId, frame, codeName] = envelope;
        for (const ws of room.socketsOf(userId)) {
          ws.send(frame, true);
          this.#closeViewer(ws, codeName);
        }

        return;
      }

      case 'resync':
        this.#sendSnapshot(room, true);
        return;
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

/**
 * Stops V8 from compiling functions to baseline code (Sparkplug) from now
 * on, for the whole process, as `node --no-sparkplug` would. A compile that
 * happens inside uWS's upgrade (module header) can drop the socket being
 * opened; without Sparkplug, functions run interpreted until the optimizing
 * compiler, which compiles off the main thread, takes the hot ones.
 */
function withoutBaselineCompiler(): void {
  v8.setFlagsFromString('--no-sparkplug');
}
