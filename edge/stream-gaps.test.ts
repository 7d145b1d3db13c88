/**
 * Frames the bus loses or repeats on their way to an edge (stream-gaps.ts):
 * a standalone server whose edge sees the bus through a filter that drops
 * or doubles chosen frame envelopes, real WebSocket viewers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus, BusHandler } from '../bus/index.js';
import { waitUntil } from '../harness/wait.js';
import { decodeValue } from '../protocol/index.js';
import {
  GatedLog,
  TestViewer,
  metric,
  startTestServer,
  type TestServer,
} from '../test/harness.js';
import type { Settings } from '../config/index.js';
import { RECHECK_MS } from './stream-gaps.js';

/** What the filter does with the next frames that carry reliable items. */
type Fate = 'drop' | 'double';

/**
 * The bus as the edge sees it: frames with reliable items meet the fates
 * queued in `fates`, one each, in order; everything else passes.
 */
class LossyBus implements Bus {
  readonly fates: Fate[] = [];
  /** Frames that met a fate so far. */
  met = 0;
  #bus: Bus;
  #wrapped = new Map<BusHandler, BusHandler>();
  #resubscribed: (() => void)[] = [];

  constructor(bus: Bus) {
    this.#bus = bus;
  }

  get ready(): boolean {
    return this.#bus.ready;
  }

  publish(channel: string, payload: Buffer): void {
    this.#bus.publish(channel, payload);
  }

  subscribe(channel: string, handler: BusHandler): Promise<void> {
    const wrapped: BusHandler = (payload) => {
      const envelope = decodeValue(payload) as unknown[];
      const carriesReliable =
        envelope[0] === 'frame' && (envelope[1] as number) > 0;
      const fate = carriesReliable ? this.fates.shift() : undefined;
      if (fate !== undefined) {
        this.met++;
      }

      if (fate !== 'drop') {
        handler(payload);
      }

      if (fate === 'double') {
        handler(payload);
      }
    };
    this.#wrapped.set(handler, wrapped);
    return this.#bus.subscribe(channel, wrapped);
  }

  unsubscribe(channel: string, handler: BusHandler): Promise<void> {
    const wrapped = this.#wrapped.get(handler) ?? handler;
    this.#wrapped.delete(handler);
    return this.#bus.unsubscribe(channel, wrapped);
  }

  onResubscribed(listener: () => void): void {
    this.#resubscribed.push(listener);
    this.#bus.onResubscribed(listener);
  }

  /** Tells the edge its subscriptions were renewed, as after a reconnect. */
  resubscribed(): void {
    for (const listener of this.#resubscribed) {
      listener();
    }
  }

  close(): Promise<void> {
    return this.#bus.close();
  }
}

interface Setup {
  server: TestServer;
  lossy: LossyBus;
  gated: GatedLog;
  viewer: TestViewer;
  /** Publishes a host message; resolves to its seq. */
  host(n: number): Promise<number>;
  /** Publishes host message `n` and waits until its frame met `fate`. */
  hostMeeting(fate: Fate, n: number): Promise<void>;
  /** Moves the edge's clock. */
  advance(ms: number): void;
}

async function setup(overrides: Partial<Settings> = {}): Promise<Setup> {
  let made: LossyBus | undefined;
  let madeLog: GatedLog | undefined;
  let nowMs = Date.now();
  const server = await startTestServer(overrides, {
    clock: () => nowMs,
    edgeBus: (bus) => (made = new LossyBus(bus)),
    edgeLog: (log) => (madeLog = new GatedLog(log)),
  });
  assert.ok(made !== undefined && madeLog !== undefined);
  const lossy = made;
  const gated = madeLog;
  await server.api('POST', '/v1/rooms', { id: 'gaps' });
  const viewer = await TestViewer.connect(
    `${server.edgeUrl}?token=${await server.token('gaps', 'watcher')}`,
  );
  const host = async (n: number) => {
    const sent = await server.api('POST', '/v1/rooms/gaps/messages', {
      type: 'host',
      data: { n },
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    return sent.body['seq'] as number;
  };
  return {
    server,
    lossy,
    gated,
    viewer,
    host,
    async hostMeeting(fate, n) {
      lossy.fates.push(fate);
      const met = lossy.met;
      await host(n);
      await waitUntil(() => lossy.met > met, 5000, `frame of ${n}: ${fate}`);
    },
    advance(ms) {
      nowMs += ms;
    },
  };
}

/** Waits for `seqs`, then a little longer: nothing more may come. */
async function expectSeqs(viewer: TestViewer, seqs: number[]): Promise<void> {
  await viewer.waitUntil(() => seqsOf(viewer).length >= seqs.length);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(seqsOf(viewer), seqs);
}

const seqsOf = (viewer: TestViewer) =>
  viewer
    .items()
    .filter((item) => typeof item['seq'] === 'number')
    .map((item) => item['seq'] as number);

async function gaps(server: TestServer, outcome: string): Promise<number> {
  return metric(
    server,
    `roomcast_edge_stream_gaps_total{outcome="${outcome}"}`,
  );
}

test('stream gaps - a frame lost on the bus is read from the log and sent before the frame that showed the hole', async () => {
  const { server, viewer, host, hostMeeting } = await setup();
  try {
    await host(1);
    await viewer.waitUntil(() => seqsOf(viewer).length === 1);
    // Both outcomes are exported before any hole.
    assert.equal(await gaps(server, 'failed'), 0);
    const scrape = await (await fetch(`${server.adminUrl}/metrics`)).text();
    assert.match(
      scrape,
      /roomcast_edge_stream_gaps_total\{outcome="failed"\} 0/,
    );
    await hostMeeting('drop', 2);
    await host(3);
    await expectSeqs(viewer, [1, 2, 3]);
    const second = viewer.items().find((item) => item['seq'] === 2);
    assert.deepEqual(second?.['data'], { n: 2 });
    assert.equal(await gaps(server, 'repaired'), 1);
    assert.equal(await metric(server, 'roomcast_edge_repaired_items_total'), 1);
  } finally {
    viewer.close();
    await server.close();
  }
});

test('stream gaps - frames lost one after another are all repaired, in order', async () => {
  const { server, viewer, host, hostMeeting } = await setup();
  try {
    for (let n = 1; n <= 3; n++) {
      await hostMeeting('drop', n);
    }

    await host(4);
    await host(5);
    await expectSeqs(viewer, [1, 2, 3, 4, 5]);
    assert.equal(await gaps(server, 'repaired'), 1);
    assert.equal(await metric(server, 'roomcast_edge_repaired_items_total'), 3);
  } finally {
    viewer.close();
    await server.close();
  }
});

test('stream gaps - a lost last frame, with none after it, is found by the periodic check', async () => {
  const { server, viewer, host, hostMeeting, advance } = await setup();
  try {
    await host(1);
    await viewer.waitUntil(() => seqsOf(viewer).length === 1);
    await hostMeeting('drop', 2);
    // Nothing shows the hole yet.
    await expectSeqs(viewer, [1]);
    advance(RECHECK_MS);
    await expectSeqs(viewer, [1, 2]);
    assert.equal(await gaps(server, 'repaired'), 1);
  } finally {
    viewer.close();
    await server.close();
  }
});

test('stream gaps - a frame lost while a repair reads the log, with none after it, is found when the resubscribe check waits for that repair', async () => {
  const { server, viewer, host, hostMeeting, lossy, gated } = await setup();
  try {
    await host(1);
    await viewer.waitUntil(() => seqsOf(viewer).length === 1);
    await hostMeeting('drop', 2);
    // Frame 3 shows the hole; its repair's read waits at the gate.
    gated.hold();
    await host(3);
    await waitUntil(() => gated.waited === 1, 5000, 'the repair reading');
    // Meanwhile the bus loses the last frame and resubscribes: the check
    // that finds such a frame comes while the repair still runs.
    await hostMeeting('drop', 4);
    lossy.resubscribed();
    await new Promise((resolve) => setTimeout(resolve, 50));
    gated.release();
    // No later frame and no periodic check (the clock stands still): only
    // the check the resubscribe asked for can bring 4.
    await expectSeqs(viewer, [1, 2, 3, 4]);
    assert.equal(await gaps(server, 'repaired'), 2);
  } finally {
    viewer.close();
    await server.close();
  }
});

test('stream gaps - a frame that comes twice reaches viewers once', async () => {
  const { server, viewer, host, hostMeeting } = await setup();
  try {
    await host(1);
    await hostMeeting('double', 2);
    await host(3);
    await expectSeqs(viewer, [1, 2, 3]);
    assert.equal(
      await metric(server, 'roomcast_edge_repeated_frames_total'),
      1,
    );
    assert.equal(await gaps(server, 'repaired'), 0);
  } finally {
    viewer.close();
    await server.close();
  }
});

test('stream gaps - a hole the log no longer keeps closes the room with stream_gap, and a resume says reload', async () => {
  const { server, viewer, host, hostMeeting } = await setup({
    historyMaxItems: 3,
  });
  const other = await TestViewer.connect(
    `${server.edgeUrl}?token=${await server.token('gaps', 'other')}`,
  );
  try {
    await host(1);
    await viewer.waitUntil(() => seqsOf(viewer).length === 1);
    for (let n = 2; n <= 6; n++) {
      await hostMeeting('drop', n);
    }

    await host(7);
    await viewer.waitUntil(() => viewer.closeCode !== undefined, 5000);
    const closed = await viewer.closed;
    assert.deepEqual(closed, { code: 4011, reason: 'stream_gap' });
    assert.equal((await other.closed).code, 4011);
    assert.equal(await gaps(server, 'failed'), 1);

    // The client does what the code advises: resume from its last seq.
    const resumed = await TestViewer.connect(
      `${server.edgeUrl}?token=${await server.token('gaps', 'watcher')}&resume=1`,
    );
    const reload = await resumed.waitFor((frame) => frame.t === 'control');
    assert.equal(reload['reason'], 'reload');
    assert.equal(reload['seq'], 7);
    resumed.close();
  } finally {
    viewer.close();
    other.close();
    await server.close();
  }
});

test('stream gaps - a hole trimmed from the history entirely is not passed on silently: stream_gap', async () => {
  // The history keeps one item: when the frame after the hole arrives,
  // nothing of the hole is left to read.
  const { server, viewer, host, hostMeeting } = await setup({
    historyMaxItems: 1,
  });
  try {
    await host(1);
    await viewer.waitUntil(() => seqsOf(viewer).length === 1);
    await hostMeeting('drop', 2);
    await host(3);
    await viewer.waitUntil(() => viewer.closeCode !== undefined, 5000);
    assert.deepEqual(await viewer.closed, { code: 4011, reason: 'stream_gap' });
    assert.deepEqual(seqsOf(viewer), [1], 'seq 3 did not go out past the hole');
    assert.equal(await gaps(server, 'failed'), 1);
  } finally {
    viewer.close();
    await server.close();
  }
});
