/**
 * `roomcast-loadtest plan`: from measured runs and a target audience, the
 * fleet that carries it. Every number is derived from the measured figures
 * by a stated, linear model; the assumptions travel with the plan so a
 * reader can see what it rests on and re-run it with other figures.
 */
import type { Report } from './report.js';

export interface PlanTarget {
  viewers: number;
  rooms: number;
  /** Messages published per room per second at peak (all types). */
  peakRatePerRoom: number;
  /** Share of capacity kept free; default 0.3 (run at most at 70%). */
  headroom: number;
  /** Cores per edge and per shard process; default 2 and 1. */
  edgeCores: number;
  shardCores: number;
  /** Tick of the room shards; default 100 ms. */
  tickMs: number;
}

/** The capacity one service core showed in the measured runs. */
export interface MeasuredCapacity {
  runs: string[];
  /** Frames delivered per second per service core. */
  framesPerCoreSecond: number;
  /**
   * Messages accepted per second per service core, the whole process's CPU
   * charged to them; the best of the runs (see {@link measuredCapacity}).
   */
  publishesPerCoreSecond: number;
  /** Mean bytes of a delivered frame. */
  bytesPerFrame: number;
  /** Service memory per connected viewer (peak minus before connecting). */
  bytesPerViewer: number;
}

export interface FleetPlan {
  target: PlanTarget;
  measured: MeasuredCapacity;
  edges: number;
  shards: number;
  /** Frames the edges send per second, fleet-wide. */
  framesPerSecond: number;
  /** Bytes the edges send per second (WebSocket payloads plus ~8% framing). */
  egressBytesPerSecond: number;
  /** Redis PUBLISH commands per second in distributed mode. */
  redisPublishesPerSecond: number;
  /** Messages Redis delivers to subscribed edges per second. */
  redisDeliveriesPerSecond: number;
  /** Bytes Redis sends to edges and shards per second. */
  redisBytesPerSecond: number;
  viewersPerEdge: number;
  assumptions: string[];
}

/**
 * Capacity per core from the runs given: the most conservative frames per
 * core, bytes per frame and per viewer; for publishes, the best run (its CPU
 * includes the fan-out, so every run overstates the cost of publishing).
 */
export function measuredCapacity(reports: Report[]): MeasuredCapacity {
  let framesPerCore = Infinity;
  let publishesPerCore = 0;
  let bytesPerFrame = 0;
  let bytesPerViewer = 0;
  const runs: string[] = [];
  for (const report of reports) {
    const f = report.figures;
    const cores = f.service.cpuCores;
    if (cores <= 0 || f.delivered.framesPerSecond <= 0) {
      continue;
    }

    runs.push(`${report.scenario.name} (${report.runId})`);
    framesPerCore = Math.min(
      framesPerCore,
      f.delivered.framesPerSecond / cores,
    );
    // The whole process's CPU is charged to publishing, which overstates it
    // most where fan-out dominates: the best run is the least wrong one.
    publishesPerCore = Math.max(
      publishesPerCore,
      f.published.perSecond / cores,
    );
    bytesPerFrame = Math.max(
      bytesPerFrame,
      f.delivered.bytesPerSecond / f.delivered.framesPerSecond,
    );
    if (
      f.service.peakRssBytes > 0 &&
      f.service.baseRssBytes > 0 &&
      f.viewers.welcomed > 0
    ) {
      bytesPerViewer = Math.max(
        bytesPerViewer,
        (f.service.peakRssBytes - f.service.baseRssBytes) / f.viewers.welcomed,
      );
    }
  }

  return {
    runs,
    framesPerCoreSecond: Number.isFinite(framesPerCore) ? framesPerCore : 0,
    publishesPerCoreSecond: publishesPerCore,
    bytesPerFrame,
    bytesPerViewer,
  };
}

export function planFleet(
  target: PlanTarget,
  measured: MeasuredCapacity,
): FleetPlan {
  const usable = 1 - target.headroom;
  const ticksPerSecond = 1000 / target.tickMs;
  // A viewer gets at most one batch per tick, and none in a quiet tick.
  const framesPerViewer = Math.min(ticksPerSecond, target.peakRatePerRoom);
  const framesPerSecond = target.viewers * framesPerViewer;
  const edgeFrameCapacity =
    measured.framesPerCoreSecond * target.edgeCores * usable;
  const edgesForFrames =
    edgeFrameCapacity > 0 ? Math.ceil(framesPerSecond / edgeFrameCapacity) : 0;
  // Keep each edge's connection memory under 8 GiB and its sockets under
  // what one process may open (~1,000,000 with a raised file limit).
  const viewersPerEdgeByMemory =
    measured.bytesPerViewer > 0
      ? Math.floor((8 * 1024 ** 3) / measured.bytesPerViewer)
      : 1_000_000;
  const maxViewersPerEdge = Math.min(1_000_000, viewersPerEdgeByMemory);
  const edges = Math.max(
    1,
    edgesForFrames,
    Math.ceil(target.viewers / maxViewersPerEdge),
  );
  const publishes = target.rooms * target.peakRatePerRoom;
  const shardCapacity =
    measured.publishesPerCoreSecond * target.shardCores * usable;
  const shards = Math.max(
    1,
    shardCapacity > 0 ? Math.ceil(publishes / shardCapacity) : 0,
  );
  const activeRoomTicks = target.rooms * framesPerViewer;
  const framing = 1.08;
  return {
    target,
    measured,
    edges,
    shards,
    framesPerSecond,
    egressBytesPerSecond: framesPerSecond * measured.bytesPerFrame * framing,
    // admin -> shard per message; shard -> edges once per room per tick.
    redisPublishesPerSecond: publishes + activeRoomTicks,
    redisDeliveriesPerSecond: publishes + activeRoomTicks * edges,
    redisBytesPerSecond:
      publishes * 256 + activeRoomTicks * edges * measured.bytesPerFrame,
    viewersPerEdge: Math.ceil(target.viewers / edges),
    assumptions: [
      `edge capacity per core is the most conservative of the measured runs: ${measured.runs.join(', ') || 'none'}`,
      'edge cost scales with frames sent (viewers x frames per viewer); one frame per viewer per tick at most',
      `shard cost is the whole standalone process's CPU per accepted message in the best run (${Math.round(measured.publishesPerCoreSecond)}/s per core), which still overstates a shard alone; measure a shard and pass --shard-publishes-per-core`,
      `every room is active at the peak rate in every tick; headroom ${Math.round(target.headroom * 100)}% kept free`,
      'an edge holds at most 1,000,000 connections or 8 GiB of connection memory',
      'Redis: one publish per accepted message (~256 bytes) and one per room per tick, delivered to every edge (worst case: each edge holds viewers of each room)',
      'egress adds ~8% for WebSocket and TCP/IP framing to the measured payload bytes',
    ],
  };
}

export function formatPlan(plan: FleetPlan): string {
  const n = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  const t = plan.target;
  const mib = (bytes: number): string => `${n.format(bytes / 1024 ** 2)} MiB/s`;
  const gbit = (bytes: number): string =>
    `${n.format((bytes * 8) / 1e9)} Gbit/s`;
  return [
    `target      ${n.format(t.viewers)} viewers in ${n.format(t.rooms)} rooms, ${n.format(t.peakRatePerRoom)} messages/s per room at peak`,
    `measured    ${n.format(plan.measured.framesPerCoreSecond)} frames/s and ${n.format(plan.measured.publishesPerCoreSecond)} publishes/s per core, ${n.format(plan.measured.bytesPerFrame)} B per frame, ${n.format(plan.measured.bytesPerViewer)} B per viewer`,
    `edges       ${plan.edges} x ${t.edgeCores} cores (${n.format(plan.viewersPerEdge)} viewers each)`,
    `shards      ${plan.shards} x ${t.shardCores} core`,
    `frames      ${n.format(plan.framesPerSecond)}/s fleet-wide`,
    `network     ${gbit(plan.egressBytesPerSecond)} edge egress`,
    `redis       ${n.format(plan.redisPublishesPerSecond)} publishes/s, ${n.format(plan.redisDeliveriesPerSecond)} deliveries/s, ${mib(plan.redisBytesPerSecond)} out`,
    'assumptions:',
    ...plan.assumptions.map((line) => `  - ${line}`),
  ].join('\n');
}
