/**
 * The `uws` baseline: a bare uWebSockets.js publish server speaking
 * roomcast's frames and the subset of its admin API the load test drives.
 * It is the ceiling roomcast is compared with: the same frames, the same
 * tick, the same encode-once publish to a topic, and nothing else (no bus,
 * no priority engine, no durable history, no per-viewer limits, tokens that
 * are plain base64url JSON instead of signed JWTs).
 *
 * Every tick, each room with pending items gets one batch frame: reliable
 * items whole with their seq, chat passed through, likes merged into one
 * `likes` item and joins into one `joins` item, as roomcast does.
 */
import uWS from 'uWebSockets.js';
import {
  decodeClientFrame,
  encodeFrame,
  type BatchItem,
} from '../protocol/index.js';

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

interface BaselineRoom {
  id: string;
  title: string;
  createdAt: string;
  seq: number;
  viewers: number;
  likesTotal: number;
  pending: BatchItem[];
  likes: number;
  joins: number;
  joinNames: string[];
}

interface ViewerData {
  room: string;
  user: string;
}

const RELIABLE = new Set(['host', 'gift', 'system']);

function readJson(res: uWS.HttpResponse): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.onData((chunk, isLast) => {
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        try {
          const value: unknown = JSON.parse(
            Buffer.concat(chunks).toString('utf8') || '{}',
          );
          resolve(
            typeof value === 'object' && value !== null
              ? (value as Record<string, unknown>)
              : {},
          );
        } catch (error) {
          reject(error as Error);
        }
      }
    });
    res.onAborted(() => reject(new Error('aborted')));
  });
}

function reply(res: uWS.HttpResponse, status: string, body?: unknown): void {
  res.cork(() => {
    res.writeStatus(status);
    if (body === undefined) {
      res.end();
    } else {
      res.writeHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    }
  });
}

function listen(
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

export async function startUwsBaseline(
  options: BaselineOptions,
): Promise<RunningBaseline> {
  const rooms = new Map<string, BaselineRoom>();
  let nextRoom = 1;
  let nextItem = 1;
  const app = uWS.App();

  const route = (
    handler: (
      body: Record<string, unknown>,
      params: string[],
    ) => [string, unknown?],
    paramCount = 0,
  ) => {
    return (res: uWS.HttpResponse, req: uWS.HttpRequest): void => {
      const params = Array.from(
        { length: paramCount },
        (_, i) => req.getParameter(i) ?? '',
      );
      readJson(res).then(
        (body) => {
          const [status, payload] = handler(body, params);
          reply(res, status, payload);
        },
        () => {
          // aborted or unparsable: nothing to answer or a 400
          try {
            reply(res, '400 Bad Request', { error: { code: 'bad_json' } });
          } catch {
            // the request was aborted; there is no response left to write
          }
        },
      );
    };
  };

  const roomView = (room: BaselineRoom) => ({
    id: room.id,
    title: room.title,
    viewers: room.viewers,
    createdAt: room.createdAt,
    lastSeq: room.seq,
  });

  app.post(
    '/v1/rooms',
    route((body) => {
      const id = typeof body['id'] === 'string' ? body['id'] : `b${nextRoom++}`;
      if (rooms.has(id)) {
        return ['409 Conflict', { error: { code: 'room_exists' } }];
      }

      const room: BaselineRoom = {
        id,
        title: typeof body['title'] === 'string' ? body['title'] : '',
        createdAt: new Date().toISOString(),
        seq: 0,
        viewers: 0,
        likesTotal: 0,
        pending: [],
        likes: 0,
        joins: 0,
        joinNames: [],
      };
      rooms.set(id, room);
      return ['201 Created', roomView(room)];
    }),
  );
  app.get('/v1/rooms/:id', (res, req) => {
    const room = rooms.get(req.getParameter(0) ?? '');
    reply(
      res,
      room === undefined ? '404 Not Found' : '200 OK',
      room === undefined
        ? { error: { code: 'room_not_found' } }
        : roomView(room),
    );
  });
  app.del('/v1/rooms/:id', (res, req) => {
    const id = req.getParameter(0) ?? '';
    const found = rooms.delete(id);
    reply(res, found ? '204 No Content' : '404 Not Found');
  });
  app.post(
    '/v1/tokens',
    route((body) => {
      const token = Buffer.from(
        JSON.stringify({ room: body['room'], user: body['user'] }),
      ).toString('base64url');
      return ['201 Created', { token, expiresAt: null }];
    }),
  );
  app.post(
    '/v1/rooms/:id/messages',
    route((body, [id]) => {
      const room = rooms.get(id ?? '');
      if (room === undefined) {
        return ['404 Not Found', { error: { code: 'room_not_found' } }];
      }

      const type = String(body['type']);
      const itemId = String(nextItem++);
      const from = body['from'] as { id: string; name?: string } | undefined;
      if (RELIABLE.has(type)) {
        room.seq += 1;
        room.pending.push({
          type,
          id: itemId,
          seq: room.seq,
          ts: Date.now(),
          ...(from === undefined ? {} : { from }),
          data: body['data'],
        });
        return ['202 Accepted', { id: itemId, seq: room.seq }];
      }

      if (type === 'chat') {
        const data = body['data'] as { text?: unknown } | undefined;
        room.pending.push({
          type: 'chat',
          id: itemId,
          ts: Date.now(),
          from: from ?? { id: 'anonymous' },
          text: String(data?.text ?? ''),
        });
      } else if (type === 'like') {
        room.likes += 1;
      } else if (type === 'join') {
        room.joins += 1;
        if (room.joinNames.length < 3 && from?.name !== undefined) {
          room.joinNames.push(from.name);
        }
      }

      return ['202 Accepted', { id: itemId }];
    }, 1),
  );

  app.ws<ViewerData>('/ws', {
    maxPayloadLength: 16 * 1024,
    idleTimeout: 60,
    maxBackpressure: 4 * 1024 * 1024,
    upgrade: (res, req, context) => {
      let data: ViewerData | null = null;
      try {
        const token = req.getQuery('token') ?? '';
        const parsed = JSON.parse(
          Buffer.from(token, 'base64url').toString('utf8'),
        ) as Partial<ViewerData>;
        if (typeof parsed.room === 'string' && rooms.has(parsed.room)) {
          data = { room: parsed.room, user: String(parsed.user) };
        }
      } catch {
        data = null;
      }

      if (data === null) {
        res.writeStatus('401 Unauthorized').end();
        return;
      }

      res.upgrade(
        data,
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      const { room: id, user } = ws.getUserData();
      const room = rooms.get(id);
      if (room === undefined) {
        ws.end(4004, 'room_closed');
        return;
      }

      room.viewers += 1;
      ws.subscribe(id);
      ws.send(
        encodeFrame({
          t: 'welcome',
          room: id,
          user,
          viewers: room.viewers,
          seq: room.seq,
          idleTimeoutMs: 60_000,
          limits: { chatPerSecond: 0, likesPerSecond: 0, maxFrameBytes: 16384 },
          backoff: { baseMs: 500, maxMs: 10_000 },
        }),
        true,
      );
    },
    message: (ws, message) => {
      // Only `ping` is answered; the baseline ignores viewer chat and likes.
      const decoded = decodeClientFrame(new Uint8Array(message), 16 * 1024);
      if (decoded.ok && decoded.frame.t === 'ping') {
        ws.send(encodeFrame({ t: 'pong', ts: Date.now() }), true);
      }
    },
    close: (ws) => {
      const room = rooms.get(ws.getUserData().room);
      if (room !== undefined) {
        room.viewers -= 1;
      }
    },
  });

  const tick = setInterval(() => {
    for (const room of rooms.values()) {
      const items = room.pending;
      if (room.likes > 0) {
        room.likesTotal += room.likes;
        items.push({
          type: 'likes',
          count: room.likes,
          total: room.likesTotal,
        });
        room.likes = 0;
      }

      if (room.joins > 0) {
        items.push({ type: 'joins', count: room.joins, names: room.joinNames });
        room.joins = 0;
        room.joinNames = [];
      }

      if (items.length === 0) {
        continue;
      }

      room.pending = [];
      app.publish(
        room.id,
        encodeFrame({ t: 'batch', room: room.id, items }),
        true,
      );
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
