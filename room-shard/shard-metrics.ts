import { counter, gauge, histogram, type Registry } from '../metrics/index.js';
import { accountingSamples, type RoomAccounting } from '../priority/index.js';

/** Prometheus metrics of a room shard. No room label: per-room figures are in the admin API. */
export class ShardMetrics {
  readonly rooms;
  readonly tickSeconds;
  readonly frames;
  readonly badEnvelopes;
  readonly failedTicks;
  readonly mutedChat;

  /**
   * @param totals the shard's accounting summed over every room it owns or
   *   has owned; read at scrape time, so ticks pay nothing for metrics
   */
  constructor(registry: Registry, totals: () => RoomAccounting) {
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
    this.mutedChat = counter(registry, {
      name: 'roomcast_shard_muted_chat_total',
      help: 'Chat messages dropped because their sender is muted in the room.',
    });
    this.failedTicks = counter(registry, {
      name: 'roomcast_shard_failed_ticks_total',
      help: 'Room ticks that threw; the room skipped that tick. Should stay 0.',
    });
    this.badEnvelopes = counter(registry, {
      name: 'roomcast_shard_bad_envelopes_total',
      help: 'Bus messages into a room that were not valid envelopes.',
    });
    const items = counter(registry, {
      name: 'roomcast_priority_items_total',
      help: 'Messages through the priority engine by class and outcome (received, delivered, merged, dropped with a reason).',
      labelNames: ['class', 'outcome', 'reason'],
      collect() {
        items.reset();
        for (const sample of accountingSamples(totals())) {
          if (sample.outcome !== 'pending' && sample.class !== 'total') {
            items.inc(
              {
                class: sample.class,
                outcome: sample.outcome,
                reason: sample.reason ?? '',
              },
              sample.value,
            );
          }
        }
      },
    });
    const pending = gauge(registry, {
      name: 'roomcast_priority_pending_items',
      help: 'Messages waiting in priority engines for their tick, by class.',
      labelNames: ['class'],
      collect() {
        for (const sample of accountingSamples(totals())) {
          if (sample.outcome === 'pending' && sample.class !== 'total') {
            pending.set({ class: sample.class }, sample.value);
          }
        }
      },
    });
  }
}
