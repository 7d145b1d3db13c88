/**
 * Everything measured during a run, interval by interval (one second by
 * default), plus running totals. Interval i ends when the coordinator sends
 * tick i; every simulator process answers with its counters for the same
 * interval, so the intervals of all processes line up. Latency histograms are
 * kept per interval in their compressed encoding (a few hundred bytes each)
 * and merged into the totals as they arrive.
 */
import {
  addDeliveryCounts,
  addRecord,
  emptyConnectionCounts,
  emptyDeliveryCounts,
  type ConnectionCounts,
  type DeliveryCounts,
  type WorkerSnapshot,
} from './delivery-stats.js';
import {
  addEncoded,
  newHistogram,
  type Histogram,
} from './latency-histogram.js';
import { PUBLISH_TYPES, type PublishType } from './publisher.js';
import { itemsBetween, type ServiceSample } from './service-metrics.js';

export interface Interval {
  index: number;
  startMs: number;
  /** Wall-clock end; 0 while the interval is open. */
  endMs: number;
  delivery: DeliveryCounts;
  reliableLatency: string[];
  chatLatency: string[];
  connectLatency: string[];
  /** Connections open at the end of the interval, over all processes. */
  open: number;
  welcomed: number;
  /** Simulator processes: CPU used in the interval and memory at its end. */
  simulatorCpuMs: number;
  simulatorRssBytes: number;
  /** The service: CPU used in the interval (-1 unknown) and memory. */
  serviceCpuMs: number;
  serviceRssBytes: number;
  /** The edge processes' share of it; -1 unknown. */
  edgeRssBytes: number;
  /** Priority engine outcomes in the interval, by `class/outcome[/reason]`. */
  serviceItems: Record<string, number>;
  /** Messages accepted by the admin API in the interval, by type. */
  published: Record<PublishType, number>;
  publishRefused: number;
}

function emptyPublished(): Record<PublishType, number> {
  return Object.fromEntries(PUBLISH_TYPES.map((type) => [type, 0])) as Record<
    PublishType,
    number
  >;
}

export class Timeline {
  readonly startMs: number;
  readonly intervals: Interval[] = [];
  readonly totalDelivery = emptyDeliveryCounts();
  readonly reliableLatency: Histogram = newHistogram();
  readonly chatLatency: Histogram = newHistogram();
  readonly connectLatency: Histogram = newHistogram();
  /** Latest connection counts of each simulator process. */
  readonly #connections = new Map<number, ConnectionCounts>();
  readonly #rss = new Map<number, number>();
  /** Service samples in the order taken. */
  readonly serviceSamples: ServiceSample[] = [];
  #current: Interval;

  constructor(startMs: number) {
    this.startMs = startMs;
    this.#current = this.#newInterval(0, startMs);
  }

  /** Tick `index` was sent: interval `index` ends, the next begins. */
  beginInterval(index: number, atMs: number): void {
    const ending = this.#intervalAt(index);
    ending.endMs = atMs;
    this.#current = this.#newInterval(index + 1, atMs);
  }

  addSnapshot(snapshot: WorkerSnapshot): void {
    const interval =
      snapshot.index >= 0 ? this.#intervalAt(snapshot.index) : this.#current;
    addDeliveryCounts(interval.delivery, snapshot.delivery);
    addDeliveryCounts(this.totalDelivery, snapshot.delivery);
    for (const [list, encoded, total] of [
      [
        interval.reliableLatency,
        snapshot.reliableLatency,
        this.reliableLatency,
      ],
      [interval.chatLatency, snapshot.chatLatency, this.chatLatency],
      [interval.connectLatency, snapshot.connectLatency, this.connectLatency],
    ] as const) {
      if (encoded !== '') {
        list.push(encoded);
        addEncoded(total, encoded);
      }
    }

    this.#connections.set(snapshot.worker, snapshot.connections);
    this.#rss.set(snapshot.worker, snapshot.process.rssBytes);
    interval.simulatorCpuMs += snapshot.process.cpuMs;
    interval.open = this.latestConnections().open;
    interval.welcomed = this.latestConnections().welcomed;
    interval.simulatorRssBytes = [...this.#rss.values()].reduce(
      (sum, n) => sum + n,
      0,
    );
  }

  /** A service sample taken when interval `index` ended. */
  addServiceSample(sample: ServiceSample, index: number): void {
    const previous = this.serviceSamples.at(-1);
    this.serviceSamples.push(sample);
    const interval = this.#intervalAt(index);
    interval.serviceRssBytes = sample.rssBytes;
    interval.edgeRssBytes = sample.edgeRssBytes;
    if (previous !== undefined) {
      if (sample.cpuSeconds >= 0 && previous.cpuSeconds >= 0) {
        interval.serviceCpuMs =
          (sample.cpuSeconds - previous.cpuSeconds) * 1000;
      }

      interval.serviceItems = itemsBetween(previous, sample);
    }
  }

  addPublishReply(type: PublishType, accepted: boolean): void {
    if (accepted) {
      this.#current.published[type] += 1;
    } else {
      this.#current.publishRefused += 1;
    }
  }

  /** Connection counts summed over the processes' latest snapshots. */
  latestConnections(): ConnectionCounts {
    const total = emptyConnectionCounts();
    for (const counts of this.#connections.values()) {
      total.attempted += counts.attempted;
      total.opened += counts.opened;
      total.welcomed += counts.welcomed;
      total.reconnects += counts.reconnects;
      total.rewelcomed += counts.rewelcomed;
      total.open += counts.open;
      addRecord(total.failed, counts.failed);
      addRecord(total.closed, counts.closed);
      addRecord(total.controls, counts.controls);
      addRecord(total.errors, counts.errors);
    }

    return total;
  }

  /** Closes the open interval at `atMs`. */
  finish(atMs: number): void {
    this.#current.endMs = atMs;
  }

  /** Delivery summed over the intervals that lie wholly in [fromMs, toMs]. */
  deliveryBetween(
    fromMs: number,
    toMs: number,
  ): { delivery: DeliveryCounts; seconds: number } {
    const delivery = emptyDeliveryCounts();
    let ms = 0;
    for (const interval of this.intervals) {
      if (
        interval.endMs > 0 &&
        interval.startMs >= fromMs &&
        interval.endMs <= toMs
      ) {
        addDeliveryCounts(delivery, interval.delivery);
        ms += interval.endMs - interval.startMs;
      }
    }

    return { delivery, seconds: ms / 1000 };
  }

  #intervalAt(index: number): Interval {
    while (this.intervals.length <= index) {
      this.#newInterval(this.intervals.length, this.#current.startMs);
    }

    return this.intervals[index] as Interval;
  }

  #newInterval(index: number, startMs: number): Interval {
    const existing = this.intervals[index];
    if (existing !== undefined) {
      existing.startMs = startMs;
      return existing;
    }

    const interval: Interval = {
      index,
      startMs,
      endMs: 0,
      delivery: emptyDeliveryCounts(),
      reliableLatency: [],
      chatLatency: [],
      connectLatency: [],
      open: 0,
      welcomed: 0,
      simulatorCpuMs: 0,
      simulatorRssBytes: 0,
      serviceCpuMs: -1,
      serviceRssBytes: -1,
      edgeRssBytes: -1,
      serviceItems: {},
      published: emptyPublished(),
      publishRefused: 0,
    };
    this.intervals[index] = interval;
    return interval;
  }
}
