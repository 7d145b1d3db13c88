/**
 * One Prometheus registry per process. Components receive it and register
 * their own metrics on it, so a standalone process exposes every role's
 * metrics on each of its HTTP ports and tests get a fresh registry each.
 */
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

export function createRegistry(options: { defaults?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaults ?? true) {
    collectDefaultMetrics({
      register: registry,
      eventLoopMonitoringPrecision: 20,
    });
  }

  return registry;
}

/** Returns the metric of that name when already registered (shared by roles in one process). */
export function counter<T extends string>(
  registry: Registry,
  config: Omit<CounterConfiguration<T>, 'registers'>,
): Counter<T> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) {
    return existing as Counter<T>;
  }

  return new Counter<T>({ ...config, registers: [registry] });
}

export function gauge<T extends string>(
  registry: Registry,
  config: Omit<GaugeConfiguration<T>, 'registers'>,
): Gauge<T> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) {
    return existing as Gauge<T>;
  }

  return new Gauge<T>({ ...config, registers: [registry] });
}

export function histogram<T extends string>(
  registry: Registry,
  config: Omit<HistogramConfiguration<T>, 'registers'>,
): Histogram<T> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) {
    return existing as Histogram<T>;
  }

  return new Histogram<T>({ ...config, registers: [registry] });
}
