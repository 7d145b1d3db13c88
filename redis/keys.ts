/**
 * Names of every Redis key and channel roomcast uses, in one place.
 *
 * Everything of one room carries the room key as a Redis Cluster hash tag
 * (`{tenant/room}`), so the room's seq counter, stream, published cursor,
 * lease, record and channels share one slot: the append and publish scripts
 * can touch them atomically, and rooms spread over the cluster's masters by
 * slot. Fleet-wide keys (live shards and edges, the room index) have no tag.
 */

/** The part of a name that decides its cluster slot. */
export function roomTag(roomKey: string): string {
  return `{${roomKey}}`;
}

export class RedisKeys {
  readonly prefix: string;

  /** @param prefix prepended to every key and channel; must not contain braces */
  constructor(prefix: string) {
    if (prefix.includes('{') || prefix.includes('}')) {
      throw new Error('ROOMCAST_REDIS_PREFIX must not contain { or }');
    }

    this.prefix = prefix;
  }

  /** The room's last assigned seq (INCR). */
  seq(roomKey: string): string {
    return `${this.prefix}seq:${roomTag(roomKey)}`;
  }

  /** The room's reliable history: a stream whose entry ids are `<seq>-0`. */
  log(roomKey: string): string {
    return `${this.prefix}log:${roomTag(roomKey)}`;
  }

  /** The highest seq the room's owner has published; moves with each publish. */
  published(roomKey: string): string {
    return `${this.prefix}pub:${roomTag(roomKey)}`;
  }

  /**
   * Marks that an append with this dedupe key happened, holding
   * `<seq>:<id>` of the item it wrote; expires (see reliable-log/log.ts).
   */
  appended(roomKey: string, dedupeKey: string): string {
    return `${this.prefix}appended:${roomTag(roomKey)}:${dedupeKey}`;
  }

  /** Which shard owns the room, with a TTL: the room's lease. */
  lease(roomKey: string): string {
    return `${this.prefix}lease:${roomTag(roomKey)}`;
  }

  /**
   * Set by the first shard that takes the room's lease, so later owners know
   * the room had one before; deleted when the room closes.
   */
  claimed(roomKey: string): string {
    return `${this.prefix}claimed:${roomTag(roomKey)}`;
  }

  /** The room's directory record (JSON). */
  room(roomKey: string): string {
    return `${this.prefix}room:${roomTag(roomKey)}`;
  }

  /** The room's last reported viewer count. */
  viewers(roomKey: string): string {
    return `${this.prefix}viewers:${roomTag(roomKey)}`;
  }

  /** Every open room key (a set). */
  roomIndex(): string {
    return `${this.prefix}rooms`;
  }

  /** One tenant's open room ids (a set). */
  tenantRooms(tenant: string): string {
    return `${this.prefix}tenant-rooms:${tenant}`;
  }

  /** Live members of a role (`shard`, `edge`): a sorted set scored by last heartbeat. */
  presence(role: string): string {
    return `${this.prefix}presence:${role}`;
  }

  /** A bus channel as named on Redis. */
  channel(name: string): string {
    return `${this.prefix}${name}`;
  }
}
