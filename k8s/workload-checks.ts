/**
 * Checks of each pod template on its own, for what the Kubernetes schemas
 * cannot know: that a roomcast container is configured with settings that
 * exist and would load, probes the paths and port its role serves, keeps
 * its secrets out of ConfigMaps, runs locked down, and that an edge's drain
 * fits inside its termination grace period.
 *
 * Every check returns one message per problem, empty when all is well, so
 * tests can run it on a broken manifest and see it complain.
 */
import {
  SETTINGS,
  loadConfig,
  parseApiKeys,
  type SettingName,
} from '../config/index.js';
import {
  describe,
  workloads,
  ofKind,
  type Container,
  type K8sObject,
  type Probe,
  type Workload,
} from './manifest-model.js';

/** Seconds an edge needs after its drain grace to close sockets and exit. */
export const DRAIN_MARGIN_SECONDS = 10;

/** Kubernetes' default terminationGracePeriodSeconds. */
const DEFAULT_GRACE_SECONDS = 30;

const ROLE_PORT: Readonly<Record<string, SettingName>> = {
  edge: 'edgePort',
  shard: 'shardPort',
  admin: 'adminPort',
};

/** Settings whose values are credentials and belong in a Secret. */
const SECRET_SETTINGS: ReadonlySet<string> = new Set([
  SETTINGS.apiKeys.env,
  SETTINGS.jwtSecret.env,
  SETTINGS.redisUrl.env,
]);

const SETTING_ENV_NAMES: ReadonlySet<string> = new Set(
  Object.values(SETTINGS).map((spec) => spec.env),
);

const CREDENTIALS_IN_URL = /:\/\/[^/@\s]*:[^/@\s]+@/;

/** A container that runs the roomcast image, with the role it was given. */
export interface RoomcastContainer {
  workload: Workload;
  container: Container;
  role: string;
}

export function roomcastContainers(
  objects: readonly K8sObject[],
): RoomcastContainer[] {
  const found: RoomcastContainer[] = [];
  for (const workload of workloads(objects)) {
    for (const container of workload.template.spec?.containers ?? []) {
      if (!/(^|\/)roomcast(:|@|$)/.test(container.image ?? '')) {
        continue;
      }

      found.push({ workload, container, role: container.args?.[0] ?? '' });
    }
  }

  return found;
}

function settingDefault(name: SettingName): unknown {
  return (SETTINGS[name].schema as { default?: unknown }).default;
}

/**
 * The environment a container starts with: its envFrom sources, then its
 * env entries. Secrets missing from the render are looked up in
 * `externalSecrets` (the example of the Secrets an operator creates).
 */
export function containerEnvironment(
  container: Container,
  objects: readonly K8sObject[],
  externalSecrets: readonly K8sObject[] = [],
): { env: Record<string, string>; problems: string[] } {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  const find = (kind: string, name: string | undefined) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name) ??
    (kind === 'Secret'
      ? externalSecrets.find((o) => o.metadata.name === name)
      : undefined);
  const valuesOf = (object: K8sObject): Record<string, string> => {
    const decoded: Record<string, string> = {};
    for (const [key, value] of Object.entries(object.data ?? {})) {
      decoded[key] =
        object.kind === 'Secret'
          ? Buffer.from(value, 'base64').toString('utf8')
          : value;
    }

    return { ...decoded, ...object.stringData };
  };

  for (const source of container.envFrom ?? []) {
    const kind = source.configMapRef ? 'ConfigMap' : 'Secret';
    const ref = source.configMapRef ?? source.secretRef;
    const object = find(kind, ref?.name);
    if (object === undefined) {
      if (ref?.optional !== true) {
        problems.push(`envFrom names ${kind} ${ref?.name ?? '?'}, not found`);
      }

      continue;
    }

    for (const [key, value] of Object.entries(valuesOf(object))) {
      env[`${source.prefix ?? ''}${key}`] = value;
    }
  }

  for (const entry of container.env ?? []) {
    const keyRef =
      entry.valueFrom?.secretKeyRef ?? entry.valueFrom?.configMapKeyRef;
    if (entry.value !== undefined) {
      env[entry.name] = entry.value;
    } else if (keyRef !== undefined) {
      const kind = entry.valueFrom?.secretKeyRef ? 'Secret' : 'ConfigMap';
      const object = find(kind, keyRef.name);
      const value = object ? valuesOf(object)[keyRef.key] : undefined;
      if (value !== undefined) {
        env[entry.name] = value;
      } else if (keyRef.optional !== true) {
        problems.push(`${entry.name} reads ${kind} key ${keyRef.key}, absent`);
      }
    }
  }

  return { env, problems };
}

/**
 * Every variable a roomcast container gets is a setting of
 * config/settings.ts, and the whole environment loads with the service's own
 * loader (bounds, types, unknown ROOMCAST_* names), including the production
 * rules on API keys and the JWT secret.
 */
export function checkEnvironment(
  objects: readonly K8sObject[],
  externalSecrets: readonly K8sObject[] = [],
): string[] {
  const problems: string[] = [];
  for (const { workload, container } of roomcastContainers(objects)) {
    const where = `${describe(workload.object)} ${container.name}`;
    const { env, problems: missing } = containerEnvironment(
      container,
      objects,
      externalSecrets,
    );
    problems.push(...missing.map((problem) => `${where}: ${problem}`));
    for (const name of Object.keys(env)) {
      if (!SETTING_ENV_NAMES.has(name)) {
        problems.push(
          `${where}: ${name} is not a setting in config/settings.ts`,
        );
      }
    }

    for (const entry of container.env ?? []) {
      if (SECRET_SETTINGS.has(entry.name) && entry.value !== undefined) {
        problems.push(`${where}: ${entry.name} is a literal, not a Secret`);
      }
    }

    try {
      const settings = loadConfig(env);
      if (settings.nodeEnv === 'production') {
        parseApiKeys(settings.apiKeys);
        if (settings.apiKeys === '' || settings.jwtSecret.length < 32) {
          problems.push(
            `${where}: production needs ROOMCAST_API_KEYS and a ROOMCAST_JWT_SECRET of 32 characters or more`,
          );
        }
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      problems.push(`${where}: configuration does not load: ${message}`);
    }
  }

  return problems;
}

/** ConfigMaps hold no credentials: no secret settings, no URL passwords. */
export function checkNoSecretsInConfigMaps(
  objects: readonly K8sObject[],
): string[] {
  const problems: string[] = [];
  for (const configMap of ofKind<K8sObject>(objects, 'ConfigMap')) {
    for (const [key, value] of Object.entries(configMap.data ?? {})) {
      if (SECRET_SETTINGS.has(key) || CREDENTIALS_IN_URL.test(value)) {
        problems.push(`${describe(configMap)}: ${key} holds a secret`);
      }
    }
  }

  return problems;
}

function portNumber(
  container: Container,
  port: number | string | undefined,
): number | undefined {
  if (typeof port === 'number') {
    return port;
  }

  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/**
 * Each role listens on its setting's port (as configured, else the default)
 * and declares it; liveness and start-up probe /healthz and readiness probes
 * /readyz on that port.
 */
export function checkProbes(
  objects: readonly K8sObject[],
  externalSecrets: readonly K8sObject[] = [],
): string[] {
  const problems: string[] = [];
  for (const { workload, container, role } of roomcastContainers(objects)) {
    const where = `${describe(workload.object)} ${container.name}`;
    const setting = ROLE_PORT[role];
    if (setting === undefined) {
      problems.push(`${where}: role ${JSON.stringify(role)} is not a k8s role`);
      continue;
    }

    const { env } = containerEnvironment(container, objects, externalSecrets);
    const configured = env[SETTINGS[setting].env];
    const expected =
      configured === undefined ? settingDefault(setting) : Number(configured);
    if (!container.ports?.some((p) => p.containerPort === expected)) {
      problems.push(`${where}: does not declare port ${String(expected)}`);
    }

    const probes: [string, Probe | undefined, string, boolean][] = [
      ['livenessProbe', container.livenessProbe, '/healthz', true],
      ['readinessProbe', container.readinessProbe, '/readyz', true],
      ['startupProbe', container.startupProbe, '/healthz', false],
    ];
    for (const [kind, probe, path, required] of probes) {
      if (probe === undefined) {
        if (required) {
          problems.push(`${where}: no ${kind}`);
        }

        continue;
      }

      if (probe.httpGet?.path !== path) {
        problems.push(`${where}: ${kind} must GET ${path}`);
      }

      const port = portNumber(container, probe.httpGet?.port);
      if (port !== expected) {
        problems.push(
          `${where}: ${kind} probes port ${String(port)}, role serves ${String(expected)}`,
        );
      }
    }
  }

  return problems;
}

/** Seconds a preStop hook holds the pod before SIGTERM, 0 without one. */
export function preStopSeconds(container: Container): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep !== undefined) {
    return preStop.sleep.seconds;
  }

  const command = (preStop?.exec?.command ?? []).join(' ');
  const match = /(?:^|\s)sleep\s+([0-9]+)(?:\s|$)/.exec(command);

  return match?.[1] === undefined ? 0 : Number(match[1]);
}

/**
 * preStop + drain grace + margin fit inside terminationGracePeriodSeconds for
 * edges, preStop + margin for the other roles: otherwise the kubelet kills
 * the process before its viewers have been handed off.
 */
export function checkDrain(
  objects: readonly K8sObject[],
  externalSecrets: readonly K8sObject[] = [],
): string[] {
  const problems: string[] = [];
  for (const { workload, container, role } of roomcastContainers(objects)) {
    const where = `${describe(workload.object)} ${container.name}`;
    const grace =
      workload.template.spec?.terminationGracePeriodSeconds ??
      DEFAULT_GRACE_SECONDS;
    const { env } = containerEnvironment(container, objects, externalSecrets);
    const configured = env[SETTINGS.drainGraceSeconds.env];
    const drain =
      role === 'edge'
        ? Number(configured ?? settingDefault('drainGraceSeconds'))
        : 0;
    const needed = preStopSeconds(container) + drain + DRAIN_MARGIN_SECONDS;
    if (needed > grace) {
      problems.push(
        `${where}: preStop ${preStopSeconds(container)} s + drain ${drain} s + margin ${DRAIN_MARGIN_SECONDS} s exceed terminationGracePeriodSeconds ${grace}`,
      );
    }
  }

  return problems;
}

/**
 * Non-root, no privilege escalation, read-only root, no capabilities,
 * requests and limits for CPU and memory, liveness and readiness probes,
 * and for roomcast containers an emptyDir on /tmp for tsx's cache.
 */
export function checkSecurityAndResources(
  objects: readonly K8sObject[],
): string[] {
  const problems: string[] = [];
  for (const { object, template } of workloads(objects)) {
    const spec = template.spec;
    for (const container of spec?.containers ?? []) {
      const where = `${describe(object)} ${container.name}`;
      const context = container.securityContext;
      if (
        spec?.securityContext?.runAsNonRoot !== true &&
        context?.runAsNonRoot !== true
      ) {
        problems.push(`${where}: runAsNonRoot is not set`);
      }

      if (context?.allowPrivilegeEscalation !== false) {
        problems.push(`${where}: allowPrivilegeEscalation is not false`);
      }

      if (context?.readOnlyRootFilesystem !== true) {
        problems.push(`${where}: root filesystem is writable`);
      }

      if (!context?.capabilities?.drop?.includes('ALL')) {
        problems.push(`${where}: capabilities are not all dropped`);
      }

      for (const bound of ['requests', 'limits'] as const) {
        for (const resource of ['cpu', 'memory']) {
          if (container.resources?.[bound]?.[resource] === undefined) {
            problems.push(`${where}: no ${resource} ${bound}`);
          }
        }
      }

      if (!container.livenessProbe || !container.readinessProbe) {
        problems.push(`${where}: liveness or readiness probe missing`);
      }
    }
  }

  for (const { workload, container } of roomcastContainers(objects)) {
    const mount = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    const volume = workload.template.spec?.volumes?.find(
      (v) => v.name === mount?.name,
    );
    if (volume?.emptyDir === undefined) {
      problems.push(
        `${describe(workload.object)} ${container.name}: /tmp is not an emptyDir`,
      );
    }
  }

  return problems;
}
