/**
 * The bus of a fleet: Redis pub/sub. On one Redis it is PUBLISH/SUBSCRIBE;
 * on Redis Cluster it is sharded pub/sub (SPUBLISH/SSUBSCRIBE), so a room's
 * messages stay on the master that owns the room's slot instead of being
 * broadcast over the whole cluster bus.
 *
 * Two connections: a publisher that fails fast while Redis is down (a message
 * that cannot go is counted in `roomcast_bus_publish_failures_total`, never
 * queued: this lane is lossy by design, and queued frames would arrive late
 * and out of step with the reliable log), and a subscriber. On one Redis the
 * bus resubscribes every channel itself after a reconnect and is `ready` only
 * once that is done; on Cluster the client's sharded subscriber group does the
 * same per master.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { counter, gauge, type Registry } from '../metrics/index.js';
import {
  connect,
  disconnect,
  type RedisKeys,
  type RedisTarget,
} from '../redis/index.js';
import type { Bus, BusHandler } from './bus.js';

export interface RedisBusOptions {
  target: RedisTarget;
  keys: RedisKeys;
  registry: Registry;
  logger: Logger;
  /** Names the connections: `roomcast-<role>-bus-subscriber`, ... */
  role?: string;
}

/** Channels per SUBSCRIBE command when resubscribing after a reconnect. */
const RESUBSCRIBE_BATCH = 500;

export class BusUnavailableError extends Error {
  readonly code = 'BUS_UNAVAILABLE';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BusUnavailableError';
  }
}

export class RedisBus implements Bus {
  #options: RedisBusOptions;
  #sharded: boolean;
  #publisher: Redis | Cluster;
  #subscriber: Redis | Cluster;
  /** Redis channel name -> handlers. */
  #handlers = new Map<string, Set<BusHandler>>();
  #resubscribed = true;
  #onResubscribed: (() => void)[] = [];
  #closed = false;
  #failures;

  constructor(options: RedisBusOptions) {
    this.#options = options;
    this.#sharded = options.target.mode === 'cluster';
    const role = options.role === undefined ? '' : `${options.role}-`;
    this.#publisher = connect(options.target, {
      name: `${role}bus-publisher`,
      logger: options.logger,
    });
    this.#subscriber = connect(options.target, {
      name: `${role}bus-subscriber`,
      logger: options.logger,
      // Subscriptions wait for a connection rather than fail: the bus only
      // sends them while ready, and a reconnect must not lose one in flight.
      offlineQueue: true,
      shardedSubscribers: this.#sharded,
      autoResubscribe: false,
    });
    this.#failures = counter(options.registry, {
      name: 'roomcast_bus_publish_failures_total',
      help: 'Bus messages that could not be published (Redis down or refusing).',
    });
    const ready = gauge(options.registry, {
      name: 'roomcast_bus_ready',
      help: '1 while the bus can publish and receive, 0 while Redis is unreachable.',
      // Summed over an edge's workers it would count them; 0 when any is cut off.
      aggregator: 'min',
      collect: () => {
        ready.set(this.ready ? 1 : 0);
      },
    });
    const onMessage = (channel: Buffer, payload: Buffer) => {
      const handlers = this.#handlers.get(channel.toString());
      if (handlers !== undefined) {
        for (const handler of handlers) {
          handler(payload);
        }
      }
    };
    if (this.#sharded) {
      this.#subscriber.on('smessageBuffer', onMessage);
    } else {
      const subscriber = this.#subscriber as Redis;
      subscriber.on('messageBuffer', onMessage);
      subscriber.on('close', () => {
        this.#resubscribed = false;
      });
      subscriber.on('ready', () => void this.#resubscribe());
    }
  }

  get ready(): boolean {
    return (
      !this.#closed &&
      this.#resubscribed &&
      this.#publisher.status === 'ready' &&
      this.#subscriber.status === 'ready'
    );
  }

  publish(channel: string, payload: Buffer): void {
    if (this.#closed || this.#publisher.status !== 'ready') {
      this.#failures.inc();
      return;
    }

    const name = this.#options.keys.channel(channel);
    const sent = this.#sharded
      ? (this.#publisher as Cluster).spublish(name, payload)
      : this.#publisher.publish(name, payload);
    sent.catch(() => this.#failures.inc());
  }

  /** @throws BusUnavailableError when Redis cannot be reached now */
  async subscribe(channel: string, handler: BusHandler): Promise<void> {
    const name = this.#options.keys.channel(channel);
    const handlers = this.#handlers.get(name);
    if (handlers !== undefined) {
      handlers.add(handler);
      return;
    }

    if (!this.ready) {
      throw new BusUnavailableError('the bus is not connected to Redis');
    }

    const added = new Set([handler]);
    this.#handlers.set(name, added);
    try {
      await this.#command('subscribe', [name]);
    } catch (error) {
      if (this.#handlers.get(name) === added) {
        this.#handlers.delete(name);
      }

      throw new BusUnavailableError('subscribe failed', { cause: error });
    }
  }

  async unsubscribe(channel: string, handler: BusHandler): Promise<void> {
    const name = this.#options.keys.channel(channel);
    const handlers = this.#handlers.get(name);
    if (handlers === undefined || !handlers.delete(handler)) {
      return;
    }

    if (handlers.size === 0) {
      this.#handlers.delete(name);
      // A failure leaves a subscription nobody listens to; the next
      // reconnect drops it, and until then its messages are ignored.
      await this.#command('unsubscribe', [name]).catch(() => undefined);
    }
  }

  /**
   * On one Redis, after the bus resubscribed following a reconnect. On
   * Cluster the client resubscribes on its own and tells nothing; edges
   * find losses there from the next frame or their periodic check.
   */
  onResubscribed(listener: () => void): void {
    this.#onResubscribed.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#handlers.clear();
    await Promise.all([
      disconnect(this.#publisher),
      disconnect(this.#subscriber),
    ]);
  }

  async #command(
    kind: 'subscribe' | 'unsubscribe',
    names: string[],
  ): Promise<unknown> {
    if (this.#sharded) {
      const cluster = this.#subscriber as Cluster;
      return kind === 'subscribe'
        ? cluster.ssubscribe(...names)
        : cluster.sunsubscribe(...names);
    }

    const redis = this.#subscriber as Redis;
    return kind === 'subscribe'
      ? redis.subscribe(...names)
      : redis.unsubscribe(...names);
  }

  async #resubscribe(): Promise<void> {
    const names = [...this.#handlers.keys()];
    try {
      for (let start = 0; start < names.length; start += RESUBSCRIBE_BATCH) {
        await this.#command(
          'subscribe',
          names.slice(start, start + RESUBSCRIBE_BATCH),
        );
      }

      this.#resubscribed = true;
      if (names.length > 0) {
        this.#options.logger.info(
          { channels: names.length },
          'bus resubscribed',
        );
      }

      for (const listener of this.#onResubscribed) {
        listener();
      }
    } catch (error) {
      // The connection dropped again; its next `ready` retries.
      this.#options.logger.warn({ err: error }, 'bus resubscribe failed');
    }
  }
}
