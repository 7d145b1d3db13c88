/**
 * A scenario's pass/fail objectives checked against a run's figures. A run
 * with a failed objective makes `roomcast-loadtest run` exit 1, so CI and
 * release pipelines can gate on it.
 */
import type { Figures } from './figures.js';
import type { Objectives } from './scenario.js';

export interface ObjectiveResult {
  /** The scenario field, e.g. `maxReliableP99Ms`. */
  name: string;
  limit: number;
  actual: number;
  passed: boolean;
}

function sum(values: Record<string, number>): number {
  return Object.values(values).reduce((total, n) => total + n, 0);
}

export function checkObjectives(
  objectives: Objectives,
  figures: Figures,
): ObjectiveResult[] {
  const refused = Object.values(figures.published.byType).reduce(
    (total, counts) => total + sum(counts.refused) + counts.failed,
    0,
  );
  const checks: [keyof Objectives, number, 'max' | 'min'][] = [
    ['maxReliableLost', figures.reliable.lost, 'max'],
    ['maxReliableDuplicated', figures.reliable.duplicated, 'max'],
    [
      'maxConnectFailures',
      figures.viewers.planned - figures.viewers.welcomed,
      'max',
    ],
    ['maxReliableP99Ms', figures.latency.reliable.p99Ms, 'max'],
    ['maxChatP99Ms', figures.latency.chat.p99Ms, 'max'],
    ['minDeliveredItemsPerSecond', figures.delivered.itemsPerSecond, 'min'],
    ['maxViewersGone', figures.reliable.viewersGone, 'max'],
    ['maxClosedEarly', sum(figures.viewers.closedEarly), 'max'],
    ['maxPublishRefused', refused, 'max'],
    ['maxServiceRssBytes', figures.service.peakRssBytes, 'max'],
  ];
  const results: ObjectiveResult[] = [];
  for (const [name, actual, kind] of checks) {
    const limit = objectives[name];
    if (limit === undefined) {
      continue;
    }

    results.push({
      name,
      limit,
      actual,
      passed: kind === 'max' ? actual <= limit : actual >= limit,
    });
  }

  // Not a scenario field: a run whose viewers did not all report cannot
  // show that nothing was lost, whatever the scenario asks.
  if (figures.reliable.unreported > 0) {
    results.push({
      name: 'drainReported',
      limit: 0,
      actual: figures.reliable.unreported,
      passed: false,
    });
  }

  return results;
}
