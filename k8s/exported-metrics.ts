/**
 * The metrics the services export that the manifests read: the HPA's
 * custom metric, the alerts and the Grafana dashboard. A name used there
 * and missing here is a typo or a metric the services do not have; a
 * metric renamed in the services must be renamed here and in k8s/monitoring.
 */
export const EXPORTED_METRICS: ReadonlySet<string> = new Set([
  'roomcast_edge_connections',
  'roomcast_edge_connects_total',
  'roomcast_edge_frames_sent_total',
  'roomcast_edge_bytes_sent_total',
  'roomcast_edge_slow_closes_total',
  'roomcast_edge_dropped_items_total',
  'roomcast_edge_stream_gaps_total',
  'roomcast_priority_items_total',
  'roomcast_reliable_lost_total',
  'roomcast_bus_ready',
  'roomcast_bus_publish_failures_total',
  'roomcast_shard_rooms',
  'roomcast_shard_ownership_changes_total',
  'roomcast_admin_requests_seconds',
  // prom-client's default metrics, on in every process.
  'nodejs_eventloop_lag_seconds',
]);

const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

/**
 * The `roomcast_*` and `nodejs_*` metric names a PromQL expression reads,
 * with a histogram's `_bucket`, `_sum` and `_count` series named by their
 * histogram.
 */
export function metricsIn(expression: string): string[] {
  const names = expression.match(/\b(?:roomcast|nodejs)_[a-z0-9_]+/g) ?? [];

  return names.map((name) => {
    const base = name.replace(HISTOGRAM_SERIES, '');

    return base !== name && EXPORTED_METRICS.has(base) ? base : name;
  });
}
