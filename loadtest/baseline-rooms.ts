/**
 * What the baselines share: rooms, the admin API subset the load test drives
 * (create, get and delete a room, mint a token, publish), and the tick that
 * turns a room's pending messages into one `batch` frame, with roomcast's
 * frame shapes: reliable items whole with their seq, chat passed through,
 * likes merged into one `likes` item and joins into one `joins` item. No
 * bus, no priority engine, no history, no limits: the baselines are ceilings.
 * Tokens are plain base64url JSON `{room, user}`, not signed.
 */
import type { BatchFrame, BatchItem, WelcomeFrame } from '../protocol/index.js';

export type { WelcomeFrame };

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

export interface AdminReply {
  status: number;
  body?: unknown;
}

export interface ViewerClaim {
  room: string;
  user: string;
}

const RELIABLE = new Set(['host', 'gift', 'system']);

/** A token's claim read back, whatever rooms exist; null if malformed. */
export function readToken(token: string): ViewerClaim | null {
  try {
    const claim = JSON.parse(
      Buffer.from(token, 'base64url').toString('utf8'),
    ) as Partial<ViewerClaim>;
    if (typeof claim.room === 'string') {
      return { room: claim.room, user: String(claim.user) };
    }
  } catch {
    return null;
  }

  return null;
}

/** Roomcast's welcome frame with the baselines' fixed settings. */
export function welcomeFrame(
  claim: ViewerClaim,
  viewers: number,
  seq: number,
): WelcomeFrame {
  return {
    t: 'welcome',
    room: claim.room,
    user: claim.user,
    viewers,
    seq,
    idleTimeoutMs: 60_000,
    limits: { chatPerSecond: 0, likesPerSecond: 0, maxFrameBytes: 16384 },
    backoff: { baseMs: 500, maxMs: 10_000 },
  };
}

function notFound(): AdminReply {
  return { status: 404, body: { error: { code: 'room_not_found' } } };
}

export class BaselineRooms {
  readonly #rooms = new Map<string, BaselineRoom>();
  #nextRoom = 1;
  #nextItem = 1;

  /** Answers one admin API request; `path` without the query string. */
  handleAdmin(method: string, path: string, body: unknown): AdminReply {
    const fields =
      typeof body === 'object' && body !== null
        ? (body as Record<string, unknown>)
        : {};
    const parts = path.split('/').filter((part) => part !== '');
    if (parts[0] !== 'v1') {
      return { status: 404, body: { error: { code: 'not_found' } } };
    }

    if (method === 'POST' && parts.length === 2 && parts[1] === 'rooms') {
      return this.#createRoom(fields);
    }

    if (method === 'POST' && parts.length === 2 && parts[1] === 'tokens') {
      const token = Buffer.from(
        JSON.stringify({ room: fields['room'], user: fields['user'] }),
      ).toString('base64url');
      return { status: 201, body: { token, expiresAt: null } };
    }

    if (parts[1] !== 'rooms' || parts[2] === undefined) {
      return { status: 404, body: { error: { code: 'not_found' } } };
    }

    const id = decodeURIComponent(parts[2]);
    const room = this.#rooms.get(id);
    if (room === undefined) {
      return notFound();
    }

    if (parts.length === 3 && method === 'GET') {
      return { status: 200, body: this.#view(room) };
    }

    if (parts.length === 3 && method === 'DELETE') {
      this.#rooms.delete(id);
      return { status: 204 };
    }

    if (parts.length === 4 && parts[3] === 'messages' && method === 'POST') {
      return this.#publish(room, fields);
    }

    return { status: 404, body: { error: { code: 'not_found' } } };
  }

  /** The room and user a token names, if the room exists. */
  admit(token: string): ViewerClaim | null {
    const claim = readToken(token);
    return claim !== null && this.#rooms.has(claim.room) ? claim : null;
  }

  /** A viewer joined: its welcome frame, or null if the room is gone. */
  join(claim: ViewerClaim): WelcomeFrame | null {
    const room = this.#rooms.get(claim.room);
    if (room === undefined) {
      return null;
    }

    room.viewers += 1;
    return welcomeFrame(claim, room.viewers, room.seq);
  }

  /** Viewers that joined (or left, below 0) another process. */
  countViewers(roomId: string, delta: number): void {
    const room = this.#rooms.get(roomId);
    if (room !== undefined) {
      room.viewers += delta;
    }
  }

  /** The last seq handed out in a room, -1 if there is no such room. */
  lastSeq(roomId: string): number {
    return this.#rooms.get(roomId)?.seq ?? -1;
  }

  leave(roomId: string): void {
    const room = this.#rooms.get(roomId);
    if (room !== undefined) {
      room.viewers -= 1;
    }
  }

  /** One tick: a batch frame for every room with something pending. */
  *tick(): Generator<BatchFrame> {
    for (const room of this.#rooms.values()) {
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

      if (items.length > 0) {
        room.pending = [];
        yield { t: 'batch', room: room.id, items };
      }
    }
  }

  #createRoom(fields: Record<string, unknown>): AdminReply {
    const id =
      typeof fields['id'] === 'string' ? fields['id'] : `b${this.#nextRoom++}`;
    if (this.#rooms.has(id)) {
      return { status: 409, body: { error: { code: 'room_exists' } } };
    }

    const room: BaselineRoom = {
      id,
      title: typeof fields['title'] === 'string' ? fields['title'] : '',
      createdAt: new Date().toISOString(),
      seq: 0,
      viewers: 0,
      likesTotal: 0,
      pending: [],
      likes: 0,
      joins: 0,
      joinNames: [],
    };
    this.#rooms.set(id, room);
    return { status: 201, body: this.#view(room) };
  }

  #publish(room: BaselineRoom, fields: Record<string, unknown>): AdminReply {
    const type = String(fields['type']);
    const id = String(this.#nextItem++);
    const from = fields['from'] as { id: string; name?: string } | undefined;
    if (RELIABLE.has(type)) {
      room.seq += 1;
      room.pending.push({
        type,
        id,
        seq: room.seq,
        ts: Date.now(),
        ...(from === undefined ? {} : { from }),
        data: fields['data'],
      });
      return { status: 202, body: { id, seq: room.seq } };
    }

    if (type === 'chat') {
      const data = fields['data'] as { text?: unknown } | undefined;
      room.pending.push({
        type: 'chat',
        id,
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
    } else {
      return { status: 400, body: { error: { code: 'bad_type' } } };
    }

    return { status: 202, body: { id } };
  }

  #view(room: BaselineRoom): Record<string, unknown> {
    return {
      id: room.id,
      title: room.title,
      viewers: room.viewers,
      createdAt: room.createdAt,
      lastSeq: room.seq,
    };
  }
}
