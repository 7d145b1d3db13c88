/**
 * The IPC between `roomcast edge --workers N` and its workers. A worker
 * announces its port once it listens, answers the primary's `collect` with
 * its registry, and asks the primary for the whole edge's figures when a
 * scrape lands on it (`/metrics`): the primary collects every worker's
 * registry, sums them and sends the text back.
 */
import type { Registry, RegistrySnapshot } from '../metrics/index.js';

/** Worker to primary. */
export type WorkerMessage =
  | { t: 'listening'; port: number; edgeId: string }
  | { t: 'snapshot'; id: number; metrics: RegistrySnapshot }
  | { t: 'scrape'; id: number };

/** Primary to worker. */
export type PrimaryMessage =
  | { t: 'collect'; id: number }
  | { t: 'scraped'; id: number; contentType: string; text: string };

export interface MetricsText {
  contentType: string;
  text: string;
}

/** How long a worker waits for the edge's figures before answering with its own. */
const SCRAPE_TIMEOUT_MS = 5000;

/** A worker's end of the channel (the process's own IPC). */
export class PrimaryLink {
  readonly worker: number;
  /** Resolves when the primary is gone (it exited or was killed). */
  readonly disconnected: Promise<void>;
  #registry: Registry;
  #nextId = 1;
  #scrapes = new Map<number, (text: MetricsText) => void>();

  constructor(worker: number, registry: Registry) {
    if (process.send === undefined) {
      throw new Error('an edge worker needs an IPC channel to its primary');
    }

    this.worker = worker;
    this.#registry = registry;
    this.disconnected = new Promise((resolve) => {
      process.once('disconnect', () => resolve());
    });
    process.on('message', (message: PrimaryMessage) => {
      this.#onMessage(message);
    });
  }

  announce(port: number, edgeId: string): void {
    this.#send({ t: 'listening', port, edgeId });
  }

  /** The figures of the whole edge; this worker's alone if the primary does not answer. */
  async scrape(): Promise<MetricsText> {
    const id = this.#nextId++;
    const answer = new Promise<MetricsText | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.#scrapes.delete(id);
        resolve(undefined);
      }, SCRAPE_TIMEOUT_MS);
      this.#scrapes.set(id, (text) => {
        clearTimeout(timer);
        resolve(text);
      });
    });
    this.#send({ t: 'scrape', id });
    const text = await answer;
    if (text !== undefined) {
      return text;
    }

    return {
      contentType: this.#registry.contentType,
      text: await this.#registry.metrics(),
    };
  }

  #onMessage(message: PrimaryMessage): void {
    if (message.t === 'collect') {
      void this.#registry.getMetricsAsJSON().then((metrics) => {
        this.#send({ t: 'snapshot', id: message.id, metrics });
      });
    } else if (message.t === 'scraped') {
      this.#scrapes.get(message.id)?.(message);
      this.#scrapes.delete(message.id);
    }
  }

  #send(message: WorkerMessage): void {
    if (process.connected) {
      // A callback, so a channel closing meanwhile is not an 'error' event.
      process.send?.(message, undefined, undefined, () => undefined);
    }
  }
}
