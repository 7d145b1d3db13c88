/**
 * What the service says about itself, read from its Prometheus endpoint
 * (`GET /metrics` on the admin port) once per interval: CPU, resident memory,
 * and the priority engine's per-class accounting (received, delivered,
 * merged, dropped by reason). Works the same whether the load test started
 * the service or not; a service without these series just reports none.
 */
import { readFile } from 'node:fs/promises';
import { get } from 'node:http';
import type { AdminClient } from './admin-client.js';

export interface ServiceSample {
  atMs: number;
  /** `process_cpu_seconds_total`; -1 when absent. */
  cpuSeconds: number;
  /** `process_resident_memory_bytes`; -1 when absent. */
  rssBytes: number;
  /** The edge processes' resident memory, from /proc; -1 when unknown. */
  edgeRssBytes: number;
  /** `roomcast_priority_items_total` by `class/outcome[/reason]`. */
  items: Record<string, number>;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus text into `name` and `name{labels}` keyed values. */
export function parsePrometheus(
  text: string,
): { name: string; labels: Record<string, string>; value: number }[] {
  const samples: {
    name: string;
    labels: Record<string, string>;
    value: number;
  }[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') {
      continue;
    }

    const match = LINE.exec(line);
    if (match === null) {
      continue;
    }

    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(LABEL)) {
      labels[label[1] as string] = label[2] as string;
    }

    samples.push({
      name: match[1] as string,
      labels,
      value: Number(match[3]),
    });
  }

  return samples;
}

export function sampleFromText(text: string, atMs: number): ServiceSample {
  const sample: ServiceSample = {
    atMs,
    cpuSeconds: -1,
    rssBytes: -1,
    edgeRssBytes: -1,
    items: {},
  };
  for (const { name, labels, value } of parsePrometheus(text)) {
    if (name === 'process_cpu_seconds_total') {
      sample.cpuSeconds = value;
    } else if (name === 'process_resident_memory_bytes') {
      sample.rssBytes = value;
    } else if (name === 'roomcast_priority_items_total') {
      const key = [labels['class'], labels['outcome'], labels['reason']]
        .filter((part) => part !== undefined && part !== '')
        .join('/');
      sample.items[key] = (sample.items[key] ?? 0) + value;
    }
  }

  return sample;
}

/** Linux clock ticks per second, the unit of /proc/PID/stat CPU times. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU seconds and resident bytes of a local process from /proc, for services
 * the load test started itself (the same numbers for roomcast and for a
 * baseline that has no /metrics). Null when the process is gone.
 */
export async function readProcess(
  pid: number,
): Promise<{ cpuSeconds: number; rssBytes: number } | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const rssPages = Number(fields[21]);
    return {
      cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND,
      rssBytes: rssPages * 4096,
    };
  } catch {
    return null;
  }
}

/**
 * Reads one sample: the priority accounting from /metrics (the admin API's
 * and any other endpoints given, summed), and CPU and memory summed over the
 * pids when they are known, else from the admin API's /metrics. Null when
 * nothing answers.
 */
export async function scrapeService(
  admin: AdminClient,
  pids: number[] = [],
  metricsUrls: string[] = [],
  edgePids: number[] = [],
): Promise<ServiceSample | null> {
  // The edges are among the service's processes: each is read once.
  const everyPid = [...new Set([...pids, ...edgePids])];
  const [text, others, figures] = await Promise.all([
    admin.metricsText().catch(() => null),
    Promise.all(metricsUrls.map((url) => fetchText(url))),
    Promise.all(everyPid.map((pid) => readProcess(pid))),
  ]);
  const byPid = new Map(everyPid.map((pid, i) => [pid, figures[i] ?? null]));
  const liveOf = (of: number[]) =>
    of.flatMap((pid) => {
      const read = byPid.get(pid);
      return read === undefined || read === null ? [] : [read];
    });
  const live = liveOf(pids);
  if (text === null && live.length === 0) {
    return null;
  }

  const sample =
    text === null
      ? {
          atMs: Date.now(),
          cpuSeconds: -1,
          rssBytes: -1,
          edgeRssBytes: -1,
          items: {},
        }
      : sampleFromText(text, Date.now());
  for (const other of others) {
    if (other === null) {
      continue;
    }

    const extra = sampleFromText(other, sample.atMs);
    for (const [key, value] of Object.entries(extra.items)) {
      sample.items[key] = (sample.items[key] ?? 0) + value;
    }
  }

  const liveEdges = liveOf(edgePids);
  if (liveEdges.length > 0) {
    sample.edgeRssBytes = liveEdges.reduce((sum, p) => sum + p.rssBytes, 0);
  }

  if (live.length > 0) {
    sample.cpuSeconds = live.reduce((sum, p) => sum + p.cpuSeconds, 0);
    sample.rssBytes = live.reduce((sum, p) => sum + p.rssBytes, 0);
  }

  return sample;
}

/** GET a Prometheus endpoint on loopback; null on any failure. */
function fetchText(url: string): Promise<string | null> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve(
          res.statusCode === 200
            ? Buffer.concat(chunks).toString('utf8')
            : null,
        );
      });
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/** Counter increase between two samples, by key. */
export function itemsBetween(
  first: ServiceSample,
  last: ServiceSample,
): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [key, value] of Object.entries(last.items)) {
    const increase = value - (first.items[key] ?? 0);
    if (increase !== 0) {
      delta[key] = increase;
    }
  }

  return delta;
}
