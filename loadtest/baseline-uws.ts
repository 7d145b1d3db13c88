/**
 * The `uws` baseline: a bare uWebSockets.js publish server speaking
 * roomcast's frames and the admin API subset of {@link BaselineRooms}. It is
 * the ceiling roomcast is compared with: the same frames, the same tick, the
 * same encode-once publish to a topic, and nothing else. This file is the
 * one-process form; `baseline-uws-workers.ts` spreads the viewers over
 * several processes with the same handlers.
 */
import uWS from 'uWebSockets.js';
import { decodeClientFrame, encodeFrame } from '../protocol/index.js';
import {
  BaselineRooms,
  type AdminReply,
  type ViewerClaim,
  type WelcomeFrame,
} from './baseline-rooms.js';

export interface BaselineOptions {
  /** 0 picks a free port. */
  adminPort: number;
  edgePort: number;
  /** Default 100 ms, roomcast's default tick. */
  tickMs?: number;
}

export interface RunningBaseline {
  adminPort: number;
  edgePort: number;
  close(): void;
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  202: '202 Accepted',
  204: '204 No Content',
  400: '400 Bad Request',
  404: '404 Not Found',
  409: '409 Conflict',
};

/** What the viewer handlers need: the one-process rooms, or a worker's. */
export interface ViewerRooms {
  admit(token: string): ViewerClaim | null;
  join(claim: ViewerClaim): WelcomeFrame | null;
  leave(roomId: string): void;
}

export function listen(
  app: uWS.TemplatedApp,
  port: number,
): Promise<uWS.us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', port, (socket) => {
      if (socket === false) {
        reject(new Error(`baseline could not listen on port ${port}`));
      } else {
        resolve(socket);
      }
    });
  });
}

/**
 * Serves the admin API subset on every path of `app`. A reply may be a
 * promise: the primary of several processes answers a room's creation once
 * every worker knows the room.
 */
export function serveAdmin(
  app: uWS.TemplatedApp,
  handle: (
    method: string,
    path: string,
    body: unknown,
  ) => AdminReply | Promise<AdminReply>,
): void {
  app.any('/*', (res, req) => {
    const method = req.getMethod().toUpperCase();
    const path = req.getUrl();
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const chunks: Buffer[] = [];
    res.onData((chunk, isLast) => {
      chunks.push(Buffer.from(chunk.slice(0)));
      if (!isLast || aborted) {
        return;
      }

      let body: unknown = {};
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        body = text === '' ? {} : JSON.parse(text);
      } catch {
        body = null;
      }

      const replied =
        body === null
          ? { status: 400, body: { error: { code: 'bad_json' } } }
          : handle(method, path, body);
      void Promise.resolve(replied).then((reply) => {
        if (aborted) {
          return;
        }

        res.cork(() => {
          res.writeStatus(STATUS_TEXT[reply.status] ?? String(reply.status));
          if (reply.body === undefined) {
            res.end();
          } else {
            res.writeHeader('content-type', 'application/json');
            res.end(JSON.stringify(reply.body));
          }
        });
      });
    });
  });
}

/** Serves viewers on `/ws`: token in the query, welcome, then the topic. */
export function serveViewers(app: uWS.TemplatedApp, rooms: ViewerRooms): void {
  app.ws<ViewerClaim>('/ws', {
    maxPayloadLength: 16 * 1024,
    idleTimeout: 60,
    maxBackpressure: 4 * 1024 * 1024,
    upgrade: (res, req, context) => {
      const claim = rooms.admit(req.getQuery('token') ?? '');
      if (claim === null) {
        res.writeStatus('401 Unauthorized').end();
        return;
      }

      res.upgrade(
        claim,
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      const claim = ws.getUserData();
      const welcome = rooms.join(claim);
      if (welcome === null) {
        ws.end(4004, 'room_closed');
        return;
      }

      ws.subscribe(claim.room);
      ws.send(encodeFrame(welcome), true);
    },
    message: (ws, message) => {
      // Only `ping` is answered; the baseline ignores viewer chat and likes.
      const decoded = decodeClientFrame(new Uint8Array(message), 16 * 1024);
      if (decoded.ok && decoded.frame.t === 'ping') {
        ws.send(encodeFrame({ t: 'pong', ts: Date.now() }), true);
      }
    },
    close: (ws) => {
      rooms.leave(ws.getUserData().room);
    },
  });
}

export async function startUwsBaseline(
  options: BaselineOptions,
): Promise<RunningBaseline> {
  const rooms = new BaselineRooms();
  const app = uWS.App();

  serveAdmin(app, (method, path, body) =>
    rooms.handleAdmin(method, path, body),
  );
  serveViewers(app, rooms);

  const tick = setInterval(() => {
    for (const frame of rooms.tick()) {
      app.publish(frame.room, encodeFrame(frame), true);
    }
  }, options.tickMs ?? 100);

  const adminSocket = await listen(app, options.adminPort);
  const edgeSocket = await listen(app, options.edgePort);
  return {
    adminPort: uWS.us_socket_local_port(adminSocket),
    edgePort: uWS.us_socket_local_port(edgeSocket),
    close: () => {
      clearInterval(tick);
      uWS.us_listen_socket_close(adminSocket);
      uWS.us_listen_socket_close(edgeSocket);
    },
  };
}
