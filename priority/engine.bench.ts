/**
 * Priority engine benchmarks, on one core:
 *
 * - ingest: `offer` rate for a realistic mix spread over 100 rooms, against
 *   a bare loop pushing the same inputs into an array;
 * - tick, uniform: one tick over 10,000 rooms that all have ~6 new
 *   messages every tick (600,000 messages/s), every room ticked: the
 *   original definition of "active", kept as the worst case;
 * - tick, skewed: the same 600,000 messages/s over 10,000 rooms with
 *   viewers, spread the way live rooms are: 1% hot rooms with 240 messages
 *   a tick, 9% warm rooms with 30, and 90% small rooms that have 4 messages
 *   in one tick out of four and nothing in the others. About a third of the
 *   rooms (3,250) has traffic in a given tick. The loop is the shard's: a
 *   room whose engine is `idle` is skipped. Hot rooms are over budget every
 *   tick, so this variant also runs the ranking path the uniform one rarely
 *   reaches.
 *
 * Each tick figure is the median over the timed rounds of the wall time
 * and, separately, of the process CPU time (process.cpuUsage), which on a
 * shared machine does not count other processes. Each is printed against a
 * loop that copies the same rooms' inputs into arrays (a "send everything"
 * stage) in the same run.
 *
 * Inputs are built before timing so only the engine is measured. Run with
 * `npm run bench` (all benchmarks) or `node --import tsx
 * priority/engine.bench.ts`.
 */
import { performance } from 'node:perf_hooks';
import { RoomEngine, type EngineInput } from './index.js';
import { emptyAccounting } from './accounting.js';

const INGEST_ROOMS = 100;
const INGEST_PER_ROUND = 200_000;
const INGEST_ROUNDS = 15;
const TICK_ROOMS = 10_000;
const TICK_ROUNDS = 40;
const TICK_MS = 100;

/** Deterministic pseudo-random numbers, so every run sees the same traffic. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * The mix: 60% likes, 30% chat, 8% joins, 1.5% gifts, 0.5% host messages,
 * over a few thousand users per room.
 */
function makeInput(
  random: () => number,
  seqs: number[],
  room: number,
  n: number,
  ts: number,
): EngineInput {
  const roll = random();
  const user = `u${Math.floor(random() * 5_000)}`;
  const from = { id: user, name: user, level: Math.floor(random() * 30) };
  if (roll < 0.6) {
    return { type: 'like', ts, from, count: 1 + Math.floor(random() * 3) };
  }

  if (roll < 0.9) {
    return {
      type: 'chat',
      id: String(n),
      ts,
      from,
      text: `hello from ${user}`,
    };
  }

  if (roll < 0.98) {
    return { type: 'join', ts, from };
  }

  const seq = (seqs[room] ?? 0) + 1;
  seqs[room] = seq;
  return roll < 0.995
    ? { type: 'gift', id: String(n), seq, ts, from, data: { giftId: 'rose' } }
    : { type: 'host', id: String(n), seq, ts, data: 'thanks all' };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function max(values: number[]): number {
  return values.reduce((a, b) => Math.max(a, b), 0);
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function benchIngest(): void {
  const random = lcg(1);
  const seqs: number[] = [];
  const rooms: number[] = [];
  const inputs: EngineInput[] = [];
  for (let n = 0; n < INGEST_PER_ROUND; n++) {
    const room = n % INGEST_ROOMS;
    rooms.push(room);
    inputs.push(makeInput(random, seqs, room, n, 0));
  }

  const engineRates: number[] = [];
  const baselineRates: number[] = [];
  for (let round = 0; round < INGEST_ROUNDS; round++) {
    // Fresh engines each round: the same seqs are offered again.
    const engines = Array.from(
      { length: INGEST_ROOMS },
      () => new RoomEngine(),
    );
    let start = performance.now();
    for (let n = 0; n < inputs.length; n++) {
      (engines[rooms[n] as number] as RoomEngine).offer(
        inputs[n] as EngineInput,
      );
    }

    engineRates.push(inputs.length / ((performance.now() - start) / 1000));
    for (const engine of engines) {
      engine.tick(TICK_MS);
    }

    const sinks: EngineInput[][] = Array.from(
      { length: INGEST_ROOMS },
      () => [],
    );
    start = performance.now();
    for (let n = 0; n < inputs.length; n++) {
      (sinks[rooms[n] as number] as EngineInput[]).push(
        inputs[n] as EngineInput,
      );
    }

    baselineRates.push(inputs.length / ((performance.now() - start) / 1000));
  }

  // The first rounds warm the JIT up; the median of the rest is reported.
  const engineRate = median(engineRates.slice(3));
  const baselineRate = median(baselineRates.slice(3));
  print(
    `ingest: ${Math.round(engineRate).toLocaleString('en')} msg/s ` +
      `(target >= 2,000,000); baseline array push ` +
      `${Math.round(baselineRate).toLocaleString('en')} msg/s; ` +
      `engine takes ${(baselineRate / engineRate).toFixed(1)}x the baseline's time`,
  );
}

/** How many inputs a room gets in a tick; 0 means the room is quiet. */
type RoomTraffic = (room: number, round: number) => number;

/** Every room has 6 inputs every tick. */
const UNIFORM: RoomTraffic = () => 6;

/**
 * 1% hot rooms at 240 a tick, 9% warm at 30, and 90% small rooms with 4 in
 * one tick of four, staggered: 60,000 inputs a tick in all, as UNIFORM.
 */
const SKEWED: RoomTraffic = (room, round) => {
  const bucket = room % 100;
  if (bucket === 0) {
    return 240;
  }

  if (bucket < 10) {
    return 30;
  }

  // Numbered 0..8,999 among the small rooms, so each tick has 2,250 busy.
  const small = Math.floor(room / 100) * 90 + bucket - 10;
  return (small + round) % 4 === 0 ? 4 : 0;
};

interface TickRun {
  name: string;
  traffic: RoomTraffic;
  /** Skip rooms whose engine is idle, as the shard does. */
  skipIdle: boolean;
}

function benchTick({ name, traffic, skipIdle }: TickRun): void {
  const random = lcg(2);
  const seqs: number[] = [];
  const engines = Array.from({ length: TICK_ROOMS }, () => new RoomEngine());
  // Each room's inputs for its busiest tick; a tick offers the first
  // traffic(room, round) of them.
  const perRoom: EngineInput[][] = engines.map((_, room) => {
    let most = 0;
    for (let round = 0; round < 4; round++) {
      most = Math.max(most, traffic(room, round));
    }

    return Array.from({ length: most }, (_unused, i) =>
      makeInput(random, seqs, room, i, 0),
    );
  });
  const tickMs: number[] = [];
  // CPU time too: on a shared machine wall time includes other processes.
  const tickCpuMs: number[] = [];
  const baselineMs: number[] = [];
  let nowMs = 0;
  let n = 0;
  let offered = 0;
  let busyRooms = 0;
  for (let round = 0; round < TICK_ROUNDS; round++) {
    nowMs += TICK_MS;
    const offeredBefore = offered;
    for (let room = 0; room < TICK_ROOMS; room++) {
      const engine = engines[room] as RoomEngine;
      const templates = perRoom[room] as EngineInput[];
      const count = traffic(room, round);
      for (let i = 0; i < count; i++) {
        const template = templates[i] as EngineInput;
        // Reliable inputs need a fresh seq every tick.
        const seq =
          template.seq === undefined
            ? undefined
            : (seqs[room] = (seqs[room] ?? 0) + 1);
        engine.offer(
          seq === undefined ? template : { ...template, seq, id: String(++n) },
        );
      }

      offered += count;
      busyRooms += count > 0 ? 1 : 0;
      // Big rooms' audiences change every tick, small rooms' every second.
      if (count > 6 || !skipIdle || round % 10 === room % 10) {
        engine.setViewerCount(round * 10 + room);
      }
    }

    if (round === 0 && offered - offeredBefore !== 60_000) {
      throw new Error(`${name}: ${offered - offeredBefore} inputs, not 60,000`);
    }

    let start = performance.now();
    const cpuStart = process.cpuUsage();
    let items = 0;
    for (const engine of engines) {
      if (!skipIdle || !engine.idle) {
        items += engine.tick(nowMs).items.length;
      }
    }

    tickMs.push(performance.now() - start);
    const cpu = process.cpuUsage(cpuStart);
    tickCpuMs.push((cpu.user + cpu.system) / 1000);
    start = performance.now();
    let copied = 0;
    for (let room = 0; room < TICK_ROOMS; room++) {
      copied += (perRoom[room] as EngineInput[]).slice(
        0,
        traffic(room, round),
      ).length;
    }

    baselineMs.push(performance.now() - start);
    if (items === 0 || copied === 0) {
      throw new Error('benchmark produced no output');
    }
  }

  const cost = median(tickMs.slice(5));
  const cpuCost = median(tickCpuMs.slice(5));
  const baseline = median(baselineMs.slice(5));
  print(
    `tick ${name}: ${cost.toFixed(2)} ms per ${TICK_MS} ms tick for ` +
      `${TICK_ROOMS.toLocaleString('en')} rooms, ` +
      `${Math.round((100 * busyRooms) / (TICK_ROOMS * TICK_ROUNDS))}% ` +
      `with traffic (target < 20; worst ${max(tickMs.slice(5)).toFixed(2)} ms; ` +
      `CPU time ${cpuCost.toFixed(2)} ms, min ${Math.min(...tickCpuMs.slice(5)).toFixed(2)}); ` +
      `baseline copy ${baseline.toFixed(2)} ms; engine takes ` +
      `${(cost / baseline).toFixed(1)}x the baseline's time`,
  );
  benchScrape(name, engines);
}

/**
 * What a metrics scrape costs the shard: summing every room's accounting,
 * as RoomShard.totals() does with addAccountingTo, on the same event loop as the ticks.
 */
function benchScrape(name: string, engines: RoomEngine[]): void {
  const scrapeMs: number[] = [];
  let delivered = 0;
  for (let round = 0; round < 15; round++) {
    const start = performance.now();
    const sum = emptyAccounting();
    for (const engine of engines) {
      engine.addAccountingTo(sum);
    }

    scrapeMs.push(performance.now() - start);
    delivered += sum.total.delivered;
  }

  if (delivered === 0) {
    throw new Error('scrape summed nothing');
  }

  print(
    `scrape ${name}: ${median(scrapeMs.slice(5)).toFixed(2)} ms to sum the ` +
      `accounting of ${engines.length.toLocaleString('en')} rooms ` +
      `(worst ${max(scrapeMs.slice(5)).toFixed(2)} ms)`,
  );
}

benchIngest();
benchTick({ name: 'uniform', traffic: UNIFORM, skipIdle: false });
benchTick({ name: 'skewed', traffic: SKEWED, skipIdle: true });
