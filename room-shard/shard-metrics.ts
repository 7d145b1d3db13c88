import { counter, gauge, histogram, type Registry } from '../metrics/index.js';
import type { RoomAccounting } from '../priority/index.js';

/** Prometheus metrics of a room shard. No room label: per-room figures are in the admin API. */
export class ShardMetrics {
  readonly rooms;
  readonly tickSeconds;
  readonly frames;
  readonly badEnvelopes;
  readonly items;
  #seen = new Map<string, Map<string, number>>();

  constructor(registry: Registry) {
    this.rooms = gauge(registry, {
      name: 'roomcast_shard_rooms',
      help: 'Rooms this shard owns.',
    });
    this.tickSeconds = histogram(registry, {
      name: 'roomcast_shard_tick_seconds',
      help: 'Time one tick over every owned room took.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25],
    });
    this.frames = counter(registry, {
      name: 'roomcast_shard_frames_total',
      help: 'Batch frames encoded and published by this shard.',
    });
    this.badEnvelopes = counter(registry, {
      name: 'roomcast_shard_bad_envelopes_total',
      help: 'Bus messages into a room that were not valid envelopes.',
    });
    this.items = counter(registry, {
      name: 'roomcast_priority_items_total',
      help: 'Items through the priority engine by class and outcome.',
      labelNames: ['class', 'outcome'],
    });
  }

  /**
   * Adds what a room's cumulative accounting gained since the last call to
   * the process-wide counters.
   */
  record(accounting: RoomAccounting, roomKey: string): void {
    let seen = this.#seen.get(roomKey);
    if (seen === undefined) {
      seen = new Map();
      this.#seen.set(roomKey, seen);
    }

    for (const [cls, outcome, value] of flattenAccounting(accounting)) {
      const key = `${cls}\u0000${outcome}`;
      const before = seen.get(key) ?? 0;
      if (value > before) {
        this.items.inc({ class: cls, outcome }, value - before);
        seen.set(key, value);
      }
    }
  }

  forget(roomKey: string): void {
    this.#seen.delete(roomKey);
  }
}
