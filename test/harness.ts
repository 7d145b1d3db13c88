/**
 * Test harness: a real standalone roomcast on port 0 in this process, an
 * admin API client and real WebSocket viewers (the `ws` package) that record
 * every frame and let tests wait for the one they need.
 */
import { request as httpRequest, type RequestOptions } from 'node:http';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import WebSocket from 'ws';
import { Packr, Unpackr } from 'msgpackr';
import { loadConfig, type Settings } from '../config/index.js';
import { silentLogger } from '../logging/index.js';
import type { ReliableLog } from '../reliable-log/index.js';
import {
  startStandalone,
  type EdgeHooks,
  type RunningStandalone,
} from '../roles/index.js';

export const TEST_KEYS = {
  t1: 't1_key_0123456789abcdef',
  t2: 't2_key_0123456789abcdef',
} as const;
export const TEST_SECRET = 'test-secret-0123456789-0123456789-abcdef';

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const packr = new Packr({ useRecords: false, variableMapSize: true });

export function encode(value: unknown): Buffer {
  return packr.pack(value);
}

/**
 * One HTTP request through node:http, for what fetch will not send (oversized
 * or malformed headers); the answer's status and text.
 */
export function rawRequest(
  options: RequestOptions,
  body?: string | Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(options, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, text }),
      );
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** The stable `code` of an admin API error body, or undefined. */
export function errorCode(body: Record<string, unknown>): unknown {
  return (body['error'] as { code?: unknown } | undefined)?.code;
}

export type Frame = Record<string, unknown> & { t: string };

export interface TestServer {
  running: RunningStandalone;
  adminUrl: string;
  edgeUrl: string;
  api(
    method: string,
    path: string,
    body?: unknown,
    options?: { key?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  token(
    room: string,
    user: string,
    extra?: Record<string, unknown>,
  ): Promise<string>;
  /** Creates a room (with more of the create body); fails the test unless 201. */
  createRoom(id: string, body?: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/**
 * One server for a whole test file: started before its tests, closed after
 * them together with every viewer the tests put in `viewers`. Use it at the
 * top level of the file; its members work inside tests.
 */
export function useTestServer(
  overrides: Partial<Settings> = {},
): TestServer & { viewers: TestViewer[] } {
  let started: TestServer | undefined;
  const viewers: TestViewer[] = [];
  const current = (): TestServer => {
    if (started === undefined) {
      throw new Error('the test server starts in before(); use it in tests');
    }

    return started;
  };
  before(async () => {
    started = await startTestServer(overrides);
  });
  after(async () => {
    for (const viewer of viewers) {
      viewer.close();
    }

    await started?.close();
  });
  return {
    viewers,
    get running() {
      return current().running;
    },
    get adminUrl() {
      return current().adminUrl;
    },
    get edgeUrl() {
      return current().edgeUrl;
    },
    api: (...args) => current().api(...args),
    token: (...args) => current().token(...args),
    createRoom: (...args) => current().createRoom(...args),
    close: () => current().close(),
  };
}

export async function startTestServer(
  overrides: Partial<Settings> = {},
  edgeHooks: EdgeHooks = {},
): Promise<TestServer> {
  const settings = loadConfig(
    {},
    {
      host: '127.0.0.1',
      adminPort: 0,
      edgePort: 0,
      logLevel: 'silent',
      apiKeys: `t1:${TEST_KEYS.t1},t2:${TEST_KEYS.t2}`,
      jwtSecret: TEST_SECRET,
      ...overrides,
    },
  );
  const running = await startStandalone(settings, silentLogger(), edgeHooks);
  const adminUrl = `http://127.0.0.1:${running.adminPort}`;
  const edgeUrl = `ws://127.0.0.1:${running.edgePort}/ws`;
  const api: TestServer['api'] = async (method, path, body, options = {}) => {
    const headers: Record<string, string> = {
      authorization: `Bearer ${options.key ?? TEST_KEYS.t1}`,
      ...options.headers,
    };
    if (body !== undefined && !('content-type' in headers)) {
      headers['content-type'] = 'application/json';
    }

    const response = await fetch(adminUrl + path, {
      method,
      headers,
      body:
        body === undefined
          ? undefined
          : typeof body === 'string'
            ? body
            : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  };
  return {
    running,
    adminUrl,
    edgeUrl,
    api,
    async token(room, user, extra = {}) {
      const result = await api('POST', '/v1/tokens', { room, user, ...extra });
      if (result.status !== 201) {
        throw new Error(
          `token: ${result.status} ${JSON.stringify(result.body)}`,
        );
      }

      return result.body['token'] as string;
    },
    async createRoom(id, body = {}) {
      const created = await api('POST', '/v1/rooms', { id, ...body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    },
    close: () => running.close(),
  };
}

/** The sum of a metric's lines (every label set) in a scrape of the server. */
export async function metric(
  server: TestServer,
  name: string,
): Promise<number> {
  const text = await (await fetch(`${server.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }

  return sum;
}

/** A real WebSocket viewer that records every frame. */
export class TestViewer {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  closeReason = '';
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters = new Set<() => void>();

  /** @param origin the Origin header to send; none by default, as apps do */
  constructor(url: string, origin?: string) {
    this.ws = new WebSocket(url, origin === undefined ? {} : { origin });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => {
          reject(
            new RefusedError(response.statusCode ?? 0, response.headers, body),
          );
        });
      });
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.#notify();
        resolve({ code, reason: this.closeReason });
      });
    });
    this.ws.on('message', (data: Buffer) => {
      this.frames.push(unpackr.unpack(data) as Frame);
      this.#notify();
    });
  }

  static async connect(url: string, origin?: string): Promise<TestViewer> {
    const viewer = new TestViewer(url, origin);
    await viewer.opened;
    await viewer.waitFor((frame) => frame.t === 'welcome');
    return viewer;
  }

  send(value: unknown): void {
    this.ws.send(Buffer.isBuffer(value) ? value : encode(value));
  }

  /** Every batch item received so far, in order. */
  items(): Record<string, unknown>[] {
    return this.frames
      .filter((frame) => frame.t === 'batch')
      .flatMap((frame) => frame['items'] as Record<string, unknown>[]);
  }

  /** Resolves once a frame matches, or rejects after `timeoutMs`. */
  waitFor(match: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    return this.#until(() => this.frames.find(match), timeoutMs, 'frame');
  }

  /** Resolves once `check` returns true, re-checked on every frame. */
  waitUntil(check: () => boolean, timeoutMs = 5000): Promise<true> {
    return this.#until(
      () => (check() ? true : undefined),
      timeoutMs,
      'condition',
    );
  }

  close(): void {
    this.ws.close();
  }

  #until<T>(
    probe: () => T | undefined,
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = probe();
        if (found !== undefined) {
          cleanup();
          resolve(found);
          return true;
        }

        if (this.closeCode !== undefined) {
          cleanup();
          reject(
            new Error(`socket closed (${this.closeCode}) before the ${what}`),
          );
          return true;
        }

        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out waiting for a ${what}; got ${JSON.stringify(this.frames).slice(0, 500)}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const waiter = () => {
        check();
      };
      if (!check()) {
        this.#waiters.add(waiter);
      }
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) {
      waiter();
    }
  }
}

export class RefusedError extends Error {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;

  constructor(
    status: number,
    headers: Record<string, string | string[] | undefined> = {},
    body = '',
  ) {
    super(`upgrade refused with ${status}: ${body}`);
    this.status = status;
    this.headers = headers;
    this.body = body;
  }

  get code(): string | undefined {
    try {
      return (JSON.parse(this.body) as { error?: { code?: string } }).error
        ?.code;
    } catch {
      return undefined;
    }
  }
}

/**
 * A log for `EdgeHooks.edgeLog`: while `held`, the edge's reads of history
 * and of the last seq wait until {@link release} (a read that takes its
 * time: a repair, an admission).
 */
export class GatedLog implements ReliableLog {
  held = false;
  /** Reads that waited so far. */
  waited = 0;
  #log: ReliableLog;
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => undefined;

  constructor(log: ReliableLog) {
    this.#log = log;
  }

  hold(): void {
    this.held = true;
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  release(): void {
    this.held = false;
    this.#open();
  }

  append(...args: Parameters<ReliableLog['append']>) {
    return this.#log.append(...args);
  }

  appendOnce(...args: Parameters<ReliableLog['appendOnce']>) {
    return this.#log.appendOnce(...args);
  }

  async readAfter(...args: Parameters<ReliableLog['readAfter']>) {
    if (this.held) {
      this.waited++;
      await this.#gate;
    }

    return this.#log.readAfter(...args);
  }

  async lastSeq(roomKey: string) {
    if (this.held) {
      this.waited++;
      await this.#gate;
    }

    return this.#log.lastSeq(roomKey);
  }

  publishedSeq(roomKey: string) {
    return this.#log.publishedSeq(roomKey);
  }

  follow(...args: Parameters<ReliableLog['follow']>) {
    return this.#log.follow(...args);
  }

  drop(roomKey: string) {
    return this.#log.drop(roomKey);
  }
}
