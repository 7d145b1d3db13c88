import type {
  RoomDirectory,
  RoomEvent,
  RoomRecord,
  RoomStatus,
} from './directory.js';
import { roomKey } from './directory.js';

/** The directory of a standalone process. */
export class MemoryRoomDirectory implements RoomDirectory {
  #rooms = new Map<string, RoomStatus>();
  #listeners = new Set<(event: RoomEvent) => void>();

  async create(room: RoomRecord): Promise<boolean> {
    const key = roomKey(room.tenant, room.id);
    if (this.#rooms.has(key)) {
      return false;
    }

    this.#rooms.set(key, { ...room, viewers: 0 });
    this.#emit({ kind: 'created', room });
    return true;
  }

  async get(tenant: string, id: string): Promise<RoomStatus | undefined> {
    const room = this.#rooms.get(roomKey(tenant, id));
    return room === undefined ? undefined : { ...room };
  }

  async list(tenant: string): Promise<RoomStatus[]> {
    const rooms: RoomStatus[] = [];
    for (const room of this.#rooms.values()) {
      if (room.tenant === tenant) {
        rooms.push({ ...room });
      }
    }

    return rooms;
  }

  async update(
    tenant: string,
    id: string,
    change: Pick<RoomRecord, 'settings' | 'idleCloseSeconds'>,
  ): Promise<RoomStatus | undefined> {
    const room = this.#rooms.get(roomKey(tenant, id));
    if (room === undefined) {
      return undefined;
    }

    room.settings = change.settings;
    if (change.idleCloseSeconds === undefined) {
      delete room.idleCloseSeconds;
    } else {
      room.idleCloseSeconds = change.idleCloseSeconds;
    }

    return { ...room };
  }

  async close(tenant: string, id: string): Promise<RoomRecord | undefined> {
    const key = roomKey(tenant, id);
    const room = this.#rooms.get(key);
    if (room === undefined) {
      return undefined;
    }

    this.#rooms.delete(key);
    const { viewers: _viewers, ...record } = room;
    this.#emit({ kind: 'closed', room: record });
    return record;
  }

  async reportViewers(key: string, viewers: number): Promise<void> {
    const room = this.#rooms.get(key);
    if (room !== undefined) {
      room.viewers = viewers;
    }
  }

  onEvent(listener: (event: RoomEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: RoomEvent): void {
    for (const listener of this.#listeners) {
      listener(event);
    }
  }
}
