/**
 * The HTML report: one self-contained file (inline CSS and SVG, no script,
 * no external resource) that any browser opens from disk. Charts are drawn
 * here as SVG polylines; chaos steps are dashed vertical lines, the
 * publishing window is shaded.
 */
import type { LatencyPercentiles } from './latency-histogram.js';
import type { Report, SeriesPoint } from './report.js';

interface Line {
  label: string;
  color: string;
  values: number[];
}

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
];

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function compact(value: number): string {
  return new Intl.NumberFormat('en-US', {
    notation: 'compact',
    maximumFractionDigits: 1,
  }).format(value);
}

function chart(
  title: string,
  unit: string,
  times: number[],
  lines: Line[],
  report: Report,
): string {
  if (lines.length === 0) {
    return `<figure><figcaption>${escapeHtml(title)}</figcaption><p>None reported.</p></figure>`;
  }

  const width = 760;
  const height = 220;
  const left = 56;
  const right = 12;
  const top = 12;
  const bottom = 28;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const maxT = Math.max(1, ...times);
  const maxV = Math.max(
    1e-9,
    ...lines.flatMap((line) => line.values.filter((v) => v >= 0)),
  );
  const x = (t: number): number => left + (t / maxT) * plotWidth;
  const y = (v: number): number => top + plotHeight - (v / maxV) * plotHeight;
  const parts: string[] = [];
  const window = report.publishWindow;
  parts.push(
    `<rect x="${x(window.from)}" y="${top}" width="${Math.max(0, x(window.to) - x(window.from))}" height="${plotHeight}" fill="#f3f6fa"/>`,
  );
  for (let i = 0; i <= 4; i++) {
    const value = (maxV * i) / 4;
    const py = y(value);
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${py + 4}" text-anchor="end">${compact(value)}</text>`,
    );
  }

  for (let i = 0; i <= 5; i++) {
    const t = (maxT * i) / 5;
    parts.push(
      `<text x="${x(t)}" y="${height - 8}" text-anchor="middle">${Math.round(t)} s</text>`,
    );
  }

  for (const step of report.chaos) {
    parts.push(
      `<line x1="${x(step.atSeconds)}" x2="${x(step.atSeconds)}" y1="${top}" y2="${top + plotHeight}" stroke="#000" stroke-dasharray="4 3"/>`,
      `<text x="${x(step.atSeconds) + 3}" y="${top + 10}">${escapeHtml(step.action)}</text>`,
    );
  }

  for (const line of lines) {
    const points = line.values
      .map((v, i) => (v >= 0 ? `${x(times[i] ?? 0)},${y(v)}` : null))
      .filter((p) => p !== null)
      .join(' ');
    parts.push(
      `<polyline fill="none" stroke="${line.color}" stroke-width="1.6" points="${points}"/>`,
    );
  }

  const legend = lines
    .map(
      (line) =>
        `<span class="key"><i style="background:${line.color}"></i>${escapeHtml(line.label)}</span>`,
    )
    .join('');
  return `<figure><figcaption>${escapeHtml(title)} <small>(${escapeHtml(unit)})</small></figcaption>
<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}">${parts.join('')}</svg>
<div class="legend">${legend}</div></figure>`;
}

function classLines(
  series: SeriesPoint[],
  pick: (point: SeriesPoint) => Record<string, number>,
): Line[] {
  const names = [...new Set(series.flatMap((p) => Object.keys(pick(p))))];
  return names
    .filter((name) => series.some((p) => (pick(p)[name] ?? 0) > 0))
    .map((name, i) => ({
      label: name,
      color: COLORS[i % COLORS.length] as string,
      values: series.map((p) => pick(p)[name] ?? 0),
    }));
}

/** A percentile of an interval, or -1 (not drawn) when it had no samples. */
function latencyValue(
  latency: LatencyPercentiles,
  field: 'p50Ms' | 'p99Ms' | 'p999Ms' | 'maxMs',
): number {
  return latency.count === 0 ? -1 : latency[field];
}

function table(rows: [string, string][]): string {
  return `<table>${rows
    .map(
      ([name, value]) =>
        `<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`,
    )
    .join('')}</table>`;
}

function latencyText(p: LatencyPercentiles): string {
  return p.count === 0
    ? 'no samples'
    : `p50 ${p.p50Ms} ms · p90 ${p.p90Ms} ms · p99 ${p.p99Ms} ms · p99.9 ${p.p999Ms} ms · max ${p.maxMs} ms (${compact(p.count)} samples)`;
}

export function renderHtml(report: Report): string {
  const { figures, series } = report;
  const times = series.map((p) => p.t);
  const summary = table([
    [
      'target',
      `${report.target.label} (${report.target.adminUrl}, ${report.target.edgeUrl})`,
    ],
    ['started', report.startedAt],
    [
      'machine',
      `${report.machine.cpus} cores, ${compact(report.machine.memoryBytes)}B, Node ${report.machine.node}`,
    ],
    [
      'viewers',
      `${figures.viewers.welcomed} of ${figures.viewers.planned} connected at ${figures.viewers.connectPerSecond}/s`,
    ],
    [
      'delivered',
      `${compact(figures.delivered.itemsPerSecond)} items/s · ${compact(figures.delivered.framesPerSecond)} frames/s · ${compact(figures.delivered.bytesPerSecond)}B/s over ${figures.delivered.windowSeconds} s`,
    ],
    [
      'published',
      `${figures.published.perSecond}/s accepted; admin API from due time ${latencyText(figures.published.httpLatency)}`,
    ],
    ['reliable latency', latencyText(figures.latency.reliable)],
    ['chat latency', latencyText(figures.latency.chat)],
    ['reliable lost', String(figures.reliable.lost)],
    ['reliable duplicated', String(figures.reliable.duplicated)],
    [
      'viewers with gaps or duplicates',
      figures.reliable.viewersWithAnomalies === 0
        ? '0'
        : `${figures.reliable.viewersWithAnomalies}; first ones: ${figures.reliable.anomalyExamples.join(' | ')}`,
    ],
    [
      'reliable expected / received',
      `${figures.reliable.expected} / ${figures.reliable.received}`,
    ],
    [
      'service',
      `${figures.service.cpuCores} cores, peak RSS ${compact(figures.service.peakRssBytes)}B`,
    ],
    [
      'simulator',
      `${figures.simulator.processes} processes, ${figures.simulator.cpuCores} cores, peak RSS ${compact(figures.simulator.peakRssBytes)}B, frame cache hits ${Math.round(figures.simulator.frameCacheHitRatio * 1000) / 10}%`,
    ],
  ]);
  const objectives =
    report.objectives.length === 0
      ? '<p>No objectives.</p>'
      : `<table><tr><th>objective</th><th>limit</th><th>actual</th><th></th></tr>${report.objectives
          .map(
            (o) =>
              `<tr class="${o.passed ? 'pass' : 'fail'}"><td>${escapeHtml(o.name)}</td><td>${o.limit}</td><td>${o.actual}</td><td>${o.passed ? 'pass' : 'FAIL'}</td></tr>`,
          )
          .join('')}</table>`;
  const baselines =
    report.baselines.length === 0
      ? ''
      : `<h2>Baselines</h2><table><tr><th>baseline</th><th>processes</th><th>items/s</th><th>reliable p50</th><th>reliable p99</th><th>service CPU</th></tr>${report.baselines
          .map(
            (b) =>
              `<tr><td>${escapeHtml(b.label)}</td><td>${b.processes ?? 1}</td><td>${compact(b.figures.delivered.itemsPerSecond)} (ratio ${b.ratios.itemsPerSecond})</td><td>${b.figures.latency.reliable.p50Ms} ms (ratio ${b.ratios.reliableP50})</td><td>${b.figures.latency.reliable.p99Ms} ms (ratio ${b.ratios.reliableP99})</td><td>${b.figures.service.cpuCores} (ratio ${b.ratios.serviceCpuCores})</td></tr>`,
          )
          .join(
            '',
          )}</table><p>Ratios are roomcast divided by the baseline.</p>`;
  const charts = [
    chart(
      'Delivered items per second, by class',
      'items/s',
      times,
      classLines(series, (p) => p.itemsPerSecondByClass),
      report,
    ),
    chart(
      'Published per second (accepted by the admin API)',
      'messages/s',
      times,
      classLines(series, (p) => p.publishedPerSecond),
      report,
    ),
    chart(
      'Reliable latency, due time to viewer',
      'ms',
      times,
      [
        {
          label: 'p50',
          color: COLORS[0] as string,
          values: series.map((p) => latencyValue(p.reliableLatency, 'p50Ms')),
        },
        {
          label: 'p99',
          color: COLORS[1] as string,
          values: series.map((p) => latencyValue(p.reliableLatency, 'p99Ms')),
        },
        {
          label: 'p99.9',
          color: COLORS[3] as string,
          values: series.map((p) => latencyValue(p.reliableLatency, 'p999Ms')),
        },
        {
          label: 'max',
          color: COLORS[4] as string,
          values: series.map((p) => latencyValue(p.reliableLatency, 'maxMs')),
        },
      ],
      report,
    ),
    chart(
      'Chat latency, due time to viewer',
      'ms',
      times,
      [
        {
          label: 'p50',
          color: COLORS[0] as string,
          values: series.map((p) => latencyValue(p.chatLatency, 'p50Ms')),
        },
        {
          label: 'p99',
          color: COLORS[1] as string,
          values: series.map((p) => latencyValue(p.chatLatency, 'p99Ms')),
        },
      ],
      report,
    ),
    chart(
      'Dropped by the service, by class',
      'items/s',
      times,
      classLines(series, (p) => p.droppedPerSecond),
      report,
    ),
    chart(
      'Merged by the service, by class',
      'items/s',
      times,
      classLines(series, (p) => p.mergedPerSecond),
      report,
    ),
    chart(
      'Connections open',
      'viewers',
      times,
      [
        {
          label: 'open',
          color: COLORS[0] as string,
          values: series.map((p) => p.open),
        },
      ],
      report,
    ),
    chart(
      'CPU',
      'cores',
      times,
      [
        {
          label: 'service',
          color: COLORS[1] as string,
          values: series.map((p) => p.serviceCpuCores),
        },
        {
          label: 'simulator',
          color: COLORS[0] as string,
          values: series.map((p) => p.simulatorCpuCores),
        },
      ],
      report,
    ),
    chart(
      'Resident memory',
      'bytes',
      times,
      [
        {
          label: 'service',
          color: COLORS[1] as string,
          values: series.map((p) => p.serviceRssBytes),
        },
        {
          label: 'edges',
          color: COLORS[2] as string,
          values: series.map((p) => p.edgeRssBytes),
        },
        {
          label: 'simulator',
          color: COLORS[0] as string,
          values: series.map((p) => p.simulatorRssBytes),
        },
      ],
      report,
    ),
  ].join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>roomcast loadtest: ${escapeHtml(report.scenario.name)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:820px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}th,td{text-align:left;padding:3px 10px 3px 0;vertical-align:top}
th{font-weight:600}tr.fail td{color:#b00020;font-weight:600}tr.pass td:last-child{color:#1b7f3b}
figure{margin:18px 0}figcaption{font-weight:600;margin-bottom:4px}
svg text{font-size:11px;fill:#555}.legend{font-size:12px}.key{margin-right:14px}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.verdict{font-size:18px;font-weight:700}.verdict.pass{color:#1b7f3b}.verdict.fail{color:#b00020}
</style></head><body>
<h1>roomcast loadtest: ${escapeHtml(report.scenario.name)}</h1>
<p>${escapeHtml(report.scenario.description)}</p>
<p class="verdict ${report.passed ? 'pass' : 'fail'}">${report.passed ? 'PASSED' : 'FAILED'}</p>
<h2>Summary</h2>${summary}
<h2>Objectives</h2>${objectives}
${baselines}
<h2>Over time</h2><p>Shaded: the publishing window. Dashed lines: chaos steps.</p>
${charts}
</body></html>
`;
}
