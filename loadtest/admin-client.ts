/**
 * The parts of roomcast's admin API the load test drives: rooms, viewer
 * tokens, messages. Requests go over a keep-alive agent so publishing at a
 * few thousand requests a second reuses a small pool of connections.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request } from 'node:http';
import { LoadtestError } from './loadtest-error.js';

export interface RoomInfo {
  id: string;
  viewers?: number;
  stats?: unknown;
}

export interface PublishBody {
  type: string;
  from?: { id: string; name?: string };
  data?: unknown;
}

/** The reply to a publish: `seq` for reliable types. */
export interface PublishReply {
  status: number;
  id?: string;
  seq?: number;
  /** `error.code` of a refused publish. */
  code?: string;
}

export interface AdminClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  apiKey: string;
  /** Most concurrent connections to the admin API; default 32. */
  maxSockets?: number;
  /** Per-request bound; default 10,000 ms. */
  timeoutMs?: number;
}

interface RawReply {
  status: number;
  body: unknown;
  /** Seconds from a `Retry-After` header, when the reply had one. */
  retryAfterSeconds?: number;
}

/**
 * How many times a token mint refused with 429 is tried again. Viewers
 * connect faster than one API key may mint (the per-key rate limit), so
 * the simulator waits as the API tells it to, like a platform would.
 */
const MINT_ATTEMPTS = 30;

export class AdminClient {
  readonly #url: URL;
  readonly #authorization: string;
  readonly #agent: Agent;
  readonly #timeoutMs: number;

  constructor(options: AdminClientOptions) {
    this.#url = new URL(options.url);
    if (this.#url.protocol !== 'http:') {
      throw new LoadtestError(
        'LOADTEST_BAD_OPTION',
        `admin URL must be http://, got ${options.url}`,
      );
    }

    this.#authorization = `Bearer ${options.apiKey}`;
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: options.maxSockets ?? 32,
    });
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  async createRoom(title: string): Promise<RoomInfo> {
    const reply = await this.#request('POST', '/v1/rooms', { title });
    const room = this.#expect(reply, 201, 'create room');
    if (typeof room['id'] !== 'string') {
      throw new LoadtestError(
        'LOADTEST_ADMIN_REPLY',
        'create room: reply has no string id',
      );
    }

    return { id: room['id'] };
  }

  async getRoom(id: string): Promise<RoomInfo & Record<string, unknown>> {
    const reply = await this.#request(
      'GET',
      `/v1/rooms/${encodeURIComponent(id)}`,
    );
    const room = this.#expect(reply, 200, 'get room');
    return { ...room, id };
  }

  async deleteRoom(id: string): Promise<void> {
    const reply = await this.#request(
      'DELETE',
      `/v1/rooms/${encodeURIComponent(id)}`,
    );
    if (reply.status !== 204 && reply.status !== 404) {
      this.#expect(reply, 204, 'delete room');
    }
  }

  async mintToken(room: string, user: string, name: string): Promise<string> {
    const request = { room, user, name, role: 'viewer', ttlSeconds: 3600 };
    let reply = await this.#request('POST', '/v1/tokens', request);
    for (
      let attempt = 1;
      reply.status === 429 && attempt < MINT_ATTEMPTS;
      attempt++
    ) {
      // Spread the retries over the window the API named, so the waiting
      // mints do not all come back in the same millisecond.
      const windowMs = 1000 * (reply.retryAfterSeconds ?? 1);
      await delay(windowMs * (0.5 + Math.random()));
      reply = await this.#request('POST', '/v1/tokens', request);
    }

    const body = this.#expect(reply, 201, 'mint token');
    if (typeof body['token'] !== 'string') {
      throw new LoadtestError(
        'LOADTEST_ADMIN_REPLY',
        'mint token: reply has no token',
      );
    }

    return body['token'];
  }

  /** Publishes one message; a refusal is a reply, not a throw. */
  async publish(room: string, body: PublishBody): Promise<PublishReply> {
    const reply = await this.#request(
      'POST',
      `/v1/rooms/${encodeURIComponent(room)}/messages`,
      body,
    );
    const fields = asRecord(reply.body);
    if (reply.status === 202) {
      return {
        status: 202,
        ...(typeof fields['id'] === 'string' ? { id: fields['id'] } : {}),
        ...(typeof fields['seq'] === 'number' ? { seq: fields['seq'] } : {}),
      };
    }

    const code = asRecord(fields['error'])['code'];
    return {
      status: reply.status,
      ...(typeof code === 'string' ? { code } : {}),
    };
  }

  /** The service's Prometheus text from `GET /metrics`, or null. */
  async metricsText(): Promise<string | null> {
    const reply = await this.#request('GET', '/metrics');
    return reply.status === 200 && typeof reply.body === 'string'
      ? reply.body
      : null;
  }

  close(): void {
    this.#agent.destroy();
  }

  #expect(
    reply: RawReply,
    status: number,
    what: string,
  ): Record<string, unknown> {
    if (reply.status !== status) {
      const error = asRecord(asRecord(reply.body)['error']);
      throw new LoadtestError(
        'LOADTEST_ADMIN_REFUSED',
        `${what}: HTTP ${reply.status}` +
          (typeof error['code'] === 'string' ? ` ${error['code']}` : '') +
          (typeof error['message'] === 'string' ? `: ${error['message']}` : ''),
      );
    }

    return asRecord(reply.body);
  }

  #request(method: string, path: string, body?: unknown): Promise<RawReply> {
    const payload =
      body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          protocol: this.#url.protocol,
          hostname: this.#url.hostname,
          port: this.#url.port,
          method,
          path,
          agent: this.#agent,
          timeout: this.#timeoutMs,
          headers: {
            authorization: this.#authorization,
            ...(payload === undefined
              ? {}
              : {
                  'content-type': 'application/json',
                  'content-length': payload.length,
                }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = null;
            if (text !== '') {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
            }

            const retryAfter = Number(res.headers['retry-after']);
            resolve({
              status: res.statusCode ?? 0,
              body: parsed,
              ...(Number.isFinite(retryAfter) && retryAfter >= 0
                ? { retryAfterSeconds: retryAfter }
                : {}),
            });
          });
        },
      );
      req.on('timeout', () => {
        req.destroy(
          new LoadtestError(
            'LOADTEST_ADMIN_TIMEOUT',
            `${method} ${path}: no reply in ${this.#timeoutMs} ms`,
          ),
        );
      });
      req.on('error', (cause: Error) => {
        reject(
          cause instanceof LoadtestError
            ? cause
            : new LoadtestError(
                'LOADTEST_ADMIN_UNREACHABLE',
                `${method} ${this.#url.origin}${path}: ${cause.message}`,
                { cause },
              ),
        );
      });
      req.end(payload);
    });
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
