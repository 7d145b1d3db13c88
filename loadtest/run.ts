/**
 * One load-test run against a running roomcast: create rooms, connect the
 * viewers (spread over simulator processes and loopback source addresses),
 * publish the mix open-loop for the duration, drain, and measure.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { AdminClient } from './admin-client.js';
import type { DrainReport, WorkerPlan } from './fleet-messages.js';
import { LoadtestError } from './loadtest-error.js';
import {
  PUBLISH_TYPES,
  Publisher,
  type PublishResult,
  type PublishStream,
  type PublishType,
} from './publisher.js';
import { Timeline } from './timeline.js';
import { ViewerFleet, type FleetReadiness } from './viewer-fleet.js';

/** Most viewers one simulator process holds: it may open ~19,500 files. */
export const MAX_VIEWERS_PER_PROCESS = 18_000;
/** Connections per source address, well inside its ~28,000 ephemeral ports. */
export const MAX_VIEWERS_PER_ADDRESS = 10_000;
/** Bounds that keep a run finite whatever the options say. */
export const MAX_VIEWERS = 250_000;
export const MAX_DURATION_SECONDS = 3600;

export interface RunOptions {
  /** e.g. `http://127.0.0.1:8080`. */
  adminUrl: string;
  /** e.g. `ws://127.0.0.1:8081/ws`. */
  edgeUrl: string;
  apiKey: string;
  viewers: number;
  rooms: number;
  /** How long to publish. */
  durationSeconds: number;
  /** Messages per second per room, by type. */
  mix: Record<PublishType, number>;
  /** Simulator processes; default one per 15,000 viewers. */
  processes?: number;
  /** New connections per second over all processes; default 2,000. */
  connectPerSecond?: number;
  /** Share of viewers that decode every frame and record latency; default 0.02. */
  sampleRatio?: number;
  /** Chat text length in characters; default 40. */
  chatTextBytes?: number;
  /** First source address; process i binds the i-th address after it. */
  firstSourceAddress?: string;
  /** Bound on waiting for the viewers to catch up at the end; default 15 s. */
  drainTimeoutMs?: number;
  /** Quiet time after catching up, for lossy items in flight; default 500 ms. */
  graceMs?: number;
  /** Timeline interval; default 1,000 ms. */
  intervalMs?: number;
  /** Delete the rooms afterwards; default true. */
  deleteRooms?: boolean;
  /** Progress lines for a console. */
  onProgress?: (line: string) => void;
}

export interface RunResult {
  options: RunOptions;
  runId: string;
  rooms: string[];
  processes: number;
  timeline: Timeline;
  readiness: FleetReadiness;
  /** From forking the simulators to every viewer welcomed or failed. */
  connectPhaseMs: number;
  publish: PublishResult;
  drain: DrainReport;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

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

function validate(options: RunOptions): { admin: URL; edge: URL } {
  const admin = new URL(options.adminUrl);
  const edge = new URL(options.edgeUrl);
  assertLoopback(admin);
  assertLoopback(edge);
  if (edge.protocol !== 'ws:') {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      `edge URL must be ws://, got ${options.edgeUrl}`,
    );
  }

  const positive: [string, number][] = [
    ['viewers', options.viewers],
    ['rooms', options.rooms],
    ['duration', options.durationSeconds],
  ];
  for (const [name, value] of positive) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new LoadtestError(
        'LOADTEST_BAD_OPTION',
        `${name} must be a positive number, got ${value}`,
      );
    }
  }

  if (
    options.viewers > MAX_VIEWERS ||
    options.durationSeconds > MAX_DURATION_SECONDS
  ) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      `a run is bounded to ${MAX_VIEWERS} viewers and ${MAX_DURATION_SECONDS} s`,
    );
  }

  if (options.rooms > options.viewers) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      'there must be at least one viewer per room',
    );
  }

  return { admin, edge };
}

export async function runLoadtest(options: RunOptions): Promise<RunResult> {
  const { edge } = validate(options);
  const progress = options.onProgress ?? (() => undefined);
  const processes =
    options.processes ?? Math.max(1, Math.ceil(options.viewers / 15_000));
  if (options.viewers / processes > MAX_VIEWERS_PER_PROCESS) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      `${processes} simulator processes cannot hold ${options.viewers} viewers (at most ${MAX_VIEWERS_PER_PROCESS} each)`,
    );
  }

  const runId = randomBytes(4).toString('hex');
  const admin = new AdminClient({
    url: options.adminUrl,
    apiKey: options.apiKey,
    maxSockets: 64,
  });
  const fleet = new ViewerFleet(new Timeline(Date.now()));
  const rooms: string[] = [];
  try {
    for (let r = 0; r < options.rooms; r++) {
      const room = await admin.createRoom(`loadtest ${runId} room ${r}`);
      rooms.push(room.id);
    }

    progress(`created ${rooms.length} rooms`);
    const perRoom = split(options.viewers, options.rooms);
    const sampleRatio = options.sampleRatio ?? 0.02;
    const connectPerSecond = options.connectPerSecond ?? 2000;
    const addressesPerProcess = Math.ceil(
      options.viewers / processes / MAX_VIEWERS_PER_ADDRESS,
    );
    const plans: WorkerPlan[] = Array.from(
      { length: processes },
      (_, worker) => ({
        worker,
        adminUrl: options.adminUrl,
        apiKey: options.apiKey,
        edgeUrl: `${edge.protocol}//${edge.host}${edge.pathname}`,
        localAddresses:
          isIP(edge.hostname) === 4
            ? Array.from({ length: addressesPerProcess }, (_, i) =>
                addressAfter(
                  options.firstSourceAddress ?? '127.0.0.2',
                  worker * addressesPerProcess + i,
                ),
              )
            : [],
        rooms: rooms.map((id, r) => ({
          id,
          viewers: split(perRoom[r] ?? 0, processes)[worker] ?? 0,
        })),
        connectPerSecond: connectPerSecond / processes,
        sampleEvery:
          sampleRatio > 0 ? Math.max(1, Math.round(1 / sampleRatio)) : 0,
        connectTimeoutMs: 30_000,
        pingIntervalMs: 20_000,
        userPrefix: `lt${runId}`,
      }),
    );
    const timeline = fleet.timeline;
    const connectStartMs = Date.now();
    fleet.start(plans, options.intervalMs ?? 1000);
    const readiness = await fleet.ready(
      (options.viewers / connectPerSecond) * 1000 * 2 + 60_000,
    );
    const connectPhaseMs = Date.now() - connectStartMs;
    progress(
      `${readiness.welcomed} viewers connected in ${(connectPhaseMs / 1000).toFixed(1)} s` +
        (readiness.failed > 0 ? `, ${readiness.failed} failed` : ''),
    );

    const streams: PublishStream[] = [];
    for (const room of rooms) {
      for (const type of PUBLISH_TYPES) {
        streams.push({ room, type, perSecond: options.mix[type] });
      }
    }

    progress(`publishing for ${options.durationSeconds} s`);
    const publish = await new Publisher({
      admin,
      streams,
      durationMs: options.durationSeconds * 1000,
      chatTextBytes: options.chatTextBytes ?? 40,
      onReply: (type, reply) => {
        timeline.addPublishReply(type, reply.status === 202);
      },
    }).run();
    progress('draining');
    const drain = await fleet.drain(
      publish.finalSeqs,
      options.drainTimeoutMs ?? 15_000,
      options.graceMs ?? 500,
    );
    timeline.finish(Date.now());
    return {
      options,
      runId,
      rooms,
      processes,
      timeline,
      readiness,
      connectPhaseMs,
      publish,
      drain,
    };
  } finally {
    fleet.kill();
    if (options.deleteRooms ?? true) {
      await Promise.allSettled(rooms.map((id) => admin.deleteRoom(id)));
    }

    admin.close();
  }
}
