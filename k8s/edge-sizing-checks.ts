/**
 * An edge pod's size against what it runs. `roomcast edge` starts
 * `ROOMCAST_EDGE_WORKERS` processes (one when unset), each one event loop on
 * one core, so the worker count follows the CPU request: one worker per
 * whole requested core, at least one. Memory must hold every process with as
 * many viewers as one process may open sockets for, and the autoscaler's
 * connections target must fit in one pod's workers. The figures come from
 * docs/edge.md (workers) and are repeated in docs/deploy.md (Edge workers).
 */
import { SETTINGS } from '../config/index.js';
import { describe, ofKind, type K8sObject } from './manifest-model.js';
import { containerEnvironment, roomcastContainers } from './workload-checks.js';

/** Resident memory of one roomcast process before any viewer, MiB (high end). */
export const PROCESS_BASE_MIB = 160;
/** Memory per connected viewer, KiB (high end, empty send buffer). */
export const VIEWER_KIB = 3;
/** Sockets one process holds at most: the per-process open-file limit. */
export const SOCKETS_PER_WORKER = 19_500;

/** Workers an edge with this CPU request (cores) should run. */
export function workersForCpu(cpuCores: number): number {
  return Math.max(1, Math.floor(cpuCores + 1e-9));
}

/**
 * MiB an edge of `workers` processes needs with every worker full: the
 * workers, plus the primary that supervises them when there are several.
 */
export function edgeMemoryMiB(workers: number): number {
  const processes = workers > 1 ? workers + 1 : 1;
  return (
    processes * PROCESS_BASE_MIB +
    (workers * SOCKETS_PER_WORKER * VIEWER_KIB) / 1024
  );
}

const BINARY_SUFFIX: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};
const DECIMAL_SUFFIX: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

/** A CPU quantity (`2`, `1.5`, `500m`) in cores; NaN when unreadable. */
export function cpuCores(quantity: string | number | undefined): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(String(quantity ?? ''));
  if (match?.[1] === undefined) {
    return Number.NaN;
  }

  return Number(match[1]) / (match[2] === 'm' ? 1000 : 1);
}

/** A memory quantity (`1Gi`, `512Mi`, `1G`, bytes) in MiB; NaN when unreadable. */
export function memoryMiB(quantity: string | number | undefined): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)([KMGT]i|[kMGT]?)$/.exec(
    String(quantity ?? ''),
  );
  const unit = match?.[2] ?? '';
  const factor = BINARY_SUFFIX[unit] ?? DECIMAL_SUFFIX[unit];
  if (match?.[1] === undefined || factor === undefined) {
    return Number.NaN;
  }

  return (Number(match[1]) * factor) / 2 ** 20;
}

interface EdgeAutoscaler {
  scaleTargetRef?: { kind?: string; name?: string };
  metrics?: {
    type: string;
    pods?: {
      metric?: { name?: string };
      target?: { averageValue?: string | number };
    };
  }[];
}

/**
 * For every edge container: `ROOMCAST_EDGE_WORKERS` is one per whole core of
 * the CPU request; the memory request holds {@link edgeMemoryMiB} and the
 * limit is no lower than the request; and an HPA on
 * `roomcast_edge_connections` for its Deployment targets no more viewers per
 * pod than its workers may hold.
 */
export function checkEdgeSizing(
  objects: readonly K8sObject[],
  externalSecrets: readonly K8sObject[] = [],
): string[] {
  const problems: string[] = [];
  const autoscalers = ofKind<K8sObject>(objects, 'HorizontalPodAutoscaler');
  for (const { workload, container, role } of roomcastContainers(objects)) {
    if (role !== 'edge') {
      continue;
    }

    const where = `${describe(workload.object)} ${container.name}`;
    const { env } = containerEnvironment(container, objects, externalSecrets);
    const workers = Number(env[SETTINGS.edgeWorkers.env] ?? 1);
    const cpu = cpuCores(container.resources?.requests?.['cpu']);
    const memory = memoryMiB(container.resources?.requests?.['memory']);
    const memoryLimit = memoryMiB(container.resources?.limits?.['memory']);
    if (Number.isNaN(cpu) || Number.isNaN(memory)) {
      problems.push(`${where}: CPU or memory request missing or unreadable`);
      continue;
    }

    if (workers !== workersForCpu(cpu)) {
      problems.push(
        `${where}: ${workers} edge worker(s) for a CPU request of ${cpu}; run ${workersForCpu(cpu)} (one per requested core) via ${SETTINGS.edgeWorkers.env}`,
      );
    }

    const needed = edgeMemoryMiB(workers);
    if (memory < needed) {
      problems.push(
        `${where}: memory request ${Math.round(memory)} MiB is below the ${Math.ceil(needed)} MiB that ${workers} full worker(s) need`,
      );
    }

    if (!(memoryLimit >= memory)) {
      problems.push(`${where}: memory limit is below its request`);
    }

    for (const autoscaler of autoscalers) {
      const spec = autoscaler.spec as EdgeAutoscaler | undefined;
      if (spec?.scaleTargetRef?.name !== workload.object.metadata.name) {
        continue;
      }

      for (const metric of spec.metrics ?? []) {
        const target = Number(metric.pods?.target?.averageValue);
        if (
          metric.pods?.metric?.name === 'roomcast_edge_connections' &&
          target > workers * SOCKETS_PER_WORKER
        ) {
          problems.push(
            `${describe(autoscaler)}: ${target} connections per pod exceed what ${workers} worker(s) hold (${workers * SOCKETS_PER_WORKER})`,
          );
        }
      }
    }
  }

  return problems;
}
