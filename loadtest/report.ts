/**
 * The JSON report of a run: the scenario, the figures, the objectives, and
 * every interval of the timeline as plain numbers (per-interval latency
 * percentiles are computed here from the interval's merged histograms). The
 * HTML report is rendered from this object alone, so a JSON report kept from
 * an old run can be rendered again.
 */
import { cpus, totalmem } from 'node:os';
import { ITEM_CLASSES, type ItemClass } from './frame-summary.js';
import { computeFigures, type Figures } from './figures.js';
import {
  addEncoded,
  newHistogram,
  percentilesOf,
  type LatencyPercentiles,
} from './latency-histogram.js';
import { checkObjectives, type ObjectiveResult } from './objectives.js';
import type { PublishType } from './publisher.js';
import type { RunResult } from './run.js';
import type { Scenario } from './scenario.js';

export interface SeriesPoint {
  /** Seconds from the start of the run to the end of the interval. */
  t: number;
  seconds: number;
  open: number;
  itemsPerSecond: number;
  framesPerSecond: number;
  bytesPerSecond: number;
  itemsPerSecondByClass: Record<ItemClass, number>;
  reliableLatency: LatencyPercentiles;
  chatLatency: LatencyPercentiles;
  publishedPerSecond: Record<PublishType, number>;
  simulatorCpuCores: number;
  simulatorRssBytes: number;
  /** -1 when the service does not expose it. */
  serviceCpuCores: number;
  serviceRssBytes: number;
  edgeRssBytes: number;
  /** Items per second the service dropped and merged, by class. */
  droppedPerSecond: Record<string, number>;
  mergedPerSecond: Record<string, number>;
}

/** Figures of another run of the same scenario, and roomcast's ratios to them. */
export interface BaselineComparison {
  label: string;
  /** The baseline's edge processes (its CPU and RSS are summed over them). */
  processes: number;
  figures: Figures;
  /** roomcast divided by the baseline (throughput: higher is better). */
  ratios: {
    itemsPerSecond: number;
    reliableP50: number;
    reliableP99: number;
    serviceCpuCores: number;
  };
}

export interface Report {
  tool: 'roomcast-loadtest';
  reportVersion: 1;
  scenario: Scenario;
  target: { label: string; adminUrl: string; edgeUrl: string };
  runId: string;
  startedAt: string;
  machine: { cpus: number; memoryBytes: number; node: string };
  figures: Figures;
  objectives: ObjectiveResult[];
  passed: boolean;
  chaos: { action: string; atSeconds: number; error: string }[];
  /** Seconds from the start of the run at which publishing began and ended. */
  publishWindow: { from: number; to: number };
  series: SeriesPoint[];
  baselines: BaselineComparison[];
}

function perClass(
  items: Record<string, number>,
  outcome: 'dropped' | 'merged',
  seconds: number,
): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [key, value] of Object.entries(items)) {
    const [cls, what] = key.split('/');
    if (what === outcome && cls !== undefined && seconds > 0) {
      result[cls] = (result[cls] ?? 0) + value / seconds;
    }
  }

  return result;
}

function percentilesOfEncoded(encoded: string[]): LatencyPercentiles {
  const histogram = newHistogram();
  for (const one of encoded) {
    addEncoded(histogram, one);
  }

  const result = percentilesOf(histogram);
  histogram.destroy();
  return result;
}

function series(result: RunResult): SeriesPoint[] {
  const { timeline } = result;
  const points: SeriesPoint[] = [];
  for (const interval of timeline.intervals) {
    if (interval.endMs === 0) {
      continue;
    }

    const seconds = (interval.endMs - interval.startMs) / 1000;
    if (seconds <= 0) {
      continue;
    }

    const rate = (n: number): number => Math.round((n / seconds) * 10) / 10;
    const items = interval.delivery.items;
    points.push({
      t: Math.round((interval.endMs - timeline.startMs) / 100) / 10,
      seconds,
      open: interval.open,
      itemsPerSecond: rate(items.reduce((a, b) => a + b, 0)),
      framesPerSecond: rate(interval.delivery.frames),
      bytesPerSecond: rate(interval.delivery.bytes),
      itemsPerSecondByClass: Object.fromEntries(
        ITEM_CLASSES.map((name, i) => [name, rate(items[i] ?? 0)]),
      ) as Record<ItemClass, number>,
      reliableLatency: percentilesOfEncoded(interval.reliableLatency),
      chatLatency: percentilesOfEncoded(interval.chatLatency),
      publishedPerSecond: Object.fromEntries(
        Object.entries(interval.published).map(([type, n]) => [type, rate(n)]),
      ) as Record<PublishType, number>,
      simulatorCpuCores: Math.round(interval.simulatorCpuMs / seconds) / 1000,
      simulatorRssBytes: interval.simulatorRssBytes,
      serviceCpuCores:
        interval.serviceCpuMs < 0
          ? -1
          : Math.round(interval.serviceCpuMs / seconds) / 1000,
      serviceRssBytes: interval.serviceRssBytes,
      edgeRssBytes: interval.edgeRssBytes,
      droppedPerSecond: perClass(interval.serviceItems, 'dropped', seconds),
      mergedPerSecond: perClass(interval.serviceItems, 'merged', seconds),
    });
  }

  return points;
}

function ratio(a: number, b: number): number {
  return b > 0 && a >= 0 ? Math.round((a / b) * 1000) / 1000 : -1;
}

export function compareWithBaseline(
  figures: Figures,
  label: string,
  baseline: Figures,
  processes = 1,
): BaselineComparison {
  return {
    label,
    processes,
    figures: baseline,
    ratios: {
      itemsPerSecond: ratio(
        figures.delivered.itemsPerSecond,
        baseline.delivered.itemsPerSecond,
      ),
      reliableP50: ratio(
        figures.latency.reliable.p50Ms,
        baseline.latency.reliable.p50Ms,
      ),
      reliableP99: ratio(
        figures.latency.reliable.p99Ms,
        baseline.latency.reliable.p99Ms,
      ),
      serviceCpuCores: ratio(
        figures.service.cpuCores,
        baseline.service.cpuCores,
      ),
    },
  };
}

export function buildReport(result: RunResult): Report {
  const figures = computeFigures(result);
  const objectives = checkObjectives(result.scenario.objectives, figures);
  const startMs = result.timeline.startMs;
  return {
    tool: 'roomcast-loadtest',
    reportVersion: 1,
    scenario: result.scenario,
    target: result.target,
    runId: result.runId,
    startedAt: result.startedAt,
    machine: {
      cpus: cpus().length,
      memoryBytes: totalmem(),
      node: process.version,
    },
    figures,
    objectives,
    passed: objectives.every((objective) => objective.passed),
    chaos: result.chaos.map((record) => ({
      action: record.step.action,
      atSeconds: Math.round((record.atMs - startMs) / 100) / 10,
      error: record.error,
    })),
    publishWindow: {
      from: Math.round((result.publish.startMs - startMs) / 100) / 10,
      to: Math.round((result.publish.endMs - startMs) / 100) / 10,
    },
    series: series(result),
    baselines: [],
  };
}
