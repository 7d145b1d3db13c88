/** The console summary of a run: plain lines, one topic each. */
import type { Figures } from './figures.js';
import type { LatencyPercentiles } from './latency-histogram.js';
import { PUBLISH_TYPES } from './publisher.js';

const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

function n(value: number): string {
  return number.format(value);
}

function bytes(value: number): string {
  if (value >= 1024 * 1024) {
    return `${n(value / (1024 * 1024))} MiB`;
  }

  return value >= 1024 ? `${n(value / 1024)} KiB` : `${n(value)} B`;
}

function latency(p: LatencyPercentiles): string {
  if (p.count === 0) {
    return 'no samples';
  }

  return (
    `p50 ${n(p.p50Ms)} ms, p90 ${n(p.p90Ms)} ms, p99 ${n(p.p99Ms)} ms, ` +
    `p99.9 ${n(p.p999Ms)} ms, max ${n(p.maxMs)} ms (${n(p.count)} samples)`
  );
}

function record(values: Record<string, number>): string {
  const entries = Object.entries(values);
  return entries.length === 0
    ? 'none'
    : entries.map(([key, value]) => `${key}: ${n(value)}`).join(', ');
}

export function formatSummary(figures: Figures): string {
  const { viewers, published, delivered, reliable, simulator } = figures;
  const mix = PUBLISH_TYPES.filter((type) => published.byType[type].sent > 0)
    .map((type) => {
      const counts = published.byType[type];
      const refused = Object.values(counts.refused).reduce((a, b) => a + b, 0);
      return (
        `${type} ${n(counts.accepted)}` +
        (refused + counts.failed > 0
          ? ` (${n(refused)} refused, ${n(counts.failed)} failed)`
          : '')
      );
    })
    .join(', ');
  const byClass = Object.entries(delivered.itemsPerSecondByClass)
    .filter(([, rate]) => rate > 0)
    .map(([name, rate]) => `${name} ${n(rate)}`)
    .join(', ');
  const lines = [
    `viewers     ${n(viewers.welcomed)} of ${n(viewers.planned)} connected at ${n(viewers.connectPerSecond)}/s; ` +
      `${viewers.retried ? 'failed attempts, retried' : 'failed'}: ${record(viewers.failed)}; connect ${latency(viewers.connectLatency)}`,
    `published   ${n(published.perSecond)}/s accepted: ${mix}`,
    `            admin API from due time: ${latency(published.httpLatency)}; ` +
      `late sends ${n(published.late)}, skipped ${n(published.skipped)}`,
    `delivered   ${n(delivered.itemsPerSecond)} items/s (${byClass}) over ${n(delivered.windowSeconds)} s`,
    `            ${n(delivered.framesPerSecond)} frames/s, ${bytes(delivered.bytesPerSecond)}/s; ` +
      `run total ${n(delivered.totalItems)} items, ${n(delivered.totalFrames)} frames`,
    `latency     reliable ${latency(figures.latency.reliable)}`,
    `            chat ${latency(figures.latency.chat)}`,
    `reliable    lost ${n(reliable.lost)}, duplicated ${n(reliable.duplicated)} ` +
      `(expected ${n(reliable.expected)} deliveries, received ${n(reliable.received)}; ` +
      `gaps ${n(reliable.gapLost)}, missing at end ${n(reliable.missingAtEnd)})`,
    `connections closed early: ${record(viewers.closedEarly)}; viewers behind at end ${n(reliable.viewersBehind)}, gone ${n(reliable.viewersGone)}, aborted on purpose ${n(reliable.viewersAborted)}`,
    `simulator   ${simulator.processes} processes, ${n(simulator.cpuCores)} cores ` +
      `(publisher ${n(simulator.coordinatorCpuCores)}), ` +
      `peak RSS ${bytes(simulator.peakRssBytes)}, frame cache hits ${n(simulator.frameCacheHitRatio * 100)}%`,
  ];
  if (reliable.unreported > 0) {
    lines.push(
      `unreported  ${n(reliable.unreported)} viewers: their simulator processes were too far behind to report within the drain's bound`,
    );
  }

  if (reliable.viewersWithAnomalies > 0) {
    lines.push(
      `anomalies   ${n(reliable.viewersWithAnomalies)} viewers saw gaps or duplicates; first ones:`,
      ...reliable.anomalyExamples.map((example) => `            ${example}`),
    );
  }

  const service = figures.service;
  const lossy = Object.entries(service.items)
    .filter(([key]) => key.includes('/dropped') || key.includes('/merged'))
    .map(([key, value]) => `${key} ${n(value)}`)
    .join(', ');
  lines.push(
    `service     ${service.cpuCores < 0 ? 'CPU unknown' : `${n(service.cpuCores)} cores`}, ` +
      `peak RSS ${service.peakRssBytes < 0 ? 'unknown' : bytes(service.peakRssBytes)}; ` +
      `merged and dropped: ${lossy === '' ? 'none reported' : lossy}`,
  );
  if (service.edge.bytesPerViewer >= 0) {
    lines.push(
      `edge memory ${bytes(service.edge.baseRssBytes)} before the viewers, ` +
        `${bytes(service.edge.heldRssBytes)} holding them: ` +
        `${n(service.edge.bytesPerViewer)} bytes per viewer` +
        (service.edge.marginalBytesPerViewer >= 0
          ? `; the second half of them ${n(service.edge.marginalBytesPerViewer)} bytes each`
          : ''),
    );
  }
  const traffic = figures.viewerTraffic;
  if (
    traffic.chatSent + traffic.likesSent + traffic.reconnects > 0 ||
    traffic.reloadSkipped > 0
  ) {
    lines.push(
      `viewer side sent chat ${n(traffic.chatSent)}, likes ${n(traffic.likesSent)}; ` +
        `reconnects ${n(traffic.reconnects)} (${n(traffic.rewelcomed)} back in); ` +
        `seqs skipped on reload ${n(traffic.reloadSkipped)}; ` +
        `controls: ${record(traffic.controls)}; errors: ${record(traffic.errors)}`,
    );
  }

  if (figures.burst !== null) {
    const burst = figures.burst;
    lines.push(
      `burst       ${n(burst.accepted)} ${burst.type} accepted in ${n(burst.durationMs)} ms ` +
        `(${n(burst.refused)} refused, ${n(burst.failed)} failed), last seq ${n(burst.maxSeq)}`,
    );
  }

  if (figures.clockSkewedSamples > 0) {
    lines.push(
      `warning     ${n(figures.clockSkewedSamples)} latency samples had a send time after the receive time`,
    );
  }

  return lines.join('\n');
}
