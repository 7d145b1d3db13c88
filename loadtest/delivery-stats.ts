/**
 * Counters of one simulator process, and the interval snapshots it sends to
 * the coordinator. Counters are per process, not per viewer: a viewer holds
 * only its last seq, and bumps shared numbers.
 */
import { emptyItemCounts, type ItemCounts } from './frame-summary.js';
import {
  encodeHistogram,
  newHistogram,
  recordMs,
  type Histogram,
} from './latency-histogram.js';

/** What viewers received in an interval (or in total, once summed). */
export interface DeliveryCounts {
  frames: number;
  batchFrames: number;
  /** WebSocket payload bytes. */
  bytes: number;
  items: ItemCounts;
  /** Likes carried by `likes` aggregates. */
  likes: number;
  /** Reliable items received, duplicates included. */
  reliable: number;
  /** Reliable items skipped over: a seq arrived past the next expected one. */
  gapLost: number;
  /** Reliable items received at or below a seq already seen. */
  duplicated: number;
  /** Frames whose summary came from the per-room cache. */
  cacheHits: number;
  cacheMisses: number;
  /** Latency samples whose send time was after the receive time. */
  clockSkewed: number;
  /** Seqs skipped on a `reload` control (beyond the edge's history). */
  reloadSkipped: number;
  /** Chat and like frames sent by viewers. */
  chatSent: number;
  likesSent: number;
}

export function emptyDeliveryCounts(): DeliveryCounts {
  return {
    frames: 0,
    batchFrames: 0,
    bytes: 0,
    items: emptyItemCounts(),
    likes: 0,
    reliable: 0,
    gapLost: 0,
    duplicated: 0,
    cacheHits: 0,
    cacheMisses: 0,
    clockSkewed: 0,
    reloadSkipped: 0,
    chatSent: 0,
    likesSent: 0,
  };
}

export function addDeliveryCounts(
  into: DeliveryCounts,
  other: DeliveryCounts,
): void {
  into.frames += other.frames;
  into.batchFrames += other.batchFrames;
  into.bytes += other.bytes;
  for (let i = 0; i < into.items.length; i++) {
    into.items[i] = (into.items[i] ?? 0) + (other.items[i] ?? 0);
  }

  into.likes += other.likes;
  into.reliable += other.reliable;
  into.gapLost += other.gapLost;
  into.duplicated += other.duplicated;
  into.cacheHits += other.cacheHits;
  into.cacheMisses += other.cacheMisses;
  into.clockSkewed += other.clockSkewed;
  into.reloadSkipped += other.reloadSkipped;
  into.chatSent += other.chatSent;
  into.likesSent += other.likesSent;
}

/** Connection counts of one process; totals, not deltas. */
export interface ConnectionCounts {
  attempted: number;
  /** Upgrades that completed. */
  opened: number;
  /** Viewers that got their (first) welcome frame. */
  welcomed: number;
  /** Connections opened again after a close, and welcomed again. */
  reconnects: number;
  rewelcomed: number;
  /** Currently open. */
  open: number;
  failed: Record<string, number>;
  /** Closes of open connections, by close code. */
  closed: Record<string, number>;
  /** `control` frames received, by reason. */
  controls: Record<string, number>;
  /** `error` frames received, by code. */
  errors: Record<string, number>;
}

export function emptyConnectionCounts(): ConnectionCounts {
  return {
    attempted: 0,
    opened: 0,
    welcomed: 0,
    reconnects: 0,
    rewelcomed: 0,
    open: 0,
    failed: {},
    closed: {},
    controls: {},
    errors: {},
  };
}

export function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

export function addRecord(
  into: Record<string, number>,
  other: Record<string, number>,
): void {
  for (const [key, value] of Object.entries(other)) {
    into[key] = (into[key] ?? 0) + value;
  }
}

/** Process figures of one interval. */
export interface ProcessSample {
  /** CPU time used in the interval, user plus system, in milliseconds. */
  cpuMs: number;
  rssBytes: number;
  heapUsedBytes: number;
}

/** One interval of one simulator process, as sent to the coordinator. */
export interface WorkerSnapshot {
  worker: number;
  /** The coordinator's interval index; -1 for the final, partial one. */
  index: number;
  /** When the interval ended, wall-clock milliseconds. */
  atMs: number;
  intervalMs: number;
  delivery: DeliveryCounts;
  connections: ConnectionCounts;
  /** Encoded histograms of the interval (empty string when empty). */
  reliableLatency: string;
  chatLatency: string;
  connectLatency: string;
  process: ProcessSample;
}

/** The live counters of one simulator process. */
export class DeliveryStats {
  delivery = emptyDeliveryCounts();
  readonly connections = emptyConnectionCounts();
  #reliableLatency = newHistogram();
  #chatLatency = newHistogram();
  #connectLatency = newHistogram();
  #lastAtMs = Date.now();
  #lastCpu = process.cpuUsage();

  recordReliableLatency(ms: number): void {
    if (ms < 0) {
      this.delivery.clockSkewed += 1;
    }

    recordMs(this.#reliableLatency, ms);
  }

  recordChatLatency(ms: number): void {
    if (ms < 0) {
      this.delivery.clockSkewed += 1;
    }

    recordMs(this.#chatLatency, ms);
  }

  recordConnectLatency(ms: number): void {
    recordMs(this.#connectLatency, ms);
  }

  /** Ends the interval: returns its snapshot and starts a new one. */
  takeSnapshot(worker: number, index: number): WorkerSnapshot {
    const atMs = Date.now();
    const cpu = process.cpuUsage(this.#lastCpu);
    const memory = process.memoryUsage();
    const snapshot: WorkerSnapshot = {
      worker,
      index,
      atMs,
      intervalMs: atMs - this.#lastAtMs,
      delivery: this.delivery,
      connections: structuredClone(this.connections),
      reliableLatency: takeEncoded(this.#reliableLatency),
      chatLatency: takeEncoded(this.#chatLatency),
      connectLatency: takeEncoded(this.#connectLatency),
      process: {
        cpuMs: (cpu.user + cpu.system) / 1000,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
      },
    };
    this.delivery = emptyDeliveryCounts();
    this.#lastAtMs = atMs;
    this.#lastCpu = process.cpuUsage();
    return snapshot;
  }
}

function takeEncoded(histogram: Histogram): string {
  if (histogram.totalCount === 0) {
    return '';
  }

  const encoded = encodeHistogram(histogram);
  histogram.reset();
  return encoded;
}
