/**
 * How a viewer's socket opens: admission is async (token check, room
 * lookup, bus subscription, log position) and happens before the upgrade
 * completes, so a refused viewer never gets an open socket. The welcome
 * frame's seq is read after the room's bus subscription is live: every
 * reliable item after it reaches the viewer, in order.
 *
 * An asynchronous upgrade must run inside `res.cork` (so the 101 answer is
 * one write), and uWS 20.30 has a bug there: after the callback, `cork`
 * reads the HTTP response state from memory the upgrade handed back to the
 * allocator, and when those bytes happen to look like "Connection: close"
 * it shuts the new WebSocket down (the client sees 1006 right after the
 * 101). Any native allocation between the upgrade and the end of `cork` can
 * reuse that memory. Ours are kept out of it: the open handler only notes
 * the socket (compiled before the first upgrade: compiling allocates), and
 * the bookkeeping, the welcome and the topic subscription follow once
 * `cork` has returned. V8's were the rest: a function reaching its baseline
 * compile (Sparkplug) in there dropped one connect (always the same one of
 * a given sequence of connects) in about one fresh process in five, and
 * none with Sparkplug off. The edge therefore turns Sparkplug off for its
 * process ({@link withoutBaselineCompiler}); docs/edge.md has the figures.
 */
import v8 from 'node:v8';
import type {
  HttpRequest,
  HttpResponse,
  WebSocket,
  us_socket_context_t,
} from 'uWebSockets.js';
import type { Logger } from 'pino';
import type { ReliableLog } from '../reliable-log/index.js';
import {
  ROOM_NOT_FOUND,
  type Admission,
  type AdmissionRequest,
  type Refusal,
} from './admission.js';
import type { EdgeMetrics } from './edge-metrics.js';
import type { LocalRoom } from './local-room.js';
import { endWithError } from './ops-routes.js';
import type { Viewer } from './viewer.js';

/** The answer to a viewer whose admission failed on our side. */
const UNAVAILABLE: Refusal = {
  status: '503 Service Unavailable',
  code: 'unavailable',
  message: 'try again shortly',
  retryAfterSeconds: 2,
};

export interface UpgradesOptions {
  admission: Pick<Admission, 'check'>;
  log: Pick<ReliableLog, 'lastSeq' | 'publishedSeq'>;
  metrics: EdgeMetrics;
  logger: Logger;
  clock: () => number;
  /** The edge's room of that key, made and subscribed when it has none. */
  room(key: string, roomId: string): LocalRoom;
  /**
   * Whether the room is still in the directory. Asked once the room's
   * subscription is live: a room closed before that is gone from the
   * directory, and a close after it reaches the edge.
   */
  stillOpen(tenant: string, roomId: string): Promise<boolean>;
  /** The room's position in the log, read once its subscription is live. */
  setPosition(room: LocalRoom, publishedSeq: number): void;
  /**
   * Bookkeeping of a socket just opened, once `res.cork` has returned.
   */
  track(ws: WebSocket<Viewer>, viewer: Viewer): void;
  /** Sends `welcome` and starts delivery; never inside `res.cork`. */
  greet(ws: WebSocket<Viewer>): void;
}

export class Upgrades {
  #options: UpgradesOptions;
  /** Viewers of each room admitted and not opened yet, by room key. */
  #pendingAdmits = new Map<string, number>();
  /** True while `res.upgrade` runs inside `res.cork`; see the module header. */
  #upgrading = false;
  /** The socket the running upgrade opened, taken on once `cork` returns. */
  #opened: WebSocket<Viewer> | undefined;
  /** The running upgrade's socket was closed inside `cork`: the uWS bug. */
  #droppedAtOpen = false;

  constructor(options: UpgradesOptions) {
    this.#options = options;
    // Compiled now, not by its first call, which runs inside the first
    // upgrade's `cork` (a compile allocates; module header).
    this.open(undefined);
  }

  /**
   * The `open` handler. Inside an upgrade's `res.cork` it only notes the
   * socket: the bookkeeping and the greeting follow once `cork` has
   * returned, so that as little as possible runs (and allocates) in there.
   */
  readonly open = (ws: WebSocket<Viewer> | undefined): void => {
    if (this.#upgrading) {
      this.#opened = ws;
    } else if (ws !== undefined) {
      this.#start(ws, ws.getUserData());
    }
  };

  /** Whether a viewer of the room is admitted and its socket not open yet. */
  admitting(roomKey: string): boolean {
    return this.#pendingAdmits.has(roomKey);
  }

  /** The `upgrade` handler of the viewers' WebSocket route. */
  upgrade(
    res: HttpResponse,
    req: HttpRequest,
    context: us_socket_context_t,
  ): void {
    const secKey = req.getHeader('sec-websocket-key');
    const secProtocol = req.getHeader('sec-websocket-protocol');
    const secExtensions = req.getHeader('sec-websocket-extensions');
    const query = new URLSearchParams(req.getQuery() ?? '');
    // uWS answers '' for a header the request does not have.
    const origin = req.getHeader('origin');
    const request = {
      token: query.get('token') ?? undefined,
      resume: query.get('resume'),
      origin: origin === '' ? undefined : origin,
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
        this.#options.metrics.connects.inc({ outcome: outcome.code });
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

  /** An opened socket: the edge holds it, then greets it. */
  #start(ws: WebSocket<Viewer>, viewer: Viewer): void {
    this.#releaseAdmit(viewer.roomKey);
    this.#options.track(ws, viewer);
    this.#options.greet(ws);
  }

  /** Called first by the `close` handler, before the edge forgets the socket. */
  closed(viewer: Viewer, code: number): void {
    if (this.#upgrading) {
      this.#droppedAtOpen = true;
      // Nothing of ours closes a socket inside the upgrade's cork: this is
      // the uWS bug of the module header, counted so it stays visible.
      this.#options.metrics.connects.inc({ outcome: 'dropped_at_open' });
      this.#options.logger.warn(
        { code, user: viewer.claims.user },
        'viewer dropped by uWS at open',
      );
    }
  }

  /**
   * Completes an admitted upgrade: opens the socket inside `res.cork` with
   * nothing but a note in the open handler, then takes it on outside it
   * (see the module header for the uWS bug this avoids).
   */
  #upgradeNow(
    res: HttpResponse,
    viewer: Viewer,
    [secKey, secProtocol, secExtensions]: [string, string, string],
    context: us_socket_context_t,
  ): void {
    this.#upgrading = true;
    this.#droppedAtOpen = false;
    try {
      res.cork(() => {
        res.upgrade(viewer, secKey, secProtocol, secExtensions, context);
      });
    } finally {
      this.#upgrading = false;
    }

    const ws = this.#opened;
    this.#opened = undefined;
    if (ws === undefined || this.#droppedAtOpen) {
      // Closed already: the edge never held it (its close handler found
      // nothing to forget).
      this.#releaseAdmit(viewer.roomKey);
      return;
    }

    // The socket's own user data: uWS keeps a copy of what it was given.
    this.#start(ws, ws.getUserData());
  }

  async #admit(request: AdmissionRequest): Promise<Viewer | Refusal> {
    const { admission, log, logger } = this.#options;
    let admitted;
    try {
      admitted = await admission.check(request);
    } catch (error) {
      logger.error({ err: error }, 'admission failed');
      return UNAVAILABLE;
    }

    if ('status' in admitted) {
      return admitted;
    }

    const { claims, roomKey: key, resumeSeq } = admitted;
    this.#pendingAdmits.set(key, (this.#pendingAdmits.get(key) ?? 0) + 1);
    try {
      const local = this.#options.room(key, claims.room);
      await local.subscribed;
      local.positionRead ??= this.#readPosition(local);
      await local.positionRead;
      const lastSeq = await log.lastSeq(key);
      // Closed while this viewer was being admitted: its close went out
      // before the subscription, or came to the edge before the socket.
      if (
        local.closed ||
        !(await this.#options.stillOpen(claims.tenant, claims.room))
      ) {
        this.#releaseAdmit(key);
        return ROOM_NOT_FOUND;
      }

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
        connectedAtMs: this.#options.clock(),
      };
    } catch (error) {
      this.#releaseAdmit(key);
      logger.error({ err: error }, 'admission failed');
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

    this.#options.setPosition(room, published);
  }

  #releaseAdmit(key: string): void {
    const pending = (this.#pendingAdmits.get(key) ?? 1) - 1;
    if (pending <= 0) {
      this.#pendingAdmits.delete(key);
    } else {
      this.#pendingAdmits.set(key, pending);
    }
  }
}

/**
 * Stops V8 from compiling functions to baseline code (Sparkplug) from now
 * on, for the whole process, as `node --no-sparkplug` would. A compile that
 * happens inside uWS's upgrade (module header) can drop the socket being
 * opened; without Sparkplug, functions run interpreted until the optimizing
 * compiler, which compiles off the main thread, takes the hot ones.
 */
export function withoutBaselineCompiler(): void {
  v8.setFlagsFromString('--no-sparkplug');
}
