/**
 * Sums the registries of several processes into one Prometheus text, for an
 * edge whose workers share a port: a scrape lands on one worker, and it must
 * answer for the whole edge. Each metric is combined by its own aggregator
 * (prom-client's: counters, histograms and most gauges are summed; a metric
 * may ask for `min`, `max`, `average`, `first` or `omit` instead).
 */
import { AggregatorRegistry, type Registry } from 'prom-client';

/** One process's registry as `Registry.getMetricsAsJSON()` returns it. */
export type RegistrySnapshot = Awaited<
  ReturnType<Registry['getMetricsAsJSON']>
>;

export async function aggregateSnapshots(
  snapshots: RegistrySnapshot[],
): Promise<{ contentType: string; text: string }> {
  const registry = AggregatorRegistry.aggregate(snapshots);
  return { contentType: registry.contentType, text: await registry.metrics() };
}

/** The unlabelled value of a gauge in a snapshot, or undefined. */
export function snapshotValue(
  snapshot: RegistrySnapshot,
  name: string,
): number | undefined {
  return snapshot.find((metric) => metric.name === name)?.values[0]?.value;
}
