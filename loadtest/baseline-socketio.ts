/**
 * The `socketio` baseline: the common alternative to roomcast, a Socket.IO
 * server with the msgpack parser broadcasting the same frames to a room
 * (`io.to(room).emit('frame', batch)`, one encode per broadcast), with the
 * admin API subset of {@link BaselineRooms} on a plain `node:http` server.
 * WebSocket transport only; viewers connect to
 * `ws://HOST:PORT/socket.io/?EIO=4&transport=websocket&token=...`.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as SocketIoServer } from 'socket.io';
import * as msgpackParser from 'socket.io-msgpack-parser';
import { BaselineRooms, type ViewerClaim } from './baseline-rooms.js';
import type { BaselineOptions, RunningBaseline } from './baseline-uws.js';

/** Every frame travels as this one Socket.IO event, carrying the frame map. */
export const SOCKETIO_EVENT = 'frame';

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startSocketIoBaseline(
  options: BaselineOptions,
): Promise<RunningBaseline> {
  const rooms = new BaselineRooms();
  const admin = createServer((req, res) => {
    readBody(req).then(
      (text) => {
        let body: unknown = {};
        try {
          body = text === '' ? {} : JSON.parse(text);
        } catch {
          body = null;
        }

        const path = (req.url ?? '/').split('?')[0] ?? '/';
        const reply =
          body === null
            ? { status: 400, body: { error: { code: 'bad_json' } } }
            : rooms.handleAdmin(req.method ?? 'GET', path, body);
        if (reply.body === undefined) {
          res.writeHead(reply.status).end();
        } else {
          res
            .writeHead(reply.status, { 'content-type': 'application/json' })
            .end(JSON.stringify(reply.body));
        }
      },
      () => res.writeHead(400).end(),
    );
  });
  admin.keepAliveTimeout = 60_000;
  const edge = createServer((_req, res) => res.writeHead(404).end());
  const io = new SocketIoServer(edge, {
    parser: msgpackParser,
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: false,
    maxHttpBufferSize: 16 * 1024,
  });
  io.use((socket, next) => {
    const token = socket.handshake.query['token'];
    const claim = typeof token === 'string' ? rooms.admit(token) : null;
    if (claim === null) {
      next(new Error('unauthorized'));
      return;
    }

    (socket.data as { claim?: ViewerClaim }).claim = claim;
    next();
  });
  io.on('connection', (socket) => {
    const claim = (socket.data as { claim: ViewerClaim }).claim;
    const welcome = rooms.join(claim);
    if (welcome === null) {
      socket.disconnect(true);
      return;
    }

    void socket.join(claim.room);
    socket.emit(SOCKETIO_EVENT, welcome);
    socket.on('disconnect', () => rooms.leave(claim.room));
  });
  const tick = setInterval(() => {
    for (const frame of rooms.tick()) {
      io.to(frame.room).emit(SOCKETIO_EVENT, frame);
    }
  }, options.tickMs ?? 100);
  const adminPort = await listen(admin, options.adminPort);
  const edgePort = await listen(edge, options.edgePort);
  return {
    adminPort,
    edgePort,
    close: () => {
      clearInterval(tick);
      void io.close();
      admin.close();
    },
  };
}
