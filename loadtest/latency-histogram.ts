/**
 * Latency histograms: HdrHistogram in microseconds (3 significant digits, so
 * every percentile is within 0.1% of the recorded value), encoded compressed
 * for the trip from a simulator process to the coordinator, where they merge
 * without losing precision.
 */
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from 'hdr-histogram-js';

export type { Histogram };

/** Percentiles of a histogram, in milliseconds. */
export interface LatencyPercentiles {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
}

export function newHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60 * 60 * 1_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
}

/** Records a duration given in (fractional) milliseconds. */
export function recordMs(histogram: Histogram, valueMs: number): void {
  histogram.recordValue(Math.max(0, Math.round(valueMs * 1000)));
}

export function encodeHistogram(histogram: Histogram): string {
  return encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): Histogram {
  return decodeFromCompressedBase64(encoded);
}

/** Adds an encoded histogram into `into`; empty strings are skipped. */
export function addEncoded(into: Histogram, encoded: string): void {
  if (encoded === '') {
    return;
  }

  const other = decodeHistogram(encoded);
  into.add(other);
  other.destroy();
}

export function percentilesOf(histogram: Histogram): LatencyPercentiles {
  const count = histogram.totalCount;
  const ms = (micros: number): number => Math.round(micros) / 1000;
  if (count === 0) {
    return {
      count: 0,
      p50Ms: 0,
      p90Ms: 0,
      p99Ms: 0,
      p999Ms: 0,
      maxMs: 0,
      meanMs: 0,
    };
  }

  return {
    count,
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    p999Ms: ms(histogram.getValueAtPercentile(99.9)),
    maxMs: ms(histogram.maxValue),
    meanMs: ms(histogram.mean),
  };
}
