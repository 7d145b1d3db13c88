/**
 * The figures of a run: what the console prints, the JSON report holds and
 * objectives are checked against. Rates are per second over the steady
 * window: the timeline intervals that lie wholly inside publishing, so the
 * connect ramp and the drain do not dilute them.
 */
import { ITEM_CLASSES, type ItemClass } from './frame-summary.js';
import { percentilesOf, type LatencyPercentiles } from './latency-histogram.js';
import {
  PUBLISH_TYPES,
  type PublishType,
  type PublishTypeCounts,
} from './publisher.js';
import type { BurstResult } from './publisher.js';
import type { RunResult } from './run.js';
import { viewerCount } from './scenario.js';
import { itemsBetween } from './service-metrics.js';

export interface Figures {
  viewers: {
    planned: number;
    welcomed: number;
    /**
     * Failed connects by reason; with `arrival.retry` these are attempts,
     * each retried, and only `planned - welcomed` viewers never got in.
     */
    failed: Record<string, number>;
    /** Whether failed first connects were retried (`arrival.retry`). */
    retried: boolean;
    /** Viewers welcomed per second during the connect phase. */
    connectPerSecond: number;
    /** From starting the TCP connect to the welcome frame. */
    connectLatency: LatencyPercentiles;
    /** Closes of open connections before the end, by code. */
    closedEarly: Record<string, number>;
  };
  published: {
    byType: Record<PublishType, PublishTypeCounts>;
    /** Accepted messages per second. */
    perSecond: number;
    /** From the time each request was due to its reply. */
    httpLatency: LatencyPercentiles;
    late: number;
    skipped: number;
  };
  delivered: {
    /** Length of the steady window the rates are measured over. */
    windowSeconds: number;
    itemsPerSecond: number;
    framesPerSecond: number;
    bytesPerSecond: number;
    itemsPerSecondByClass: Record<ItemClass, number>;
    /** Whole run, all viewers. */
    totalItems: number;
    totalItemsByClass: Record<ItemClass, number>;
    totalFrames: number;
    totalBytes: number;
    likesCarried: number;
  };
  /** From the due time in the item to the viewer reading it (sampled viewers). */
  latency: { reliable: LatencyPercentiles; chat: LatencyPercentiles };
  reliable: {
    /** Reliable items the viewers present at the end should have received. */
    expected: number;
    received: number;
    /** Skipped seqs plus seqs never received by the end: must be 0. */
    lost: number;
    gapLost: number;
    missingAtEnd: number;
    /** Must be 0. */
    duplicated: number;
    viewersBehind: number;
    /** Not connected at the end, leaving out connect failures and aborts. */
    viewersGone: number;
    viewersAborted: number;
    /** Viewers of simulator processes that never reported (see DrainReport). */
    unreported: number;
    /** Viewers that saw a gap or a duplicate, and examples to start from. */
    viewersWithAnomalies: number;
    anomalyExamples: string[];
  };
  /** Read from the service's /metrics; -1 where it exposes nothing. */
  service: {
    /** Mean CPU over the steady window, in cores. */
    cpuCores: number;
    peakRssBytes: number;
    /** Resident memory before the viewers connected. */
    baseRssBytes: number;
    /**
     * The edge processes alone (workers included), from /proc when the load
     * test knows their pids, else -1: resident memory before the viewers
     * connected, with every viewer held (the last sample before publishing
     * ended), and the difference over the viewers welcomed.
     */
    edge: {
      baseRssBytes: number;
      heldRssBytes: number;
      bytesPerViewer: number;
      /**
       * What the second half of the viewers added, per viewer: the held
       * memory less the memory when half of them were connected. Free of
       * what a process gives back after starting, which the whole-run
       * figure is not; -1 when not measured.
       */
      marginalBytesPerViewer: number;
    };
    /** Priority engine outcomes over the run, by `class/outcome[/reason]`. */
    items: Record<string, number>;
  };
  /** What the viewers themselves did. */
  viewerTraffic: {
    chatSent: number;
    likesSent: number;
    reconnects: number;
    rewelcomed: number;
    /** Seqs skipped on `reload` (past the edge's history): not counted as lost. */
    reloadSkipped: number;
    controls: Record<string, number>;
    errors: Record<string, number>;
  };
  burst: BurstResult | null;
  simulator: {
    processes: number;
    /** CPU of the coordinating process (publisher) while publishing. */
    coordinatorCpuCores: number;
    /** Share of frames summarized from the per-room cache. */
    frameCacheHitRatio: number;
    /** Mean CPU of all simulator processes over the steady window, in cores. */
    cpuCores: number;
    peakRssBytes: number;
  };
  clockSkewedSamples: number;
}

function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function computeFigures(result: RunResult): Figures {
  const { timeline, publish, drain } = result;
  const connections = timeline.latestConnections();
  const window = timeline.deliveryBetween(publish.startMs, publish.endMs);
  const seconds = window.seconds;
  const perSecond = (n: number): number =>
    seconds > 0 ? round(n / seconds) : 0;
  const delivery = window.delivery;
  const total = timeline.totalDelivery;
  const itemsInWindow = delivery.items.reduce((sum, n) => sum + n, 0);
  const byClass = Object.fromEntries(
    ITEM_CLASSES.map((name, i) => [name, perSecond(delivery.items[i] ?? 0)]),
  ) as Record<ItemClass, number>;
  let accepted = 0;
  let skipped = 0;
  for (const type of PUBLISH_TYPES) {
    accepted += publish.byType[type].accepted;
    skipped += publish.byType[type].skipped;
  }

  let cpuMs = 0;
  let peakRss = 0;
  let serviceCpuMs = 0;
  let serviceCpuKnown = false;
  let servicePeakRss = -1;
  for (const interval of timeline.intervals) {
    peakRss = Math.max(peakRss, interval.simulatorRssBytes);
    servicePeakRss = Math.max(servicePeakRss, interval.serviceRssBytes);
    if (
      interval.endMs > 0 &&
      interval.startMs >= publish.startMs &&
      interval.endMs <= publish.endMs
    ) {
      cpuMs += interval.simulatorCpuMs;
      if (interval.serviceCpuMs >= 0) {
        serviceCpuMs += interval.serviceCpuMs;
        serviceCpuKnown = true;
      }
    }
  }

  const samples = timeline.serviceSamples;
  const firstSample = samples[0];
  const lastSample = samples.at(-1);

  const edgeBase = samples.find((sample) => sample.edgeRssBytes >= 0);
  const edgeHeld = samples.findLast(
    (sample) => sample.edgeRssBytes >= 0 && sample.atMs <= publish.endMs,
  );
  const welcomed = result.readiness.welcomed;
  const half = timeline.intervals.find(
    (interval) =>
      interval.edgeRssBytes >= 0 && interval.welcomed >= welcomed / 2,
  );
  const marginalBytesPerViewer =
    half === undefined ||
    edgeHeld === undefined ||
    welcomed - half.welcomed < welcomed / 4
      ? -1
      : Math.round(
          (edgeHeld.edgeRssBytes - half.edgeRssBytes) /
            (welcomed - half.welcomed),
        );
  const edge =
    edgeBase === undefined || edgeHeld === undefined
      ? {
          baseRssBytes: -1,
          heldRssBytes: -1,
          bytesPerViewer: -1,
          marginalBytesPerViewer: -1,
        }
      : {
          baseRssBytes: edgeBase.edgeRssBytes,
          heldRssBytes: edgeHeld.edgeRssBytes,
          bytesPerViewer:
            welcomed > 0
              ? Math.round(
                  (edgeHeld.edgeRssBytes - edgeBase.edgeRssBytes) / welcomed,
                )
              : -1,
          marginalBytesPerViewer,
        };

  const lookups = total.cacheHits + total.cacheMisses;
  const closedEarly = { ...connections.closed };
  return {
    viewers: {
      planned: viewerCount(result.scenario),
      welcomed: result.readiness.welcomed,
      failed: connections.failed,
      retried: result.scenario.arrival.retry,
      connectPerSecond:
        result.connectPhaseMs > 0
          ? round((result.readiness.welcomed * 1000) / result.connectPhaseMs)
          : 0,
      connectLatency: percentilesOf(timeline.connectLatency),
      closedEarly,
    },
    published: {
      byType: publish.byType,
      perSecond: round(
        (accepted * 1000) / Math.max(1, publish.endMs - publish.startMs),
      ),
      httpLatency: percentilesOf(publish.httpLatency),
      late: publish.late,
      skipped,
    },
    delivered: {
      windowSeconds: round(seconds),
      itemsPerSecond: perSecond(itemsInWindow),
      framesPerSecond: perSecond(delivery.frames),
      bytesPerSecond: perSecond(delivery.bytes),
      itemsPerSecondByClass: byClass,
      totalItems: total.items.reduce((sum, n) => sum + n, 0),
      totalItemsByClass: Object.fromEntries(
        ITEM_CLASSES.map((name, i) => [name, total.items[i] ?? 0]),
      ) as Record<ItemClass, number>,
      totalFrames: total.frames,
      totalBytes: total.bytes,
      likesCarried: total.likes,
    },
    latency: {
      reliable: percentilesOf(timeline.reliableLatency),
      chat: percentilesOf(timeline.chatLatency),
    },
    reliable: {
      expected: drain.expected,
      received: total.reliable,
      lost: total.gapLost + drain.missingAtEnd,
      gapLost: total.gapLost,
      missingAtEnd: drain.missingAtEnd,
      duplicated: total.duplicated,
      viewersBehind: drain.behind,
      viewersGone: drain.gone - drain.aborted - drain.neverConnected,
      viewersAborted: drain.aborted,
      unreported: drain.unreported,
      viewersWithAnomalies: drain.viewersWithAnomalies,
      anomalyExamples: drain.anomalyExamples.slice(0, 20),
    },
    service: {
      cpuCores:
        serviceCpuKnown && seconds > 0
          ? round(serviceCpuMs / 1000 / seconds, 2)
          : -1,
      peakRssBytes: servicePeakRss,
      baseRssBytes: firstSample?.rssBytes ?? -1,
      edge,
      items:
        firstSample !== undefined && lastSample !== undefined
          ? itemsBetween(firstSample, lastSample)
          : {},
    },
    viewerTraffic: {
      chatSent: total.chatSent,
      likesSent: total.likesSent,
      reconnects: connections.reconnects,
      rewelcomed: connections.rewelcomed,
      reloadSkipped: total.reloadSkipped,
      controls: connections.controls,
      errors: connections.errors,
    },
    burst: result.burst,
    simulator: {
      processes: result.processes,
      coordinatorCpuCores: round(result.coordinatorCpuCores, 2),
      frameCacheHitRatio: lookups > 0 ? round(total.cacheHits / lookups, 4) : 0,
      cpuCores: seconds > 0 ? round(cpuMs / 1000 / seconds, 2) : 0,
      peakRssBytes: peakRss,
    },
    clockSkewedSamples: total.clockSkewed,
  };
}
