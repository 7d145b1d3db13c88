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
 */
import { randomUUID } from 'node:crypto';
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
import { roomKey, type RoomDirectory } from '../room-directory/index.js';
import { decodeOutbound, encodeEnvelope } from '../room-shard/index.js';
import { TokenError, type ViewerTokens } from '../tokens/index.js';
import { EdgeMetrics } from './edge-metrics.js';
import { LocalRoom, laneTopic } from './local-room.js';
import { endWithError, serveOps } from './ops-routes.js';
import { TokenBucket } from './token-bucket.js';
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
>;

export interface EdgeOptions {
  settings: EdgeSettings;
  bus: Bus;
  log: ReliableLog;
  directory: RoomDirectory;
  tokens: ViewerTokens;
  ids: IdGenerator;
  registry: Registry;
  logger: Logger;
  clock?: () => number;
  /** Extra readiness condition (e.g. the bus is up). */
  ready?: () => boolean;
}

interface Admission {
  status: string;
  code: string;
  message: string;
}

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
  #timer: NodeJS.Timeout | undefined;
  #origins: Set<string> | undefined;
  #connections = 0;
  #closing = false;

  constructor(options: EdgeOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#metrics = new EdgeMetrics(options.registry);
    const origins = options.settings.allowedOrigins
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== '');
    this.#origins = origins.length > 0 ? new Set(origins) : undefined;
    this.#input = new ViewerInput({
      settings: options.settings,
      ids: options.ids,
      log: options.log,
      metrics: this.#metrics,
      clock: this.#clock,
      send: (ws, frame) => this.#sendDirect(ws, frame),
      close: (ws, name) => this.#closeViewer(ws, name),
    });
    this.#app = uWS.App();
    serveOps(this.#app, options.registry, () => this.ready);
    this.#app.ws<Viewer>('/ws', {
      compression: uWS.DISABLED,
      // uWS drops anything larger than this before it reaches us; frames
      // between maxFrameBytes and this get a clear error and close instead.
      maxPayloadLength: Math.max(options.settings.maxFrameBytes * 4, 16_384),
      idleTimeout: options.settings.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      maxBackpressure: options.settings.hardBackpressureBytes * 2,
      closeOnBackpressureLimit: 1,
      upgrade: (res, req, context) => this.#upgrade(res, req, context),
      open: (ws) => this.#open(ws),
      message: (ws, message, isBinary) =>
        this.#input.onMessage(ws, message, isBinary),
      drain: (ws) => this.#drain(ws),
      close: (ws) => this.#close(ws),
    });
    this.#app.any('/*', (res) => {
      endWithError(res, '404 Not Found', 'not_found', 'no such path');
    });
  }

  get ready(): boolean {
    return !this.#closing && (this.#options.ready?.() ?? true);
  }

  get connectionCount(): number {
    return this.#connections;
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

      this.#sweep(room);
      if (room.users.size === 0 && !this.#pendingAdmits.has(room.key)) {
        this.#dropRoom(room);
      }
    }
  }

  /**
   * Sends every room's full member list to its owning shard, replacing what
   * this edge reported before: for when the edge was out of touch with the
   * fleet (Redis outage) and shards may have forgotten its members.
   */
  resync(): void {
    for (const room of this.#rooms.values()) {
      this.#sendSnapshot(room);
    }
  }

  #sendSnapshot(room: LocalRoom): void {
    this.#options.bus.publish(
      channels.roomIn(room.key),
      encodeEnvelope(['snapshot', this.edgeId, room.snapshot()]),
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
      for (const sockets of [...room.users.values()]) {
        for (const ws of [...sockets]) {
          this.#closeViewer(ws, 'goingAway');
        }
      }
    }

    this.tick();
    clearInterval(this.#timer);
    for (const room of [...this.#rooms.values()]) {
      this.#dropRoom(room);
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
    const origin = req.getHeader('origin');
    const token = new URLSearchParams(req.getQuery() ?? '').get('token');
    const resume = new URLSearchParams(req.getQuery() ?? '').get('resume');
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void this.#admit(token ?? undefined, origin, resume).then((outcome) => {
      if (aborted) {
        if (!('status' in outcome)) {
          this.#releaseAdmit(outcome.roomKey);
        }

        return;
      }

      res.cork(() => {
        if ('status' in outcome) {
          this.#metrics.connects.inc({ outcome: outcome.code });
          endWithError(res, outcome.status, outcome.code, outcome.message);
          return;
        }

        res.upgrade(outcome, secKey, secProtocol, secExtensions, context);
      });
    });
  }

  async #admit(
    token: string | undefined,
    origin: string,
    resume: string | null,
  ): Promise<Viewer | Admission> {
    if (this.#closing) {
      return refusal(
        '503 Service Unavailable',
        'draining',
        'the edge is shutting down',
      );
    }

    if (this.#origins !== undefined && !this.#origins.has(origin)) {
      return refusal(
        '403 Forbidden',
        'origin_not_allowed',
        'this Origin may not connect',
      );
    }

    let resumeSeq: number | undefined;
    if (resume !== null) {
      resumeSeq = Number(resume);
      if (!Number.isSafeInteger(resumeSeq) || resumeSeq < 0) {
        return refusal(
          '400 Bad Request',
          'bad_resume',
          'resume must be a non-negative integer seq',
        );
      }
    }

    let claims;
    try {
      claims = await this.#options.tokens.verify(token);
    } catch (error) {
      const code =
        error instanceof TokenError ? `token_${error.code}` : 'token_invalid';
      const message =
        error instanceof Error ? error.message : 'the token is not valid';
      return refusal('401 Unauthorized', code, message);
    }

    const key = roomKey(claims.tenant, claims.room);
    this.#pendingAdmits.set(key, (this.#pendingAdmits.get(key) ?? 0) + 1);
    try {
      const room = await this.#options.directory.get(
        claims.tenant,
        claims.room,
      );
      if (room === undefined) {
        this.#releaseAdmit(key);
        return refusal(
          '404 Not Found',
          'room_not_found',
          'the room does not exist or was closed',
        );
      }

      const local = this.#room(key, claims.room);
      await local.subscribed;
      if (local.lastForwardedSeq === 0) {
        // A room this edge has not carried a frame of yet: what its topics
        // carried so far is what the owner published before the subscription.
        local.lastForwardedSeq = await this.#options.log.publishedSeq(key);
      }

      const lastSeq = await this.#options.log.lastSeq(key);
      const nowMs = this.#clock();
      const { settings } = this.#options;
      return {
        claims,
        roomKey: key,
        room: undefined,
        welcomeSeq: lastSeq,
        resumeSeq,
        chat: new TokenBucket(
          settings.chatPerSecond,
          settings.chatBurst,
          this.#clock,
        ),
        likes: new TokenBucket(
          settings.likesPerSecond,
          settings.likesBurst,
          this.#clock,
        ),
        strikes: 0,
        resuming: false,
        lane: undefined,
        ackedSeq: 0,
        closed: false,
        connectedAtMs: nowMs,
      };
    } catch (error) {
      this.#releaseAdmit(key);
      this.#options.logger.error({ err: error }, 'admission failed');
      return refusal(
        '503 Service Unavailable',
        'unavailable',
        'try again shortly',
      );
    }
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
    void this.#options.bus.unsubscribe(
      channels.roomOut(room.key),
      room.onEnvelope,
    );
  }

  #open(ws: WebSocket<Viewer>): void {
    const viewer = ws.getUserData();
    this.#releaseAdmit(viewer.roomKey);
    const room = this.#rooms.get(viewer.roomKey);
    this.#connections++;
    this.#metrics.connections.set(this.#connections);
    this.#metrics.connects.inc({ outcome: 'accepted' });
    if (room === undefined) {
      this.#closeViewer(ws, 'roomClosed');
      return;
    }

    viewer.room = room;
    room.addSocket(ws);
    viewer.welcomeSeq = Math.max(viewer.welcomeSeq, room.lastForwardedSeq);
    const { settings } = this.#options;
    this.#sendDirect(ws, {
      t: 'welcome',
      room: room.roomId,
      user: viewer.claims.user,
      viewers: Math.max(room.viewers, room.users.size),
      seq: viewer.welcomeSeq,
      idleTimeoutMs: settings.idleTimeoutSeconds * 1000,
      limits: {
        chatPerSecond: settings.chatPerSecond,
        likesPerSecond: settings.likesPerSecond,
        maxFrameBytes: settings.maxFrameBytes,
      },
      backoff: { baseMs: 500, maxMs: 30_000 },
    });
    if (viewer.resumeSeq === undefined) {
      viewer.lane = 'full';
      ws.subscribe(laneTopic('full', room.key));
      return;
    }

    void this.#input.resume(ws, viewer.resumeSeq);
  }

  #close(ws: WebSocket<Viewer>): void {
    const viewer = ws.getUserData();
    viewer.closed = true;
    viewer.room?.removeSocket(ws);
    this.#connections--;
    this.#metrics.connections.set(this.#connections);
  }

  #drain(ws: WebSocket<Viewer>): void {
    const viewer = ws.getUserData();
    if (
      viewer.lane === 'reliable' &&
      ws.getBufferedAmount() < this.#options.settings.softBackpressureBytes / 2
    ) {
      this.#setLane(ws, 'full');
    }
  }

  /** Moves degraded viewers to the reliable lane and closes the hopeless. */
  #sweep(room: LocalRoom): void {
    const { softBackpressureBytes, hardBackpressureBytes } =
      this.#options.settings;
    for (const sockets of [...room.users.values()]) {
      for (const ws of [...sockets]) {
        const buffered = ws.getBufferedAmount();
        if (buffered === 0) {
          continue;
        }

        this.#metrics.sendBufferBytes.observe(buffered);
        const viewer = ws.getUserData();
        if (buffered > hardBackpressureBytes) {
          this.#metrics.slowCloses.inc();
          this.#closeViewer(ws, 'slowConsumer');
        } else if (buffered > softBackpressureBytes && viewer.lane === 'full') {
          this.#setLane(ws, 'reliable');
        }
      }
    }
  }

  #setLane(ws: WebSocket<Viewer>, lane: 'full' | 'reliable'): void {
    const viewer = ws.getUserData();
    if (viewer.lane !== undefined) {
      ws.unsubscribe(laneTopic(viewer.lane, viewer.roomKey));
    }

    viewer.lane = lane;
    ws.subscribe(laneTopic(lane, viewer.roomKey));
    this.#metrics.laneChanges.inc({ lane });
  }

  #onEnvelope(room: LocalRoom, payload: Buffer): void {
    const envelope = decodeOutbound(payload);
    if (envelope === undefined) {
      return;
    }

    switch (envelope[0]) {
      case 'frame': {
        const [, maxSeq, viewers, full, reliableOnly, lossyCount] = envelope;
        room.viewers = viewers;
        room.lastForwardedSeq = Math.max(room.lastForwardedSeq, maxSeq);
        this.#app.publish(laneTopic('full', room.key), full, true);
        this.#metrics.framesSent.inc({ lane: 'full' });
        this.#metrics.bytesSent.inc({ lane: 'full' }, full.byteLength);
        if (reliableOnly !== null) {
          const bytes = reliableOnly === true ? full : reliableOnly;
          this.#app.publish(laneTopic('reliable', room.key), bytes, true);
          this.#metrics.framesSent.inc({ lane: 'reliable' });
          this.#metrics.bytesSent.inc({ lane: 'reliable' }, bytes.byteLength);
        }

        const shedding = this.#app.numSubscribers(
          laneTopic('reliable', room.key),
        );
        if (lossyCount > 0 && shedding > 0) {
          this.#metrics.droppedItems.inc(
            { reason: 'slow_viewer' },
            lossyCount * shedding,
          );
        }

        return;
      }

      case 'user': {
        const [, userId, frame] = envelope;
        for (const ws of room.users.get(userId) ?? []) {
          ws.send(frame, true);
          this.#metrics.framesSent.inc({ lane: 'direct' });
        }

        return;
      }

      case 'close': {
        const [, frame, codeName] = envelope;
        for (const sockets of [...room.users.values()]) {
          for (const ws of [...sockets]) {
            ws.send(frame, true);
            this.#closeViewer(ws, codeName);
          }
        }

        return;
      }

      case 'kick': {
        const [, userId, frame, codeName] = envelope;
        for (const ws of [...(room.users.get(userId) ?? [])]) {
          ws.send(frame, true);
          this.#closeViewer(ws, codeName);
        }

        return;
      }

      case 'resync':
        this.#sendSnapshot(room);
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
    ws.end(code, reason);
  }
}

function refusal(status: string, code: string, message: string): Admission {
  return { status, code, message };
}
