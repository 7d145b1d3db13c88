/**
 * The `uws` baseline in several processes, to compare with a roomcast edge of
 * as many processes: a process may open only ~19,500 files here, so one
 * process cannot hold a 100,000-viewer room.
 *
 * The primary keeps the rooms, the admin API subset and the tick; it encodes
 * each room's batch frame once per tick, as the one-process baseline does,
 * and sends every worker one IPC message per tick holding all the encoded
 * frames (`serialization: 'advanced'` carries the bytes without JSON). The
 * workers share the edge port (SO_REUSEPORT, on a port the primary picked:
 * uWS does not share a port the kernel chose for port 0), accept viewers and
 * publish what they receive. A worker learns a room before the primary
 * answers its creation, and a room's seq from the frames, so a welcome's seq
 * is the last one the viewer's process published. Viewer counts reach the
 * primary once per tick.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import uWS from 'uWebSockets.js';
import { encodeFrame } from '../protocol/index.js';
import {
  BaselineRooms,
  readToken,
  welcomeFrame,
  type AdminReply,
  type ViewerClaim,
  type WelcomeFrame,
} from './baseline-rooms.js';
import { freePort } from './free-port.js';
import {
  listen,
  serveAdmin,
  serveViewers,
  type BaselineOptions,
  type RunningBaseline,
} from './baseline-uws.js';

const LOADTEST_BIN = fileURLToPath(
  new URL('../bin/roomcast-loadtest.js', import.meta.url),
);
const START_TIMEOUT_MS = 30_000;

type PrimaryMessage =
  | { t: 'room'; id: string; ack: number }
  | { t: 'gone'; id: string }
  | { t: 'frames'; frames: { room: string; seq: number; bytes: Uint8Array }[] };

type WorkerMessage =
  | { t: 'listening' }
  | { t: 'ack'; ack: number }
  | { t: 'viewers'; deltas: [string, number][]; open: number };

export interface WorkerFigures {
  pid: number;
  /** Viewers open as of the worker's last report (once per tick). */
  viewers: number;
  peakViewers: number;
}

export interface RunningWorkersBaseline extends RunningBaseline {
  workerPids: number[];
  /**
   * Settles when a worker exits before {@link RunningBaseline.close}: its
   * viewers are gone and the baseline is no longer the one measured.
   */
  workerExited: Promise<string>;
}

/**
 * Starts the primary and `processes` workers. Besides the admin subset, the
 * primary answers `GET /v1/workers` with each worker's viewers.
 */
export async function startUwsWorkersBaseline(
  options: BaselineOptions & { processes: number },
): Promise<RunningWorkersBaseline> {
  const rooms = new BaselineRooms();
  const edgePort = options.edgePort === 0 ? await freePort() : options.edgePort;
  const workers: { child: ChildProcess; figures: WorkerFigures }[] = [];
  const acks = new Map<number, () => void>();
  let nextAck = 1;
  const send = (child: ChildProcess, message: PrimaryMessage): void => {
    if (child.connected) {
      child.send(message);
    }
  };

  const listening: Promise<void>[] = [];
  for (let index = 0; index < options.processes; index++) {
    const child = fork(
      LOADTEST_BIN,
      ['baseline', 'uws-worker', '--edge-port', String(edgePort)],
      {
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const figures = { pid: child.pid ?? -1, viewers: 0, peakViewers: 0 };
    workers.push({ child, figures });
    listening.push(
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error('a uws baseline worker did not listen'));
        }, START_TIMEOUT_MS);
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`a uws baseline worker exited (code ${code})`));
        });
        child.on('message', (message: WorkerMessage) => {
          if (message.t === 'listening') {
            clearTimeout(timer);
            resolve();
          } else if (message.t === 'ack') {
            acks.get(message.ack)?.();
          } else {
            for (const [room, delta] of message.deltas) {
              rooms.countViewers(room, delta);
            }

            figures.viewers = message.open;
            figures.peakViewers = Math.max(figures.peakViewers, message.open);
          }
        });
      }),
    );
  }

  let stopping = false;
  const stopWorkers = (): void => {
    stopping = true;
    for (const { child } of workers) {
      child.kill('SIGTERM');
    }
  };
  try {
    await Promise.all(listening);
  } catch (error) {
    for (const { child } of workers) {
      child.kill('SIGKILL');
    }

    throw error;
  }

  const workerExited = new Promise<string>((resolve) => {
    for (const { child, figures } of workers) {
      child.once('exit', (code, signal) => {
        if (!stopping) {
          resolve(
            `worker ${figures.pid} exited (code ${code}, signal ${signal})`,
          );
        }
      });
    }
  });

  /** Every worker knows the room before its creation is answered. */
  const announce = async (id: string): Promise<void> => {
    await Promise.all(
      workers.map(({ child }) => {
        const ack = nextAck++;
        return new Promise<void>((resolve) => {
          acks.set(ack, () => {
            acks.delete(ack);
            resolve();
          });
          send(child, { t: 'room', id, ack });
        });
      }),
    );
  };

  const handle = async (
    method: string,
    path: string,
    body: unknown,
  ): Promise<AdminReply> => {
    if (method === 'GET' && path === '/v1/workers') {
      return { status: 200, body: workers.map(({ figures }) => figures) };
    }

    const reply = rooms.handleAdmin(method, path, body);
    const id = (reply.body as { id?: unknown } | undefined)?.id;
    if (reply.status === 201 && typeof id === 'string') {
      await announce(id);
    } else if (method === 'DELETE' && reply.status === 204) {
      const gone = decodeURIComponent(path.split('/')[3] ?? '');
      for (const { child } of workers) {
        send(child, { t: 'gone', id: gone });
      }
    }

    return reply;
  };

  const app = uWS.App();
  serveAdmin(app, handle);
  const tick = setInterval(() => {
    const frames = [...rooms.tick()].map((frame) => ({
      room: frame.room,
      seq: rooms.lastSeq(frame.room),
      bytes: encodeFrame(frame),
    }));
    if (frames.length > 0) {
      for (const { child } of workers) {
        send(child, { t: 'frames', frames });
      }
    }
  }, options.tickMs ?? 100);
  const adminSocket = await listen(app, options.adminPort);
  return {
    adminPort: uWS.us_socket_local_port(adminSocket),
    edgePort,
    workerPids: workers.map(({ figures }) => figures.pid),
    workerExited,
    close: () => {
      clearInterval(tick);
      uWS.us_listen_socket_close(adminSocket);
      stopWorkers();
    },
  };
}

/** A worker's view of the rooms: what the primary announced and published. */
class WorkerRooms {
  readonly #seqs = new Map<string, number>();
  readonly #viewers = new Map<string, number>();
  readonly #deltas = new Map<string, number>();
  #open = 0;

  add(id: string): void {
    this.#seqs.set(id, 0);
  }

  remove(id: string): void {
    this.#seqs.delete(id);
  }

  published(room: string, seq: number): void {
    if (this.#seqs.has(room)) {
      this.#seqs.set(room, seq);
    }
  }

  admit(token: string): ViewerClaim | null {
    const claim = readToken(token);
    return claim !== null && this.#seqs.has(claim.room) ? claim : null;
  }

  join(claim: ViewerClaim): WelcomeFrame | null {
    const seq = this.#seqs.get(claim.room);
    if (seq === undefined) {
      return null;
    }

    this.#count(claim.room, 1);
    return welcomeFrame(claim, this.#viewers.get(claim.room) ?? 1, seq);
  }

  leave(roomId: string): void {
    this.#count(roomId, -1);
  }

  /** Viewer changes since the last report, and the viewers open now. */
  report(): { deltas: [string, number][]; open: number } | null {
    if (this.#deltas.size === 0) {
      return null;
    }

    const deltas = [...this.#deltas];
    this.#deltas.clear();
    return { deltas, open: this.#open };
  }

  #count(room: string, delta: number): void {
    this.#open += delta;
    this.#viewers.set(room, (this.#viewers.get(room) ?? 0) + delta);
    this.#deltas.set(room, (this.#deltas.get(room) ?? 0) + delta);
  }
}

/** `roomcast-loadtest baseline uws-worker`: a worker forked by the primary. */
export async function runUwsWorker(
  edgePort: number,
  tickMs = 100,
): Promise<void> {
  const rooms = new WorkerRooms();
  const app = uWS.App();
  serveViewers(app, rooms);
  process.on('message', (message: PrimaryMessage) => {
    switch (message.t) {
      case 'room':
        rooms.add(message.id);
        process.send?.({ t: 'ack', ack: message.ack });
        return;
      case 'gone':
        rooms.remove(message.id);
        return;
      case 'frames':
        for (const frame of message.frames) {
          rooms.published(frame.room, frame.seq);
          app.publish(frame.room, frame.bytes, true);
        }
    }
  });
  const edgeSocket = await listen(app, edgePort);
  const reporting = setInterval(() => {
    const report = rooms.report();
    if (report !== null) {
      process.send?.({ t: 'viewers', ...report });
    }
  }, tickMs);
  process.send?.({ t: 'listening' });
  // The primary's end: SIGTERM, or its IPC channel closing when it dies.
  await Promise.race([
    once(process, 'SIGTERM'),
    once(process, 'SIGINT'),
    once(process, 'disconnect'),
  ]);
  clearInterval(reporting);
  uWS.us_listen_socket_close(edgeSocket);
  process.exit(0);
}
