/**
 * Validates rendered objects against the Kubernetes OpenAPI schemas, and the
 * Prometheus Operator CRD schemas, as shipped by kubernetes-models: the
 * schemas are compiled to ajv validators when the package is built, so
 * validation needs no network and no cluster.
 *
 * A kind missing from the table is an error, not a pass: adding a kind to
 * the manifests means adding its schema here.
 *
 * The Kubernetes schemas do not forbid unknown fields (the API server
 * prunes or rejects them), so a misspelt optional field passes here; the
 * checks in manifest-checks.ts read the fields that matter by name and
 * fail when they are missing.
 */
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { describe, type K8sObject } from './manifest-model.js';

type Model = new (data: never) => { validate(): void };

const MODELS: ReadonlyMap<string, Model> = new Map<string, Model>([
  ['v1/Namespace', Namespace],
  ['v1/ConfigMap', ConfigMap],
  ['v1/Secret', Secret],
  ['v1/Service', Service],
  ['apps/v1/Deployment', Deployment],
  ['policy/v1/PodDisruptionBudget', PodDisruptionBudget],
  ['networking.k8s.io/v1/NetworkPolicy', NetworkPolicy],
  ['networking.k8s.io/v1/Ingress', Ingress],
  ['autoscaling/v2/HorizontalPodAutoscaler', HorizontalPodAutoscaler],
  ['monitoring.coreos.com/v1/PodMonitor', PodMonitor],
  ['monitoring.coreos.com/v1/PrometheusRule', PrometheusRule],
]);

/** Returns one message per object that fails its schema or has none. */
export function validateSchemas(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const object of objects) {
    const model = MODELS.get(`${object.apiVersion}/${object.kind}`);
    if (model === undefined) {
      problems.push(
        `${describe(object)}: no schema for ${object.apiVersion} ${object.kind}`,
      );
      continue;
    }

    try {
      new model(object as never).validate();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      problems.push(`${describe(object)}: ${message}`);
    }
  }

  return problems;
}
