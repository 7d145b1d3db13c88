/**
 * The bus carries the lossy traffic between roles: viewers' chat, likes and
 * membership from edges to the owning shard, and the shard's encoded frames
 * from the shard to every edge with viewers in the room. Delivery is at most
 * once and in order per channel and publisher; reliable items do not travel
 * here alone, they are written to the reliable log first.
 *
 * Two implementations share this interface: bus-memory.ts for one process,
 * and bus-redis.ts for a fleet.
 */

export type BusHandler = (payload: Buffer) => void;

export interface Bus {
  /** True while messages can flow; false while the backing store is down. */
  readonly ready: boolean;
  /** Best effort: a message that cannot be sent is counted, never thrown. */
  publish(channel: string, payload: Buffer): void;
  /** Resolves once the subscription is live. */
  subscribe(channel: string, handler: BusHandler): Promise<void>;
  unsubscribe(channel: string, handler: BusHandler): Promise<void>;
  /**
   * Calls `listener` each time the subscriptions are live again after the
   * connection behind them dropped: whatever was published meanwhile was
   * not delivered.
   */
  onResubscribed(listener: () => void): void;
  close(): Promise<void>;
}

/**
 * Channel names; every role builds them here so they cannot drift apart.
 * A room's channels carry the room key in braces: on Redis Cluster that is
 * the hash tag that puts them in the slot of the room's keys.
 */
export const channels = {
  /** Traffic into the shard that owns a room. */
  roomIn: (roomKey: string) => `in:{${roomKey}}`,
  /** Frames out of the owning shard to every edge holding the room. */
  roomOut: (roomKey: string) => `out:{${roomKey}}`,
  /** Wake-ups for followers of a room's reliable log (distributed mode). */
  roomLog: (roomKey: string) => `log:{${roomKey}}`,
  /** Room lifecycle, for whoever places rooms on shards. */
  rooms: () => 'rooms',
  /** Shards joining or leaving: every shard re-runs placement at once. */
  placement: () => 'placement',
};
