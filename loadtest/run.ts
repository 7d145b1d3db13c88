/**
 * One load-test run of a scenario against a running service: create rooms,
 * connect the viewers (spread over simulator processes and loopback source
 * addresses), publish the mix open-loop for the duration while the chaos
 * steps fire, drain, and measure.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { AdminClient } from './admin-client.js';
import type { DrainReport, WorkerPlan } from './fleet-messages.js';
import { LoadtestError } from './loadtest-error.js';
import {
  PUBLISH_TYPES,
  Publisher,
  publishBurst,
  type BurstResult,
  type PublishResult,
  type PublishStream,
} from './publisher.js';
import { viewerCount, type ChaosStep, type Scenario } from './scenario.js';
import { scrapeService } from './service-metrics.js';
import { Timeline } from './timeline.js';
import { ViewerFleet, type FleetReadiness } from './viewer-fleet.js';
import type { WireProtocol } from './viewer.js';

/** Most viewers one simulator process holds: it may open ~19,500 files. */
export const MAX_VIEWERS_PER_PROCESS = 18_000;
/** Connections per source address, well inside its ~28,000 ephemeral ports. */
export const MAX_VIEWERS_PER_ADDRESS = 10_000;
/** Connections from the publisher to the admin API. */
export const PUBLISH_SOCKETS = 256;
/** Retries of failed first connects stop this long before the arrival bound. */
const RETRY_MARGIN_MS = 60_000;

/** How long connecting every viewer may take. */
function arrivalBoundMs(scenario: Scenario): number {
  const { connectPerSecond, timeoutSeconds } = scenario.arrival;
  return timeoutSeconds === undefined
    ? (viewerCount(scenario) / connectPerSecond) * 1000 * 3 + 120_000
    : timeoutSeconds * 1000;
}

/** Bounds that keep a run finite whatever the scenario says. */
export const MAX_VIEWERS = 400_000;
export const MAX_DURATION_SECONDS = 3600;

/** Where the service under test is. */
export interface RunTarget {
  /** What is being measured, e.g. `roomcast standalone` or `uws baseline`. */
  label: string;
  /** e.g. `http://127.0.0.1:8080`. */
  adminUrl: string;
  /** e.g. `ws://127.0.0.1:8081/ws`. */
  edgeUrl: string;
  /** Every edge of a fleet; viewers are spread over them. Default [edgeUrl]. */
  edgeUrls?: string[];
  apiKey: string;
  /** How the edge frames messages; default `roomcast`. */
  protocol?: WireProtocol;
  /** The service's processes on this machine: CPU and memory from /proc. */
  pids?: () => number[];
  /** Of those, the edges' (workers included): the memory that holds viewers. */
  edgePids?: () => number[];
  /** More Prometheus endpoints (a fleet's shards) for the priority accounting. */
  metricsUrls?: string[];
  /** Carries out chaos on the service side (kill or drain a process...). */
  chaos?: (step: ChaosStep) => Promise<void>;
}

export interface RunOptions {
  scenario: Scenario;
  target: RunTarget;
  /** Simulator processes; default one per 15,000 viewers. */
  processes?: number;
  /** First source address; the processes take the addresses after it. */
  firstSourceAddress?: string;
  /** Bound on waiting for the viewers to catch up; default from the scenario. */
  drainTimeoutMs?: number;
  /** Quiet time after catching up, for lossy items in flight; default {@link GRACE_MS}. */
  graceMs?: number;
  /** Timeline interval; default 1,000 ms. */
  intervalMs?: number;
  /** Delete the rooms afterwards; default true. */
  deleteRooms?: boolean;
  /** Progress lines for a console. */
  onProgress?: (line: string) => void;
}

/** A chaos step as it happened. */
export interface ChaosRecord {
  step: ChaosStep;
  atMs: number;
  /** Empty when it went through. */
  error: string;
}

export interface RunResult {
  scenario: Scenario;
  target: { label: string; adminUrl: string; edgeUrl: string };
  runId: string;
  startedAt: string;
  rooms: string[];
  processes: number;
  timeline: Timeline;
  readiness: FleetReadiness;
  /** From forking the simulators to every viewer welcomed or failed. */
  connectPhaseMs: number;
  publish: PublishResult;
  burst: BurstResult | null;
  drain: DrainReport;
  chaos: ChaosRecord[];
  /** CPU of the coordinating process while publishing, in cores. */
  coordinatorCpuCores: number;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);
const VIEWER_CHAOS = new Set(['reconnect-storm', 'abort-connections']);

/** The load test only ever sends to this machine. */
export function assertLoopback(url: URL): void {
  const host = url.hostname;
  const loopback =
    LOOPBACK_NAMES.has(host) || (isIP(host) === 4 && host.startsWith('127.'));
  if (!loopback) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      `${url.origin} is not a loopback address; the load test targets services on this machine only`,
    );
  }
}

/** The n-th IPv4 address after `first`, e.g. 127.0.0.2 + 3 = 127.0.0.5. */
export function addressAfter(first: string, n: number): string {
  const parts = first.split('.').map(Number);
  const value =
    (((parts[0] ?? 0) << 24) >>> 0) +
    ((parts[1] ?? 0) << 16) +
    ((parts[2] ?? 0) << 8) +
    (parts[3] ?? 0) +
    n;
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]
    .map(String)
    .join('.');
}

/** Splits `total` into `parts` near-equal integers. */
export function split(total: number, parts: number): number[] {
  return Array.from(
    { length: parts },
    (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0),
  );
}

function validate(options: RunOptions): void {
  const { scenario, target } = options;
  assertLoopback(new URL(target.adminUrl));
  for (const url of target.edgeUrls ?? [target.edgeUrl]) {
    const edge = new URL(url);
    assertLoopback(edge);
    if (edge.protocol !== 'ws:') {
      throw new LoadtestError(
        'LOADTEST_BAD_OPTION',
        `edge URL must be ws://, got ${url}`,
      );
    }
  }

  if (viewerCount(scenario) > MAX_VIEWERS) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      `a run is bounded to ${MAX_VIEWERS} viewers and ${MAX_DURATION_SECONDS} s`,
    );
  }

  for (const step of scenario.chaos) {
    if (!VIEWER_CHAOS.has(step.action) && target.chaos === undefined) {
      throw new LoadtestError(
        'LOADTEST_BAD_OPTION',
        `chaos step ${step.action} needs a service the load test started itself (--spawn cluster)`,
      );
    }
  }
}

/** The per-process plans: viewers, rates and addresses split evenly. */
function planProcesses(
  options: RunOptions,
  rooms: string[],
  processes: number,
  runId: string,
): WorkerPlan[] {
  const { scenario, target } = options;
  const edges = (target.edgeUrls ?? [target.edgeUrl]).map(
    (url) => new URL(url),
  );
  const viewers = viewerCount(scenario);
  const addressesPerProcess = Math.ceil(
    viewers / processes / MAX_VIEWERS_PER_ADDRESS,
  );
  const sampleRatio = scenario.viewers.sampleRatio;
  const share = (perRoomPerSecond: number): number =>
    (perRoomPerSecond * rooms.length) / processes;
  return Array.from({ length: processes }, (_, worker) => ({
    worker,
    adminUrl: target.adminUrl,
    apiKey: target.apiKey,
    edgeUrls: edges.map(
      (edge) => `${edge.protocol}//${edge.host}${edge.pathname}${edge.search}`,
    ),
    protocol: target.protocol ?? 'roomcast',
    localAddresses: edges.every((edge) => isIP(edge.hostname) === 4)
      ? Array.from({ length: addressesPerProcess }, (_, i) =>
          addressAfter(
            options.firstSourceAddress ?? '127.0.0.2',
            worker * addressesPerProcess + i,
          ),
        )
      : [],
    rooms: rooms.map((id) => ({
      id,
      viewers: split(scenario.rooms.viewersPerRoom, processes)[worker] ?? 0,
    })),
    connectPerSecond: scenario.arrival.connectPerSecond / processes,
    sampleEvery: sampleRatio > 0 ? Math.max(1, Math.round(1 / sampleRatio)) : 0,
    connectTimeoutMs: 30_000,
    retryConnectsForMs: scenario.arrival.retry
      ? Math.max(0, arrivalBoundMs(scenario) - RETRY_MARGIN_MS)
      : 0,
    pingIntervalMs: 20_000,
    userPrefix: `lt${runId}`,
    slowShare: scenario.viewers.slow?.share ?? 0,
    slowBytesPerSecond: scenario.viewers.slow?.bytesPerSecond ?? 0,
    chatPerSecond: share(scenario.viewers.chatPerSecond),
    likesPerSecond: share(scenario.viewers.likesPerSecond),
    chatBytes: scenario.publish.chatBytes,
    churnPerSecond: scenario.viewers.churnPerSecond / processes,
    reconnect: scenario.viewers.reconnect,
  }));
}

export async function runScenario(options: RunOptions): Promise<RunResult> {
  const { scenario, target } = options;
  validate(options);
  const progress = options.onProgress ?? (() => undefined);
  const viewers = viewerCount(scenario);
  const processes =
    options.processes ?? Math.max(1, Math.ceil(viewers / 15_000));
  if (viewers / processes > MAX_VIEWERS_PER_PROCESS) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      `${processes} simulator processes cannot hold ${viewers} viewers (at most ${MAX_VIEWERS_PER_PROCESS} each)`,
    );
  }

  const runId = randomBytes(4).toString('hex');
  const startedAt = new Date().toISOString();
  const admin = new AdminClient({
    url: target.adminUrl,
    apiKey: target.apiKey,
    // Open loop needs concurrency: without pipelining, requests in flight
    // are capped by sockets, and a capped publisher queues instead of
    // sending when due.
    maxSockets: PUBLISH_SOCKETS,
  });
  const timeline = new Timeline(Date.now());
  const fleet = new ViewerFleet(timeline);
  const rooms: string[] = [];
  const chaosTimers: NodeJS.Timeout[] = [];
  try {
    for (let r = 0; r < scenario.rooms.count; r++) {
      const room = await admin.createRoom(`loadtest ${runId} room ${r}`);
      rooms.push(room.id);
    }

    progress(`${target.label}: created ${rooms.length} rooms`);
    const first = await scrapeService(
      admin,
      target.pids?.() ?? [],
      target.metricsUrls ?? [],
      target.edgePids?.() ?? [],
    );
    if (first !== null) {
      timeline.addServiceSample(first, 0);
    }

    await fleet.start(
      planProcesses(options, rooms, processes, runId),
      options.intervalMs ?? 1000,
      (index) => {
        void scrapeService(
          admin,
          target.pids?.() ?? [],
          target.metricsUrls ?? [],
          target.edgePids?.() ?? [],
        ).then((sample) => {
          if (sample !== null) {
            timeline.addServiceSample(sample, index);
          }
        });
      },
    );
    const connectStartMs = Date.now();
    const connectProgress = setInterval(() => {
      const counts = timeline.latestConnections();
      const failed = Object.values(counts.failed).reduce((a, b) => a + b, 0);
      progress(
        `${target.label}: connecting, ${counts.welcomed} of ${viewers} welcomed` +
          (failed > 0 ? `, ${failed} failed` : ''),
      );
    }, 5000);
    let readiness: FleetReadiness;
    try {
      readiness = await fleet.ready(arrivalBoundMs(scenario));
    } finally {
      clearInterval(connectProgress);
    }

    const connectPhaseMs = Date.now() - connectStartMs;
    progress(
      `${target.label}: ${readiness.welcomed} viewers connected in ${(connectPhaseMs / 1000).toFixed(1)} s` +
        (readiness.failed > 0 ? `, ${readiness.failed} failed` : ''),
    );

    const streams: PublishStream[] = [];
    for (const room of rooms) {
      for (const type of PUBLISH_TYPES) {
        streams.push({ room, type, perSecond: scenario.publish[type] });
      }
    }

    progress(`${target.label}: publishing for ${scenario.durationSeconds} s`);
    const cpuBefore = process.cpuUsage();
    const chaos: ChaosRecord[] = [];
    for (const step of scenario.chaos) {
      chaosTimers.push(
        setTimeout(() => {
          const record: ChaosRecord = { step, atMs: Date.now(), error: '' };
          chaos.push(record);
          progress(`${target.label}: chaos ${step.action}`);
          if (VIEWER_CHAOS.has(step.action)) {
            fleet.chaos(
              step.action as 'reconnect-storm' | 'abort-connections',
              step.share,
            );
          } else {
            target.chaos?.(step).catch((error: unknown) => {
              record.error = String(error);
            });
          }
        }, step.atSeconds * 1000),
      );
    }

    fleet.publishing();
    const burstSpec = scenario.burst;
    const [publish, burst] = await Promise.all([
      new Publisher({
        admin,
        streams,
        durationMs: scenario.durationSeconds * 1000,
        chatTextBytes: scenario.publish.chatBytes,
        onReply: (type, reply) => {
          timeline.addPublishReply(type, reply.status === 202);
        },
      }).run(),
      burstSpec === undefined
        ? Promise.resolve(null)
        : publishBurst(
            admin,
            rooms[0] as string,
            burstSpec.type,
            burstSpec.count,
            burstSpec.concurrency,
          ),
    ]);
    const cpu = process.cpuUsage(cpuBefore);
    const finalSeqs = { ...publish.finalSeqs };
    if (burst !== null) {
      finalSeqs[burst.room] = Math.max(
        finalSeqs[burst.room] ?? 0,
        burst.maxSeq,
      );
    }

    progress(`${target.label}: draining`);
    await lossySettled(admin, Object.keys(finalSeqs));
    const drain = await fleet.drain(
      finalSeqs,
      options.drainTimeoutMs ?? scenario.drainTimeoutSeconds * 1000,
      options.graceMs ?? GRACE_MS,
    );
    const last = await scrapeService(
      admin,
      target.pids?.() ?? [],
      target.metricsUrls ?? [],
      target.edgePids?.() ?? [],
    );
    if (last !== null) {
      timeline.addServiceSample(last, timeline.intervals.length);
    }

    timeline.finish(Date.now());
    const publishMs = Math.max(1, publish.endMs - publish.startMs);
    return {
      scenario,
      target: {
        label: target.label,
        adminUrl: target.adminUrl,
        edgeUrl: target.edgeUrl,
      },
      runId,
      startedAt,
      rooms,
      processes,
      timeline,
      readiness,
      connectPhaseMs,
      publish,
      burst,
      drain,
      chaos,
      coordinatorCpuCores: (cpu.user + cpu.system) / 1000 / publishMs,
    };
  } finally {
    for (const timer of chaosTimers) {
      clearTimeout(timer);
    }

    fleet.kill();
    if (options.deleteRooms ?? true) {
      await Promise.allSettled(rooms.map((id) => admin.deleteRoom(id)));
    }

    admin.close();
  }
}

/**
 * Quiet time after the last reliable item, for lossy items still on their
 * way: half a second on the wire, plus the longest time an edge under load
 * holds a room's frames (8 ticks of 100 ms, see docs/edge.md).
 */
const GRACE_MS = 500 + 800;

/** How long a run waits for the service to emit the lossy items it holds. */
const LOSSY_SETTLE_TIMEOUT_MS = 10_000;

/**
 * Waits until each room's priority engine holds nothing back (its `stats`
 * say no item is pending), so the grace period after catching up only has
 * to cover frames on the wire. Services without per-room stats (baselines,
 * distributed admin processes) are not waited for.
 */
async function lossySettled(
  admin: AdminClient,
  rooms: string[],
): Promise<void> {
  const deadline = Date.now() + LOSSY_SETTLE_TIMEOUT_MS;
  for (const room of rooms) {
    for (;;) {
      const info = await admin.getRoom(room).catch(() => undefined);
      const pending = (
        info?.['stats'] as { total?: { pending?: number } } | undefined
      )?.total?.pending;
      if (pending === undefined || pending === 0 || Date.now() > deadline) {
        break;
      }

      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
