import { counter, gauge, histogram, type Registry } from '../metrics/index.js';

/** Prometheus metrics of an edge; names and units are part of the ops contract (k8s/ alerts use them). */
export class EdgeMetrics {
  readonly connections;
  readonly connects;
  readonly framesSent;
  readonly bytesSent;
  readonly droppedItems;
  readonly slowCloses;
  readonly clientFrames;
  readonly refusedFrames;
  readonly resumes;
  readonly sendBufferBytes;
  readonly laneChanges;
  readonly frameInterval;
  readonly presenceInterval;
  readonly coalescedFrames;
  readonly streamGaps;
  readonly repairedItems;
  readonly repeatedFrames;

  constructor(registry: Registry) {
    this.connections = gauge(registry, {
      name: 'roomcast_edge_connections',
      help: 'Open viewer WebSockets on this edge.',
    });
    this.connects = counter(registry, {
      name: 'roomcast_edge_connects_total',
      help: 'Connection attempts by outcome (accepted or the refusal reason).',
      labelNames: ['outcome'],
    });
    // A scrape tells "no drop at open" from "not exported" (docs/edge.md).
    for (const outcome of ['accepted', 'dropped_at_open']) {
      this.connects.inc({ outcome }, 0);
    }
    this.framesSent = counter(registry, {
      name: 'roomcast_edge_frames_sent_total',
      help: 'Frames forwarded to viewer topics by lane (full, reliable) or sent to one viewer (direct).',
      labelNames: ['lane'],
    });
    this.bytesSent = counter(registry, {
      name: 'roomcast_edge_bytes_sent_total',
      help: 'Bytes of frames forwarded by lane, counted once per topic publish.',
      labelNames: ['lane'],
    });
    this.droppedItems = counter(registry, {
      name: 'roomcast_edge_dropped_items_total',
      help: 'Viewer frames or items the edge refused or shed, by reason.',
      labelNames: ['reason'],
    });
    this.slowCloses = counter(registry, {
      name: 'roomcast_edge_slow_closes_total',
      help: 'Viewers closed because their send buffer passed the hard bound.',
    });
    this.clientFrames = counter(registry, {
      name: 'roomcast_edge_client_frames_total',
      help: 'Valid frames received from viewers by type.',
      labelNames: ['type'],
    });
    this.refusedFrames = counter(registry, {
      name: 'roomcast_edge_refused_frames_total',
      help: 'Frames from viewers refused, by error code.',
      labelNames: ['code'],
    });
    this.resumes = counter(registry, {
      name: 'roomcast_edge_resumes_total',
      help: 'Resume requests by outcome (ok, reload).',
      labelNames: ['outcome'],
    });
    this.laneChanges = counter(registry, {
      name: 'roomcast_edge_lane_changes_total',
      help: 'Viewers moved between lanes, by the lane they moved to.',
      labelNames: ['lane'],
    });
    this.frameInterval = gauge(registry, {
      name: 'roomcast_edge_frame_interval_seconds',
      help: 'How often the edge sends each room a frame: the shard tick, or longer while the edge is under load.',
      // An edge of several workers reports its slowest.
      aggregator: 'max',
    });
    this.presenceInterval = gauge(registry, {
      name: 'roomcast_edge_presence_interval_seconds',
      help: 'Least time between two frames of a room that carry only its viewer count and joins: 1 s, longer as the edge holds more viewers (ROOMCAST_EDGE_PRESENCE_FRAMES_PER_SECOND).',
      aggregator: 'max',
    });
    this.coalescedFrames = counter(registry, {
      name: 'roomcast_edge_coalesced_frames_total',
      help: 'Shard frames merged into the frame before them while the edge paced its frames.',
    });
    this.streamGaps = counter(registry, {
      name: 'roomcast_edge_stream_gaps_total',
      help: "Holes in a room's reliable seqs as frames came over the bus, by outcome: repaired (read from the log and sent) or failed (not all of it could be read; viewers closed with stream_gap to resume).",
      labelNames: ['outcome'],
    });
    // Both outcomes exist from the start, so an alert on `failed` has a
    // series to read before the first failure.
    for (const outcome of ['repaired', 'failed']) {
      this.streamGaps.inc({ outcome }, 0);
    }

    this.repairedItems = counter(registry, {
      name: 'roomcast_edge_repaired_items_total',
      help: 'Reliable items the bus lost that the edge read from the log and sent.',
    });
    this.repeatedFrames = counter(registry, {
      name: 'roomcast_edge_repeated_frames_total',
      help: 'Frames that came over the bus with reliable items the room already had (they were taken out).',
    });
    this.sendBufferBytes = histogram(registry, {
      name: 'roomcast_edge_send_buffer_bytes',
      help: 'Viewer send buffers sampled by the backpressure sweep.',
      buckets: [0, 1024, 16_384, 65_536, 262_144, 1_048_576, 4_194_304],
    });
  }
}
