/**
 * Checks of how objects point at each other, which no per-object schema
 * sees: selectors that select the pods they are meant for, Services and
 * Ingresses that reach ports that exist, monitors that scrape /metrics on
 * every role's port, and monitoring that reads only metrics the services
 * export.
 */
import { EXPORTED_METRICS, metricsIn } from './exported-metrics.js';
import {
  describe,
  ofKind,
  selects,
  workloads,
  type K8sObject,
  type LabelSelector,
  type Workload,
} from './manifest-model.js';
import { roomcastContainers } from './workload-checks.js';

interface ServiceObject extends K8sObject {
  spec?: {
    selector?: Record<string, string>;
    ports?: { name?: string; port: number; targetPort?: number | string }[];
  };
}

function selected(
  objects: readonly K8sObject[],
  selector: LabelSelector,
  namespace: string | undefined,
): Workload[] {
  return workloads(objects).filter(
    (w) =>
      w.object.metadata.namespace === namespace &&
      selects(selector, w.template.metadata?.labels ?? {}),
  );
}

/**
 * A workload's selector and topology spread select its own pods; PDBs,
 * NetworkPolicies and HPAs point at workloads that exist.
 */
export function checkSelectors(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const { object, selector, template } of workloads(objects)) {
    const labels = template.metadata?.labels ?? {};
    const empty =
      Object.keys(selector.matchLabels ?? {}).length === 0 &&
      (selector.matchExpressions ?? []).length === 0;
    if (empty || !selects(selector, labels)) {
      problems.push(`${describe(object)}: selector does not select its pods`);
    }

    for (const spread of template.spec?.topologySpreadConstraints ?? []) {
      if (!spread.labelSelector || !selects(spread.labelSelector, labels)) {
        problems.push(
          `${describe(object)}: spread over ${spread.topologyKey} does not count its own pods`,
        );
      }
    }
  }

  for (const kind of ['PodDisruptionBudget', 'NetworkPolicy']) {
    for (const object of ofKind<K8sObject>(objects, kind)) {
      const spec = object.spec as
        { selector?: LabelSelector; podSelector?: LabelSelector } | undefined;
      const selector = spec?.selector ?? spec?.podSelector ?? {};
      if (selected(objects, selector, object.metadata.namespace).length === 0) {
        problems.push(`${describe(object)}: selects no pods`);
      }
    }
  }

  for (const hpa of ofKind<K8sObject>(objects, 'HorizontalPodAutoscaler')) {
    const target = (
      hpa.spec as { scaleTargetRef?: { kind: string; name: string } }
    ).scaleTargetRef;
    const found = workloads(objects).some(
      (w) =>
        w.object.kind === target?.kind &&
        w.object.metadata.name === target.name &&
        w.object.metadata.namespace === hpa.metadata.namespace,
    );
    if (!found) {
      problems.push(`${describe(hpa)}: scale target does not exist`);
    }
  }

  return problems;
}

/**
 * Every Service selects pods, each of its target ports is a port of every
 * selected container set, and every Ingress backend is a Service port.
 */
export function checkServicePorts(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const services = ofKind<ServiceObject>(objects, 'Service');
  for (const service of services) {
    const pods = selected(
      objects,
      { matchLabels: service.spec?.selector ?? {} },
      service.metadata.namespace,
    );
    if (pods.length === 0 || !service.spec?.selector) {
      problems.push(`${describe(service)}: selects no pods`);
      continue;
    }

    for (const port of service.spec.ports ?? []) {
      const target = port.targetPort ?? port.port;
      for (const pod of pods) {
        const declared = (pod.template.spec?.containers ?? []).some((c) =>
          (c.ports ?? []).some((p) =>
            typeof target === 'number'
              ? p.containerPort === target
              : p.name === target,
          ),
        );
        if (!declared) {
          problems.push(
            `${describe(service)}: target port ${String(target)} is not a port of ${describe(pod.object)}`,
          );
        }
      }
    }
  }

  for (const ingress of ofKind<K8sObject>(objects, 'Ingress')) {
    const rules =
      (
        ingress.spec as {
          rules?: {
            http?: {
              paths?: {
                backend?: {
                  service?: {
                    name: string;
                    port?: { name?: string; number?: number };
                  };
                };
              }[];
            };
          }[];
        }
      ).rules ?? [];
    for (const path of rules.flatMap((rule) => rule.http?.paths ?? [])) {
      const backend = path.backend?.service;
      const service = services.find(
        (s) =>
          s.metadata.name === backend?.name &&
          s.metadata.namespace === ingress.metadata.namespace,
      );
      const port = service?.spec?.ports?.find(
        (p) =>
          (backend?.port?.name !== undefined && p.name === backend.port.name) ||
          p.port === backend?.port?.number,
      );
      if (port === undefined) {
        problems.push(
          `${describe(ingress)}: backend ${backend?.name ?? '?'} is not a Service port`,
        );
      }
    }
  }

  return problems;
}

/**
 * PodMonitors scrape /metrics on named ports, and every roomcast container's
 * port is scraped by one of them.
 */
export function checkMonitors(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const scraped = new Set<string>();
  for (const monitor of ofKind<K8sObject>(objects, 'PodMonitor')) {
    const spec = monitor.spec as {
      selector?: LabelSelector;
      podMetricsEndpoints?: { port?: string; path?: string }[];
    };
    const pods = selected(
      objects,
      spec.selector ?? {},
      monitor.metadata.namespace,
    );
    for (const endpoint of spec.podMetricsEndpoints ?? []) {
      if (endpoint.path !== '/metrics') {
        problems.push(`${describe(monitor)}: scrapes ${String(endpoint.path)}`);
      }

      const matching = pods.flatMap((pod) =>
        (pod.template.spec?.containers ?? []).flatMap((c) =>
          (c.ports ?? [])
            .filter((p) => p.name !== undefined && p.name === endpoint.port)
            .map(() => `${describe(pod.object)}/${c.name}`),
        ),
      );
      if (matching.length === 0) {
        problems.push(
          `${describe(monitor)}: port ${String(endpoint.port)} is on no selected pod`,
        );
      }

      for (const container of matching) {
        scraped.add(container);
      }
    }
  }

  for (const { workload, container } of roomcastContainers(objects)) {
    if (!scraped.has(`${describe(workload.object)}/${container.name}`)) {
      problems.push(
        `${describe(workload.object)} ${container.name}: metrics are not scraped`,
      );
    }
  }

  return problems;
}

/** Where a rule or dashboard names a metric, for messages. */
export interface MetricUse {
  where: string;
  expression: string;
}

export function ruleExpressions(objects: readonly K8sObject[]): MetricUse[] {
  const uses: MetricUse[] = [];
  for (const rule of ofKind<K8sObject>(objects, 'PrometheusRule')) {
    const groups =
      (
        rule.spec as {
          groups?: {
            rules?: { alert?: string; record?: string; expr?: unknown }[];
          }[];
        }
      ).groups ?? [];
    for (const entry of groups.flatMap((group) => group.rules ?? [])) {
      uses.push({
        where: `${describe(rule)} ${entry.alert ?? entry.record ?? '?'}`,
        expression: String(entry.expr),
      });
    }
  }

  for (const hpa of ofKind<K8sObject>(objects, 'HorizontalPodAutoscaler')) {
    const metrics =
      (hpa.spec as { metrics?: { pods?: { metric?: { name?: string } } }[] })
        .metrics ?? [];
    for (const metric of metrics) {
      const name = metric.pods?.metric?.name;
      if (name !== undefined) {
        uses.push({ where: describe(hpa), expression: name });
      }
    }
  }

  return uses;
}

/** Each use reads only metrics the services export, and reads at least one. */
export function checkMetricNames(uses: readonly MetricUse[]): string[] {
  const problems: string[] = [];
  for (const { where, expression } of uses) {
    const names = metricsIn(expression);
    if (names.length === 0) {
      problems.push(`${where}: reads no roomcast metric`);
    }

    for (const name of names) {
      if (!EXPORTED_METRICS.has(name)) {
        problems.push(`${where}: ${name} is not exported by roomcast`);
      }
    }
  }

  return problems;
}
