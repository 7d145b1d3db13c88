/**
 * The directory of a fleet, in Redis. A room's record and viewer count live
 * under the room's hash tag (its slot); two sets index the open rooms, one
 * fleet-wide (for placing rooms on shards) and one per tenant (for listing).
 * Lifecycle events go out on the bus's `rooms` channel.
 *
 * Creating and closing touch the record first and the indexes after: the
 * record decides (SET NX, GETDEL), so two racing requests never both win. A
 * crash between the two steps leaves an index entry without a record, which
 * readers skip and the next close or create of that id repairs.
 */
import type { Cluster, Redis } from 'ioredis';
import { channels, type Bus } from '../bus/index.js';
import type { RedisKeys } from '../redis/index.js';
import type {
  RoomDirectory,
  RoomEvent,
  RoomRecord,
  RoomStatus,
} from './directory.js';
import { roomKey } from './directory.js';

/** KEYS: record, viewers. ARGV: count. Reports only for open rooms. */
const REPORT_VIEWERS_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SET', KEYS[2], ARGV[1])
end
return 0
`;

type Client = (Redis | Cluster) & {
  roomcastReportViewers(
    recordKey: string,
    viewersKey: string,
    viewers: number,
  ): Promise<number>;
};

export interface RedisRoomDirectoryOptions {
  redis: Redis | Cluster;
  bus: Bus;
  keys: RedisKeys;
}

export class RedisRoomDirectory implements RoomDirectory {
  #redis: Client;
  #bus: Bus;
  #keys: RedisKeys;
  #listeners = new Set<(event: RoomEvent) => void>();
  #subscribed: Promise<void> | undefined;

  constructor(options: RedisRoomDirectoryOptions) {
    options.redis.defineCommand('roomcastReportViewers', {
      numberOfKeys: 2,
      lua: REPORT_VIEWERS_SCRIPT,
    });
    this.#redis = options.redis as Client;
    this.#bus = options.bus;
    this.#keys = options.keys;
  }

  async create(room: RoomRecord): Promise<boolean> {
    const key = roomKey(room.tenant, room.id);
    const created = await this.#redis.set(
      this.#keys.room(key),
      JSON.stringify(room),
      'NX',
    );
    if (created === null) {
      return false;
    }

    // Before the room is indexed, so before any shard can claim it: a marker
    // left by an earlier room of this id (a claim racing its close) must not
    // make the first owner of this one take itself for a successor.
    await this.#redis.del(this.#keys.claimed(key));
    await Promise.all([
      this.#redis.sadd(this.#keys.roomIndex(), key),
      this.#redis.sadd(this.#keys.tenantRooms(room.tenant), room.id),
    ]);
    this.#emit({ kind: 'created', room });
    return true;
  }

  async get(tenant: string, id: string): Promise<RoomStatus | undefined> {
    const key = roomKey(tenant, id);
    const [record, viewers] = await Promise.all([
      this.#redis.get(this.#keys.room(key)),
      this.#redis.get(this.#keys.viewers(key)),
    ]);
    if (record === null) {
      return undefined;
    }

    return { ...(JSON.parse(record) as RoomRecord), viewers: Number(viewers) };
  }

  async list(tenant: string): Promise<RoomStatus[]> {
    const ids = await this.#redis.smembers(this.#keys.tenantRooms(tenant));
    const rooms = await Promise.all(ids.map((id) => this.get(tenant, id)));
    return rooms
      .filter((room) => room !== undefined)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async update(
    tenant: string,
    id: string,
    change: Pick<RoomRecord, 'settings' | 'idleCloseSeconds'>,
  ): Promise<RoomStatus | undefined> {
    const current = await this.get(tenant, id);
    if (current === undefined) {
      return undefined;
    }

    const { viewers, idleCloseSeconds: _old, ...record } = current;
    const next: RoomRecord = {
      ...record,
      settings: change.settings,
      ...(change.idleCloseSeconds === undefined
        ? {}
        : { idleCloseSeconds: change.idleCloseSeconds }),
    };
    // XX: a room closed meanwhile stays closed.
    const written = await this.#redis.set(
      this.#keys.room(roomKey(tenant, id)),
      JSON.stringify(next),
      'XX',
    );
    return written === 'OK' ? { ...next, viewers } : undefined;
  }

  async close(tenant: string, id: string): Promise<RoomRecord | undefined> {
    const key = roomKey(tenant, id);
    const record = await this.#redis.getdel(this.#keys.room(key));
    await Promise.all([
      this.#redis.del(this.#keys.viewers(key), this.#keys.claimed(key)),
      this.#redis.srem(this.#keys.roomIndex(), key),
      this.#redis.srem(this.#keys.tenantRooms(tenant), id),
    ]);
    if (record === null) {
      return undefined;
    }

    const room = JSON.parse(record) as RoomRecord;
    this.#emit({ kind: 'closed', room });
    return room;
  }

  async reportViewers(key: string, viewers: number): Promise<void> {
    await this.#redis.roomcastReportViewers(
      this.#keys.room(key),
      this.#keys.viewers(key),
      viewers,
    );
  }

  /** Every open room's key, for placing rooms on shards. */
  async roomKeys(): Promise<string[]> {
    return this.#redis.smembers(this.#keys.roomIndex());
  }

  /** The settings of a room; undefined when it is not open. */
  async record(key: string): Promise<RoomRecord | undefined> {
    const record = await this.#redis.get(this.#keys.room(key));
    return record === null ? undefined : (JSON.parse(record) as RoomRecord);
  }

  /**
   * Events from every process of the fleet. Subscribes on first use; a
   * listener added while the bus is down starts receiving once it is up.
   */
  onEvent(listener: (event: RoomEvent) => void): () => void {
    this.#listeners.add(listener);
    if (this.#subscribed === undefined) {
      this.#subscribed = this.#bus
        .subscribe(channels.rooms(), (payload) => this.#receive(payload))
        .catch(() => {
          this.#subscribed = undefined;
        });
    }

    return () => this.#listeners.delete(listener);
  }

  #emit(event: RoomEvent): void {
    this.#bus.publish(channels.rooms(), Buffer.from(JSON.stringify(event)));
  }

  #receive(payload: Buffer): void {
    let event: RoomEvent;
    try {
      event = JSON.parse(payload.toString()) as RoomEvent;
    } catch {
      return;
    }

    for (const listener of this.#listeners) {
      listener(event);
    }
  }
}
