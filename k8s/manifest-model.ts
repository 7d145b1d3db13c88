/**
 * The slice of the Kubernetes object model that the manifest checks read,
 * and the rendering of an overlay into those objects. Objects are checked
 * against the full Kubernetes schemas elsewhere (schema-validation.ts); the
 * types here only name the fields the cross-object checks need, all
 * optional, so that a check reads a malformed object without crashing and
 * reports it instead.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const execFileAsync = promisify(execFile);

export type Labels = Record<string, string>;

export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: {
    key: string;
    operator: string;
    values?: string[];
  }[];
}

export interface HttpGetAction {
  path?: string;
  port?: number | string;
}

export interface Probe {
  httpGet?: HttpGetAction;
  exec?: { command?: string[] };
  tcpSocket?: { port?: number | string };
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name?: string; key: string; optional?: boolean };
    configMapKeyRef?: { name?: string; key: string; optional?: boolean };
  };
}

export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name?: string; optional?: boolean };
  secretRef?: { name?: string; optional?: boolean };
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  ports?: ContainerPort[];
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: {
    preStop?: { exec?: { command?: string[] }; sleep?: { seconds: number } };
  };
  resources?: {
    requests?: Record<string, string | number>;
    limits?: Record<string, string | number>;
  };
  securityContext?: {
    runAsNonRoot?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  topologySpreadConstraints?: {
    topologyKey: string;
    labelSelector?: LabelSelector;
  }[];
  volumes?: { name: string; emptyDir?: Record<string, unknown> }[];
}

export interface PodTemplate {
  metadata?: { labels?: Labels };
  spec?: PodSpec;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Labels;
    annotations?: Record<string, string>;
  };
  spec?: unknown;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** A workload's pod template, with the object that holds it. */
export interface Workload {
  object: K8sObject;
  selector: LabelSelector;
  template: PodTemplate;
}

const WORKLOAD_KINDS = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
]);

export function workloads(objects: readonly K8sObject[]): Workload[] {
  const found: Workload[] = [];
  for (const object of objects) {
    if (!WORKLOAD_KINDS.has(object.kind)) {
      continue;
    }

    const spec = object.spec as
      { selector?: LabelSelector; template?: PodTemplate } | undefined;
    found.push({
      object,
      selector: spec?.selector ?? {},
      template: spec?.template ?? {},
    });
  }

  return found;
}

export function ofKind<T>(objects: readonly K8sObject[], kind: string): T[] {
  return objects.filter((object) => object.kind === kind) as T[];
}

/** `kind/name` as kubectl prints it, for messages. */
export function describe(object: K8sObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

/**
 * Whether a label selector selects the given labels. An empty selector
 * selects everything, as in a NetworkPolicy's podSelector.
 */
export function selects(selector: LabelSelector, labels: Labels): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) {
      return false;
    }
  }

  for (const requirement of selector.matchExpressions ?? []) {
    const value = labels[requirement.key];
    const values = requirement.values ?? [];
    const holds =
      requirement.operator === 'In'
        ? value !== undefined && values.includes(value)
        : requirement.operator === 'NotIn'
          ? value === undefined || !values.includes(value)
          : requirement.operator === 'Exists'
            ? value !== undefined
            : requirement.operator === 'DoesNotExist'
              ? value === undefined
              : false;
    if (!holds) {
      return false;
    }
  }

  return true;
}

/** Parses a multi-document YAML stream into objects, skipping empty ones. */
export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      throw new Error(`invalid YAML: ${document.errors[0]?.message ?? ''}`);
    }

    const value: unknown = document.toJS();
    if (value === null || value === undefined) {
      continue;
    }

    objects.push(value as K8sObject);
  }

  return objects;
}

/**
 * Renders a kustomization with `kubectl kustomize` (the binary named by the
 * KUBECTL environment variable, default `kubectl`). Deprecation warnings
 * go to stderr and are ignored; a failed build throws with kubectl's
 * message.
 */
export async function renderKustomization(dir: string): Promise<K8sObject[]> {
  const kubectl = process.env.KUBECTL ?? 'kubectl';
  const { stdout } = await execFileAsync(kubectl, ['kustomize', dir], {
    maxBuffer: 16 * 1024 * 1024,
  });

  return parseManifests(stdout);
}
