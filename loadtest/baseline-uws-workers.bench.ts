/**
 * The multi-process uws baseline's channel: what one tick's IPC message of
 * encoded frames costs the primary, against encoding those frames (the work
 * the primary does per tick anyway), and how long it takes to reach a
 * worker. Swept over 1, 100 and 1,000 rooms, at the tick's 10 messages per
 * second. `npm run bench -- baseline-uws-workers`.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { encodeFrame, type BatchFrame } from '../protocol/index.js';

const TICKS = 50;
const TICK_MS = 100;

interface Tick {
  sentMs: number;
  frames: { room: string; seq: number; bytes: Uint8Array }[];
}

if (process.argv[2] === 'worker') {
  process.on('message', (tick: Tick) => {
    process.send?.(Date.now() - tick.sentMs);
  });
} else {
  for (const rooms of [1, 100, 1000]) {
    const worker = fork(fileURLToPath(import.meta.url), ['worker'], {
      serialization: 'advanced',
    });
    const latenciesMs: number[] = [];
    worker.on('message', (latencyMs: number) => latenciesMs.push(latencyMs));
    const batches: BatchFrame[] = Array.from({ length: rooms }, (_, r) => ({
      t: 'batch',
      room: `room-${r}`,
      items: Array.from({ length: 5 }, (_, i) => ({
        type: 'gift',
        id: String(i),
        seq: i,
        ts: Date.now(),
        data: { sku: 'rose', count: 1, note: 'x'.repeat(60) },
      })),
    }));
    let encodeNs = 0n;
    let sendNs = 0n;
    for (let tick = 0; tick < TICKS; tick++) {
      const encodeStart = process.hrtime.bigint();
      const frames = batches.map((batch, seq) => ({
        room: batch.room,
        seq,
        bytes: encodeFrame(batch),
      }));
      const sendStart = process.hrtime.bigint();
      worker.send({ sentMs: Date.now(), frames } satisfies Tick);
      const sendEnd = process.hrtime.bigint();
      // The first ticks wait for the worker to start; they time nothing.
      if (tick >= 5) {
        encodeNs += sendStart - encodeStart;
        sendNs += sendEnd - sendStart;
      }

      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }

    const timed = latenciesMs.slice(5).sort((a, b) => a - b);
    const measured = BigInt(TICKS - 5);
    console.log(
      `rooms ${rooms}: encode ${Number(encodeNs / measured) / 1e3} us/tick, ` +
        `ipc send ${Number(sendNs / measured) / 1e3} us/tick ` +
        `(send/encode x${(Number(sendNs) / Number(encodeNs)).toFixed(2)}), ` +
        `to the worker p50 ${timed[timed.length >> 1]} ms, max ${timed.at(-1)} ms`,
    );
    worker.kill();
  }
}
