/**
 * In-process bus for standalone mode and tests. Handlers run on a microtask,
 * never inside `publish`, so a publisher is never re-entered by its own
 * subscribers; per channel, messages arrive in publish order.
 */
import type { Bus, BusHandler } from './bus.js';

export class MemoryBus implements Bus {
  #handlers = new Map<string, Set<BusHandler>>();
  #closed = false;

  get ready(): boolean {
    return !this.#closed;
  }

  publish(channel: string, payload: Buffer): void {
    const handlers = this.#handlers.get(channel);
    if (this.#closed || handlers === undefined || handlers.size === 0) {
      return;
    }

    const snapshot = [...handlers];
    queueMicrotask(() => {
      for (const handler of snapshot) {
        handler(payload);
      }
    });
  }

  async subscribe(channel: string, handler: BusHandler): Promise<void> {
    let handlers = this.#handlers.get(channel);
    if (handlers === undefined) {
      handlers = new Set();
      this.#handlers.set(channel, handlers);
    }

    handlers.add(handler);
  }

  async unsubscribe(channel: string, handler: BusHandler): Promise<void> {
    const handlers = this.#handlers.get(channel);
    handlers?.delete(handler);
    if (handlers?.size === 0) {
      this.#handlers.delete(channel);
    }
  }

  /** Never called: this bus has no connection to lose. */
  onResubscribed(): void {
    // Nothing to listen for.
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#handlers.clear();
  }
}
