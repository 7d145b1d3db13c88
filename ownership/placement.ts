/**
 * Placement: which rooms this shard should own, and the moves to get there.
 *
 * Every `heartbeatMs` (and at once when a room is created or a shard joins
 * or leaves) the shard heartbeats, reads the live shards and the open rooms,
 * and for each room asks rendezvous hashing for its owner:
 * - ours and held: renew the lease (a renewal refused means another shard
 *   has it: abandon the room);
 * - ours and not held: take the lease if it is free, read the published
 *   cursor, claim the room from there;
 * - held but no longer ours (another shard joined, or the room closed):
 *   flush, wait for the last frame to settle, release the lease, and tell
 *   the others so the new owner claims it at once.
 * A dead shard's rooms wait for its lease to lapse (`leaseMs`), then go to
 * the shards rendezvous names next.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { channels, type Bus, type BusHandler } from '../bus/index.js';
import { gauge, type Registry } from '../metrics/index.js';
import type { RedisKeys } from '../redis/index.js';
import type { ReliableLog } from '../reliable-log/index.js';
import type { RedisRoomDirectory } from '../room-directory/index.js';
import type { RoomShard } from '../room-shard/index.js';
import { Presence } from './presence.js';
import { ownerOf } from './rendezvous.js';
import type { RoomLeases } from './room-leases.js';

export interface PlacementOptions {
  redis: Redis | Cluster;
  keys: RedisKeys;
  bus: Bus;
  shard: RoomShard;
  leases: RoomLeases;
  log: ReliableLog;
  directory: RedisRoomDirectory;
  shardId: string;
  heartbeatMs: number;
  leaseMs: number;
  registry: Registry;
  logger: Logger;
}

export class Placement {
  #options: PlacementOptions;
  #shards: Presence;
  #edges: Presence;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopping = false;
  #healthy = false;
  #onNotice: BusHandler = () => this.schedule();
  #noticesSubscribed = false;

  constructor(options: PlacementOptions) {
    this.#options = options;
    const { redis, keys, shardId, leaseMs } = options;
    this.#shards = new Presence(
      redis,
      keys.presence('shard'),
      shardId,
      leaseMs,
    );
    this.#edges = new Presence(redis, keys.presence('edge'), shardId, leaseMs);
    const live = gauge(options.registry, {
      name: 'roomcast_shard_placement_ok',
      help: '1 when the last placement round reached Redis, 0 otherwise.',
      collect: () => {
        live.set(this.#healthy ? 1 : 0);
      },
    });
  }

  /** True while heartbeats and lease renewals reach Redis. */
  get healthy(): boolean {
    return this.#healthy;
  }

  start(): void {
    this.#timer ??= setInterval(
      () => this.schedule(),
      this.#options.heartbeatMs,
    );
    this.schedule();
  }

  /** Runs a placement round now, or right after the one running. */
  schedule(): void {
    if (this.#stopping) {
      return;
    }

    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }

    this.#running = this.#round()
      .catch((error: unknown) => {
        if (this.#healthy) {
          this.#options.logger.warn({ err: error }, 'placement round failed');
        }

        this.#healthy = false;
      })
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.schedule();
        }
      });
  }

  /**
   * Leaves the fleet: stops heartbeating, hands every room off (flushed,
   * lease released) and tells the other shards to take them.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
    const { bus, shard } = this.#options;
    await this.#shards.leave().catch(() => undefined);
    bus.publish(channels.placement(), Buffer.from('leave'));
    await Promise.all(shard.ownedKeys().map((key) => this.#handOff(key)));
    bus.publish(channels.placement(), Buffer.from('left'));
    if (this.#noticesSubscribed) {
      await bus.unsubscribe(channels.placement(), this.#onNotice);
      await bus.unsubscribe(channels.rooms(), this.#onNotice);
    }
  }

  /** Called by the outlet: the room's frames were refused, start it over. */
  async restart(roomKey: string): Promise<void> {
    await this.#options.shard.abandon(roomKey);
    this.schedule();
  }

  async #round(): Promise<void> {
    const { shard, directory, shardId, bus, logger } = this.#options;
    await this.#subscribeNotices();
    const beat = await this.#shards.beat();
    if (beat.rejoined) {
      logger.info({ shards: beat.live.length }, 'shard joined placement');
      bus.publish(channels.placement(), Buffer.from('join'));
    }

    const [edges, rooms] = await Promise.all([
      this.#edges.list(),
      directory.roomKeys(),
    ]);
    shard.pruneEdges(new Set(edges));
    const open = new Set(rooms);
    const moves: Promise<void>[] = [];
    for (const key of shard.ownedKeys()) {
      if (!open.has(key)) {
        moves.push(this.#closeRoom(key));
      } else if (ownerOf(key, beat.live) !== shardId) {
        moves.push(this.#handOff(key));
      }
    }

    for (const key of rooms) {
      if (ownerOf(key, beat.live) === shardId) {
        moves.push(shard.owns(key) ? this.#renew(key) : this.#claim(key));
      }
    }

    // One room failing to move is that room's problem, retried next round;
    // the round as a whole reached Redis.
    const results = await Promise.allSettled(moves);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      logger.warn({ err: failed.reason as unknown }, 'room move failed');
    }

    if (!this.#healthy) {
      logger.info(
        { rooms: shard.roomCount, shards: beat.live.length },
        'placement ok',
      );
    }

    this.#healthy = true;
  }

  async #subscribeNotices(): Promise<void> {
    if (this.#noticesSubscribed) {
      return;
    }

    const { bus } = this.#options;
    await bus.subscribe(channels.placement(), this.#onNotice);
    await bus.subscribe(channels.rooms(), this.#onNotice);
    this.#noticesSubscribed = true;
  }

  async #renew(key: string): Promise<void> {
    if (!(await this.#options.leases.acquire(key))) {
      this.#options.logger.warn({ roomKey: key }, 'room lease lost');
      await this.#options.shard.abandon(key);
    }
  }

  async #claim(key: string): Promise<void> {
    const { leases, log, directory, shard } = this.#options;
    const taken = await leases.acquire(key);
    if (taken === false) {
      return;
    }

    try {
      const [record, published] = await Promise.all([
        directory.record(key),
        log.publishedSeq(key),
      ]);
      if (record === undefined) {
        await leases.release(key);
        return;
      }

      leases.reset(key);
      await shard.claim(key, record.settings, published, {
        firstOwner: taken === 'first',
      });
    } catch (error) {
      await shard.abandon(key);
      await leases.release(key).catch(() => undefined);
      throw error;
    }
  }

  /**
   * A room the directory no longer lists was closed. The admin API also
   * tells the owner on the room's channel, but a round that sees the room
   * gone first would otherwise give it up unsubscribed from that channel,
   * and the viewers and the history would outlive the room.
   */
  async #closeRoom(key: string): Promise<void> {
    const { shard, leases } = this.#options;
    await shard.close(key);
    await leases.settled(key);
    await leases.release(key);
  }

  async #handOff(key: string): Promise<void> {
    const { shard, leases, bus } = this.#options;
    await shard.release(key);
    await leases.settled(key);
    await leases.release(key);
    bus.publish(channels.placement(), Buffer.from('handoff'));
  }
}
