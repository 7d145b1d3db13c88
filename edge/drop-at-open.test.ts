/**
 * uWebSockets.js 20.30 can shut a socket down right after an asynchronous
 * upgrade (upgrades.ts module header, docs/edge.md). With V8's baseline
 * compiler on, this pattern of connects to a fresh standalone process
 * dropped one of them (always the 14th) in about one process in five; the
 * edge turns that compiler off. Several fresh processes, so that a
 * regression shows in most runs of this test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { RoomcastProcess } from '../harness/processes.js';

const KEY = 'key_drop_at_open_0123456789';
const PROCESSES = 8;
const CONNECTS = 20;
const ROOMS = 10;

/** Opens a socket; resolves once it is open, to whether it was dropped. */
async function connect(
  edgePort: number,
  token: string,
): Promise<{ dropped: () => boolean; ws: WebSocket }> {
  const ws = new WebSocket(`ws://127.0.0.1:${edgePort}/ws?token=${token}`);
  let closedWith: number | undefined;
  ws.on('close', (code) => (closedWith = code));
  await new Promise<void>((resolve, reject) => {
    ws.once('unexpected-response', (_request, response) => {
      reject(new Error(`upgrade refused: ${response.statusCode}`));
    });
    ws.once('error', reject);
    ws.once('open', () => resolve());
  });
  return { ws, dropped: () => closedWith === 1006 };
}

async function dropsInFreshProcess(): Promise<number> {
  const proc = new RoomcastProcess(['standalone'], {
    ROOMCAST_HOST: '127.0.0.1',
    ROOMCAST_ADMIN_PORT: '0',
    ROOMCAST_EDGE_PORT: '0',
    ROOMCAST_API_KEYS: `t:${KEY}`,
    ROOMCAST_JWT_SECRET: 'drop-at-open-secret-0123456789abcdef',
  });
  try {
    const [adminPort, edgePort] = await Promise.all([
      proc.listening('admin api'),
      proc.listening('edge'),
    ]);
    const api = async (path: string, body: unknown) => {
      const response = await fetch(`http://127.0.0.1:${adminPort}/v1${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${KEY}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
      return (await response.json()) as Record<string, unknown>;
    };
    for (let room = 0; room < ROOMS; room++) {
      await api('/rooms', { id: `r${room}` });
    }

    const sockets: Awaited<ReturnType<typeof connect>>[] = [];
    for (let first = 0; first < CONNECTS; first += 10) {
      sockets.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, async (_, offset) => {
            const n = first + offset;
            const { token } = await api('/tokens', {
              room: `r${n % ROOMS}`,
              user: `u${n}`,
            });
            return connect(edgePort, token as string);
          }),
        )),
      );
    }

    // A dropped socket is closed within a millisecond of its 101.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const drops = sockets.filter((socket) => socket.dropped()).length;
    for (const { ws } of sockets) {
      ws.terminate();
    }

    return drops;
  } finally {
    await proc.stop();
  }
}

test('edge - fresh processes drop no socket at open in the pattern that Sparkplug made drop', async () => {
  let drops = 0;
  for (let started = 0; started < PROCESSES; started++) {
    drops += await dropsInFreshProcess();
  }

  assert.equal(
    drops,
    0,
    `sockets dropped at open over ${PROCESSES} fresh processes`,
  );
});
