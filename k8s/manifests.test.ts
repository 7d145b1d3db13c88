import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { SETTINGS } from '../config/index.js';
import { checkDockerfile, parseDockerfile } from './dockerfile-checks.js';
import {
  checkEdgeSizing,
  cpuCores,
  edgeMemoryMiB,
  memoryMiB,
  workersForCpu,
} from './edge-sizing-checks.js';
import {
  ofKind,
  parseManifests,
  renderKustomization,
  selects,
  workloads,
  type Container,
  type K8sObject,
} from './manifest-model.js';
import { validateSchemas } from './schema-validation.js';
import {
  checkDrain,
  checkEnvironment,
  checkNoSecretsInConfigMaps,
  checkProbes,
  checkSecurityAndResources,
} from './workload-checks.js';
import {
  checkMetricNames,
  checkMonitors,
  checkSelectors,
  checkServicePorts,
  ruleExpressions,
  type MetricUse,
} from './wiring-checks.js';

const K8S_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(K8S_DIR);
const OVERLAYS = ['dev', 'production'] as const;

const rendered = new Map<string, Promise<K8sObject[]>>();
function render(overlay: string): Promise<K8sObject[]> {
  let objects = rendered.get(overlay);
  if (objects === undefined) {
    objects = renderKustomization(path.join(K8S_DIR, overlay));
    rendered.set(overlay, objects);
  }

  return objects;
}

async function exampleSecrets(): Promise<K8sObject[]> {
  const text = await readFile(
    path.join(K8S_DIR, 'examples', 'secrets.example.yaml'),
    'utf8',
  );

  return parseManifests(text);
}

async function dashboardUses(): Promise<MetricUse[]> {
  const dashboard = JSON.parse(
    await readFile(
      path.join(K8S_DIR, 'monitoring', 'grafana-dashboard.json'),
      'utf8',
    ),
  ) as {
    panels: { title: string; targets?: { expr: string }[] }[];
    templating: { list: { name: string; definition?: string }[] };
  };
  const uses: MetricUse[] = [];
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      uses.push({ where: `dashboard ${panel.title}`, expression: target.expr });
    }
  }

  for (const variable of dashboard.templating.list) {
    if (variable.definition !== undefined) {
      uses.push({
        where: `dashboard variable ${variable.name}`,
        expression: variable.definition,
      });
    }
  }

  return uses;
}

interface AdapterRule {
  seriesQuery: string;
  name: { as: string };
  metricsQuery: string;
}

async function adapterRules(): Promise<AdapterRule[]> {
  const values = parse(
    await readFile(
      path.join(K8S_DIR, 'monitoring', 'prometheus-adapter-values.yaml'),
      'utf8',
    ),
  ) as { rules: { custom: AdapterRule[] } };

  return values.rules.custom;
}

function edgeContainer(objects: readonly K8sObject[]): Container {
  const edge = workloads(objects).find(
    (w) => w.object.metadata.name === 'roomcast-edge',
  );
  const container = edge?.template.spec?.containers[0];
  assert.ok(container, 'the edge Deployment has a container');

  return container;
}

for (const overlay of OVERLAYS) {
  test(`k8s ${overlay} - renders and every object passes its Kubernetes schema`, async () => {
    const objects = await render(overlay);

    assert.ok(objects.length > 10, `${overlay} rendered ${objects.length}`);
    assert.deepEqual(validateSchemas(objects), []);
    for (const object of objects) {
      if (object.kind !== 'Namespace') {
        assert.equal(
          object.metadata.namespace,
          overlay === 'dev' ? 'roomcast-dev' : 'roomcast',
          `${object.kind}/${object.metadata.name} namespace`,
        );
      }
    }
  });

  test(`k8s ${overlay} - selectors, service ports and monitors point at real pods and ports`, async () => {
    const objects = await render(overlay);

    assert.deepEqual(checkSelectors(objects), []);
    assert.deepEqual(checkServicePorts(objects), []);
    if (overlay === 'production') {
      assert.deepEqual(checkMonitors(objects), []);
    }
  });

  test(`k8s ${overlay} - pods load their settings, probe served paths, drain in time and run locked down`, async () => {
    const objects = await render(overlay);
    const secrets = await exampleSecrets();

    assert.deepEqual(checkEnvironment(objects, secrets), []);
    assert.deepEqual(checkProbes(objects, secrets), []);
    assert.deepEqual(checkDrain(objects, secrets), []);
    assert.deepEqual(checkSecurityAndResources(objects), []);
    assert.deepEqual(checkNoSecretsInConfigMaps(objects), []);
    assert.deepEqual(checkEdgeSizing(objects, secrets), []);
  });
}

test('k8s dev - one pod of each role and a Redis inside the cluster', async () => {
  const objects = await render('dev');
  const names = workloads(objects).map((w) => w.object.metadata.name);

  assert.deepEqual(names.sort(), [
    'roomcast-admin',
    'roomcast-edge',
    'roomcast-redis',
    'roomcast-shard',
  ]);
  for (const { object } of workloads(objects)) {
    const replicas = (object.spec as { replicas?: number }).replicas;
    assert.ok(replicas === undefined || replicas === 1, object.metadata.name);
  }

  assert.equal(ofKind(objects, 'HorizontalPodAutoscaler').length, 0);
});

test('k8s production - several edges and shards, autoscaled edges, Redis from a Secret', async () => {
  const objects = await render('production');
  const replicas = (name: string) =>
    (
      workloads(objects).find((w) => w.object.metadata.name === name)?.object
        .spec as { replicas?: number } | undefined
    )?.replicas ?? 1;
  const hpa = ofKind<K8sObject>(objects, 'HorizontalPodAutoscaler')[0];
  const hpaSpec = hpa?.spec as {
    minReplicas: number;
    metrics: { type: string }[];
  };

  assert.ok(replicas('roomcast-shard') >= 2);
  assert.ok(replicas('roomcast-admin') >= 2);
  assert.ok(hpaSpec.minReplicas >= 2);
  assert.deepEqual(hpaSpec.metrics.map((m) => m.type).sort(), [
    'Pods',
    'Resource',
  ]);
  assert.ok(
    !workloads(objects).some((w) => w.object.metadata.name.endsWith('redis')),
  );
  assert.equal(
    ofKind(objects, 'Secret').length,
    0,
    'Secrets are created by the operator',
  );
  const edge = edgeContainer(objects);
  assert.deepEqual(
    edge.env?.find((entry) => entry.name === SETTINGS.edgeWorkers.env),
    { name: SETTINGS.edgeWorkers.env, value: '2' },
    'two edge workers for two requested cores',
  );
  assert.equal(cpuCores(edge.resources?.requests?.['cpu']), 2);
});

test('k8s edge sizing - quantities, workers per core and memory per worker', () => {
  assert.equal(cpuCores('500m'), 0.5);
  assert.equal(cpuCores('2'), 2);
  assert.ok(Number.isNaN(cpuCores('two')));
  assert.equal(memoryMiB('1Gi'), 1024);
  assert.equal(memoryMiB('512Mi'), 512);
  assert.equal(memoryMiB(String(2 ** 20)), 1);
  assert.ok(Number.isNaN(memoryMiB('1Gb')));
  assert.deepEqual([0.1, 1, 1.5, 2, 4].map(workersForCpu), [1, 1, 1, 2, 4]);
  // One process, then a primary and the workers, each with full sockets.
  assert.ok(edgeMemoryMiB(1) > 200 && edgeMemoryMiB(1) < 256);
  assert.ok(edgeMemoryMiB(2) > 512 && edgeMemoryMiB(2) < 1024);
});

test('k8s checks - report edge workers that do not match the CPU request, and memory too small for them', async () => {
  const objects = structuredClone(await render('production'));
  const edge = edgeContainer(objects);
  const hpa = ofKind<K8sObject>(objects, 'HorizontalPodAutoscaler')[0];
  assert.ok(edge.resources?.requests && hpa);

  edge.resources.requests['cpu'] = '4';
  edge.resources.requests['memory'] = '512Mi';
  const secrets = await exampleSecrets();
  const report = () => checkEdgeSizing(objects, secrets).join('\n');
  assert.match(
    report(),
    /2 edge worker\(s\) for a CPU request of 4; run 4 .* ROOMCAST_EDGE_WORKERS/,
  );
  assert.match(report(), /memory request 512 MiB is below the \d+ MiB/);

  edge.resources.requests['cpu'] = '2';
  edge.env = edge.env?.filter(
    (entry) => entry.name !== SETTINGS.edgeWorkers.env,
  );
  assert.match(report(), /1 edge worker\(s\) for a CPU request of 2; run 2/);
  assert.match(
    report(),
    /HorizontalPodAutoscaler\/roomcast-edge: 20000 connections per pod exceed what 1 worker\(s\) hold/,
  );
});

test('k8s monitoring - alerts, HPA and dashboard read only exported metrics', async () => {
  const objects = await render('production');
  const alerts = ruleExpressions(objects).map((use) => use.where);

  assert.deepEqual(checkMetricNames(ruleExpressions(objects)), []);
  assert.deepEqual(checkMetricNames(await dashboardUses()), []);
  for (const alert of [
    'RoomcastReliableItemsLost',
    'RoomcastLossyDropRatioHigh',
    'RoomcastSlowViewerClosesHigh',
    'RoomcastRedisBusDown',
    'RoomcastEdgeStreamGaps',
    'RoomcastShardOwnershipChurn',
  ]) {
    assert.ok(
      alerts.some((where) => where.endsWith(` ${alert}`)),
      `alert ${alert}`,
    );
  }
});

test('k8s monitoring - prometheus-adapter serves the metric the edge HPA reads', async () => {
  const objects = await render('production');
  const rules = await adapterRules();
  const hpaMetrics = ruleExpressions(objects)
    .filter((use) => use.where.startsWith('HorizontalPodAutoscaler/'))
    .map((use) => use.expression);

  assert.deepEqual(hpaMetrics, ['roomcast_edge_connections']);
  const rule = rules.find((r) => r.name.as === hpaMetrics[0]);
  assert.ok(rule, 'an adapter rule names the HPA metric');
  assert.deepEqual(
    checkMetricNames([{ where: 'adapter', expression: rule.seriesQuery }]),
    [],
  );
  assert.match(rule.seriesQuery, /pod!=""/);
});

test('k8s secrets example - placeholders for settings only, valid Secrets', async () => {
  const secrets = await exampleSecrets();
  const settings = new Set(Object.values(SETTINGS).map((s) => s.env));

  assert.deepEqual(validateSchemas(secrets), []);
  assert.deepEqual(secrets.map((s) => s.metadata.name).sort(), [
    'roomcast-auth',
    'roomcast-redis',
  ]);
  for (const secret of secrets) {
    for (const [key, value] of Object.entries(secret.stringData ?? {})) {
      assert.ok(settings.has(key), `${key} is a setting`);
      assert.match(value, /CHANGE-ME/, `${key} is a placeholder`);
    }
  }
});

test('Dockerfile - stages match package.json and the role ports', async () => {
  const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
  const pkg = JSON.parse(
    await readFile(path.join(ROOT, 'package.json'), 'utf8'),
  ) as Parameters<typeof checkDockerfile>[1];
  const ignored = (await readFile(path.join(ROOT, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((line) => line.trim());

  assert.deepEqual(
    checkDockerfile(parseDockerfile(dockerfile), pkg, ROOT, ignored),
    [],
  );
});

test('Dockerfile checks - report a root user, a wrong entry and dev dependencies', () => {
  const stages = parseDockerfile(
    [
      'FROM node:18-slim AS deps',
      'COPY package.json no-such-lockfile.json ./',
      'RUN npm ci && \\',
      '  npm run build-it',
      'FROM node:20-slim',
      'COPY --from=deps /app/node_modules ./node_modules',
      'USER root',
      'ENTRYPOINT ["node", "server.js"]',
    ].join('\n'),
  );
  const problems = checkDockerfile(
    stages,
    {
      engines: { node: '>=20' },
      bin: { roomcast: 'bin/roomcast.js' },
      scripts: { start: 'node bin/roomcast.js' },
    },
    ROOT,
    ['.git'],
  ).join('\n');

  assert.equal(stages.length, 2);
  assert.match(problems, /node:18-slim is not a node image satisfying/);
  assert.match(problems, /copies no-such-lockfile\.json, missing/);
  assert.match(problems, /npm script build-it, missing/);
  assert.match(problems, /no build stage runs npm ci --omit=dev/);
  assert.match(problems, /numeric non-root USER/);
  assert.match(problems, /ENTRYPOINT must be \["node", "bin\/roomcast\.js"\]/);
  assert.match(problems, /does not expose ROOMCAST_SHARD_PORT/);
  assert.match(problems, /does not exclude node_modules/);
});

test('k8s checks - report a broken edge in an otherwise valid render', async () => {
  const objects = structuredClone(await render('dev'));
  const edge = edgeContainer(objects);
  const edgeWorkload = workloads(objects).find(
    (w) => w.object.metadata.name === 'roomcast-edge',
  );
  const configMap = ofKind<K8sObject>(objects, 'ConfigMap')[0];
  const service = ofKind<K8sObject>(objects, 'Service').find(
    (s) => s.metadata.name === 'roomcast-edge',
  );
  assert.ok(edgeWorkload?.template.spec && configMap?.data && service);

  edgeWorkload.template.spec.terminationGracePeriodSeconds = 20;
  edgeWorkload.template.metadata = { labels: { app: 'other' } };
  edge.readinessProbe = { httpGet: { path: '/healthz', port: 'edge' } };
  edge.env = [
    { name: 'ROOMCAST_TYPO_SECONDS', value: '5' },
    { name: 'ROOMCAST_JWT_SECRET', value: 'x'.repeat(40) },
  ];
  edge.securityContext = { readOnlyRootFilesystem: false };
  configMap.data.REDIS_URL = 'redis://:hunter2@redis:6379';
  (service.spec as { ports: { targetPort: string }[] }).ports[0] = {
    targetPort: 'websocket',
  };

  const report = (problems: string[]) => problems.join('\n');
  assert.match(report(checkDrain(objects)), /drain 20 s .* exceed .* 20/);
  assert.match(
    report(checkProbes(objects)),
    /readinessProbe must GET \/readyz/,
  );
  assert.match(
    report(checkEnvironment(objects)),
    /ROOMCAST_TYPO_SECONDS is not a setting/,
  );
  assert.match(
    report(checkEnvironment(objects)),
    /ROOMCAST_JWT_SECRET is a literal, not a Secret/,
  );
  assert.match(
    report(checkNoSecretsInConfigMaps(objects)),
    /REDIS_URL holds a secret/,
  );
  assert.match(
    report(checkSecurityAndResources(objects)),
    /roomcast-edge edge: root filesystem is writable/,
  );
  assert.match(
    report(checkSelectors(objects)),
    /Deployment\/roomcast-edge: selector does not select its pods/,
  );
  assert.match(
    report(checkServicePorts(objects)),
    /Service\/roomcast-edge: selects no pods/,
  );
});

test('k8s checks - report wrong ports, unscraped roles and unknown metrics', async () => {
  const objects = structuredClone(await render('production'));
  const edge = edgeContainer(objects);
  const monitor = ofKind<K8sObject>(objects, 'PodMonitor')[0];
  assert.ok(monitor);

  edge.livenessProbe = { httpGet: { path: '/healthz', port: 8080 } };
  (monitor.spec as { podMetricsEndpoints: unknown[] }).podMetricsEndpoints = [
    { port: 'admin', path: '/stats' },
  ];

  const problems = [
    ...checkProbes(objects, await exampleSecrets()),
    ...checkMonitors(objects),
    ...checkMetricNames([
      { where: 'rule', expression: 'rate(roomcast_edge_conections[5m])' },
      {
        where: 'histogram',
        expression: 'roomcast_admin_requests_seconds_bucket',
      },
    ]),
  ].join('\n');
  assert.match(problems, /livenessProbe probes port 8080, role serves 8081/);
  assert.match(problems, /PodMonitor\/roomcast: scrapes \/stats/);
  assert.match(problems, /roomcast-edge edge: metrics are not scraped/);
  assert.match(problems, /roomcast_edge_conections is not exported/);
  assert.doesNotMatch(problems, /roomcast_admin_requests_seconds/);
});

test('k8s schemas - report a wrong field type and an unknown kind', () => {
  const problems = validateSchemas([
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'broken' },
      spec: { ports: [{ port: 'eighty' }] },
    },
    { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } },
  ]).join('\n');

  assert.match(problems, /Service\/broken: .*port must be integer/);
  assert.match(problems, /Widget\/w: no schema/);
});

test('k8s selectors - matchLabels and every matchExpressions operator', () => {
  const labels = { app: 'roomcast', tier: 'edge' };

  assert.ok(selects({}, labels));
  assert.ok(selects({ matchLabels: { app: 'roomcast' } }, labels));
  assert.ok(!selects({ matchLabels: { app: 'other' } }, labels));
  assert.ok(
    selects(
      {
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['edge', 'shard'] },
          { key: 'tier', operator: 'NotIn', values: ['admin'] },
          { key: 'app', operator: 'Exists' },
          { key: 'zone', operator: 'DoesNotExist' },
        ],
      },
      labels,
    ),
  );
  assert.ok(
    !selects(
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['x'] }] },
      labels,
    ),
  );
});
