/**
 * For the SDK's tests: a real standalone roomcast in this process (restartable
 * on the same edge port), a small admin API client, a TCP proxy whose
 * connections the test can cut to simulate a dropped network, and a helper
 * that waits for a client event.
 */
import { once } from 'node:events';
import net from 'node:net';
import { loadConfig, type Settings } from '../config/index.js';
import { silentLogger } from '../logging/index.js';
import { startStandalone, type RunningStandalone } from '../roles/index.js';
import type { RoomcastClient, RoomcastEvents } from './index.js';

export const TEST_TENANT = 't1';
export const TEST_API_KEY = 'sdk-test-key-0123456789';
export const TEST_JWT_SECRET = 'sdk-test-secret-0123456789-0123456789';

export class TestRoomcast {
  #running: RunningStandalone;
  #overrides: Partial<Settings>;

  private constructor(
    running: RunningStandalone,
    overrides: Partial<Settings>,
  ) {
    this.#running = running;
    this.#overrides = overrides;
  }

  static async start(overrides: Partial<Settings> = {}): Promise<TestRoomcast> {
    return new TestRoomcast(await launch(overrides), overrides);
  }

  get edgePort(): number {
    return this.#running.edgePort;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.#running.edgePort}/ws`;
  }

  get pageUrl(): string {
    return `http://127.0.0.1:${this.#running.edgePort}/`;
  }

  /**
   * Stops the process's roles and starts fresh ones (new ports: put a
   * {@link DropProxy} in front to keep one address across restarts).
   */
  async restart(): Promise<void> {
    await this.#running.close();
    this.#running = await launch(this.#overrides);
  }

  close(): Promise<void> {
    return this.#running.close();
  }

  async api(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(
      `http://127.0.0.1:${this.#running.adminPort}/v1${path}`,
      {
        method,
        headers: {
          authorization: `Bearer ${TEST_API_KEY}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      },
    );
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  }

  async createRoom(id: string): Promise<void> {
    const { status, body } = await this.api('POST', '/rooms', { id });
    if (status !== 201) {
      throw new Error(`room create failed: ${status} ${JSON.stringify(body)}`);
    }
  }

  async token(
    room: string,
    user: string,
    extra: Record<string, unknown> = {},
  ): Promise<string> {
    const { status, body } = await this.api('POST', '/tokens', {
      room,
      user,
      ...extra,
    });
    if (status !== 201 || typeof body['token'] !== 'string') {
      throw new Error(`token mint failed: ${status} ${JSON.stringify(body)}`);
    }

    return body['token'];
  }

  /** Publishes through the admin API; resolves to the reliable seq, if any. */
  async publish(
    room: string,
    type: string,
    data?: unknown,
    from?: { id: string; name?: string },
  ): Promise<number | undefined> {
    const { status, body } = await this.api('POST', `/rooms/${room}/messages`, {
      type,
      ...(data === undefined ? {} : { data }),
      ...(from === undefined ? {} : { from }),
    });
    if (status !== 202) {
      throw new Error(`publish failed: ${status} ${JSON.stringify(body)}`);
    }

    return typeof body['seq'] === 'number' ? body['seq'] : undefined;
  }
}

async function launch(
  overrides: Partial<Settings>,
): Promise<RunningStandalone> {
  const settings = loadConfig(
    {},
    {
      host: '127.0.0.1',
      adminPort: 0,
      edgePort: 0,
      tickMs: 20,
      logLevel: 'silent',
      apiKeys: `${TEST_TENANT}:${TEST_API_KEY}`,
      jwtSecret: TEST_JWT_SECRET,
      ...overrides,
    },
  );
  return startStandalone(settings, silentLogger());
}

/**
 * A TCP proxy in front of the edge. `cut()` destroys every connection
 * without a close frame (what a lost network looks like to both ends);
 * while `blocked`, new connections are destroyed on arrival.
 */
export class DropProxy {
  blocked = false;
  /** Where new connections go; change it to follow a restarted server. */
  targetPort: number;
  #server: net.Server;
  #sockets = new Set<net.Socket>();
  #port = 0;

  constructor(targetPort: number) {
    this.targetPort = targetPort;
    this.#server = net.createServer((client) => {
      if (this.blocked) {
        client.destroy();
        return;
      }

      const upstream = net.connect(this.targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }

      client.pipe(upstream).pipe(client);
    });
  }

  async listen(): Promise<void> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as net.AddressInfo).port;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.#port}/ws`;
  }

  cut(): void {
    for (const socket of this.#sockets) {
      socket.destroy();
    }
  }

  async close(): Promise<void> {
    this.cut();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

/**
 * Resolves with the first `event` payload for which `match` holds; rejects
 * if the client closes for good first.
 */
export function nextEvent<E extends keyof RoomcastEvents>(
  client: RoomcastClient,
  event: E,
  match: (payload: RoomcastEvents[E]) => boolean = () => true,
): Promise<RoomcastEvents[E]> {
  return new Promise((resolve, reject) => {
    const offs = [
      client.on(event, (payload) => {
        if (match(payload)) {
          offs.forEach((off) => off());
          resolve(payload);
        }
      }),
    ];
    if (event !== 'closed') {
      offs.push(
        client.on('closed', (closed) => {
          if (!closed.willReconnect) {
            offs.forEach((off) => off());
            reject(new Error(`client closed (${closed.reason}) first`));
          }
        }),
      );
    }
  });
}
