/**
 * A viewer as a test sees one: a real `ws` client that decodes every frame
 * with a standard msgpack decoder and keeps the reliable items in arrival
 * order, counting each seq a merged gift stands for.
 */
import WebSocket from 'ws';
import { decodeValue } from '../protocol/index.js';
import { waitUntil } from './wait.js';

export interface SeenItem {
  type: string;
  seq: number;
  id: string;
  data?: unknown;
}

interface Frame {
  t: string;
  items?: {
    type: string;
    seq?: number;
    seqs?: number[];
    id?: string;
    data?: unknown;
    count?: number;
  }[];
  seq?: number;
  reason?: string;
  viewers?: number;
}

export class TestViewer {
  readonly socket: WebSocket;
  readonly frames: Frame[] = [];
  /** Every reliable seq received, in arrival order (merged gifts expanded). */
  readonly seqs: number[] = [];
  readonly items: SeenItem[] = [];
  welcome: Frame | undefined;
  closed: { code: number; reason: string } | undefined;
  /** The last viewer count a batch carried. */
  viewers = -1;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data: Buffer) => {
      const frame = decodeValue(data) as Frame;
      this.frames.push(frame);
      if (frame.t === 'welcome') {
        this.welcome = frame;
      }

      for (const item of frame.items ?? []) {
        if (item.type === 'viewers' && typeof item.count === 'number') {
          this.viewers = item.count;
        }

        if (typeof item.seq !== 'number') {
          continue;
        }

        this.seqs.push(...(item.seqs ?? [item.seq]));
        this.items.push({
          type: item.type,
          seq: item.seq,
          id: item.id ?? '',
          data: item.data,
        });
      }
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
  }

  /**
   * Opens a socket and waits for the welcome frame. A socket closed 1006
   * before its welcome is opened again, up to twice: uWebSockets.js 20.30
   * drops a small share of sockets right after the upgrade (docs/edge.md,
   * "dropped_at_open"), and clients reconnect as the protocol tells them.
   * Counted in {@link TestViewer.droppedAtOpen}.
   */
  static async connect(
    port: number,
    token: string,
    resumeSeq?: number,
  ): Promise<TestViewer> {
    const query = new URLSearchParams({ token });
    if (resumeSeq !== undefined) {
      query.set('resume', String(resumeSeq));
    }

    for (let attempt = 1; ; attempt++) {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws?${query}`);
      const viewer = new TestViewer(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
        socket.once('unexpected-response', (_request, response) => {
          reject(new Error(`upgrade refused: ${response.statusCode}`));
        });
      });
      await viewer.waitFor(
        () => viewer.welcome !== undefined || viewer.closed !== undefined,
        10_000,
        'welcome',
      );
      if (viewer.welcome !== undefined) {
        return viewer;
      }

      if (viewer.closed?.code !== 1006 || attempt >= 3) {
        throw new Error(
          `closed before the welcome: ${JSON.stringify(viewer.closed)}`,
        );
      }

      TestViewer.droppedAtOpen++;
    }
  }

  /** Sockets {@link connect} opened again after a drop at open. */
  static droppedAtOpen = 0;

  get lastSeq(): number {
    return this.seqs.at(-1) ?? 0;
  }

  waitFor(
    check: () => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    return waitUntil(check, timeoutMs, what, 20);
  }

  /** Waits until every seq up to `seq` arrived (or more came than that). */
  waitForSeq(seq: number, timeoutMs = 30_000): Promise<void> {
    return this.waitFor(
      () => this.lastSeq >= seq || this.seqs.length >= seq,
      timeoutMs,
      `seq ${seq} (at ${this.lastSeq}, ${this.seqs.length} items, closed: ${JSON.stringify(this.closed ?? null)})`,
    );
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) {
      return;
    }

    const closed = new Promise((resolve) => this.socket.once('close', resolve));
    this.socket.close(1000);
    await closed;
  }
}

/**
 * Asserts what the reliable lane promises: each seq from `from` to `to`
 * exactly once, strictly increasing, nothing else. Returns a description of
 * the first violation, or undefined.
 */
export function seqViolation(
  seqs: readonly number[],
  from: number,
  to: number,
): string | undefined {
  if (seqs.length !== to - from + 1) {
    return `expected ${to - from + 1} items, got ${seqs.length}`;
  }

  for (const [index, seq] of seqs.entries()) {
    if (seq !== from + index) {
      return `item ${index} has seq ${seq}, expected ${from + index}`;
    }
  }

  return undefined;
}
