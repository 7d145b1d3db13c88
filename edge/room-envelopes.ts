/**
 * What a room's shard sends its edges over the bus, one envelope at a
 * time, in the order it arrives: frames for every viewer (checked for
 * seqs the bus lost, then paced), frames for one user's sockets, a room's
 * close, a kick, and a new owner's request for this edge's members.
 */
import type { WebSocket } from 'uWebSockets.js';
import type { CloseCodeName } from '../protocol/index.js';
import { decodeOutbound } from '../room-shard/index.js';
import type { EdgeMetrics } from './edge-metrics.js';
import type { LocalRoom } from './local-room.js';
import type { RoomFrames } from './room-frames.js';
import type { StreamGaps } from './stream-gaps.js';
import type { Viewer } from './viewer.js';

export interface RoomEnvelopesOptions {
  gaps: Pick<StreamGaps, 'admit'>;
  frames: Pick<RoomFrames, 'receive' | 'flush'>;
  metrics: EdgeMetrics;
  close(ws: WebSocket<Viewer>, name: CloseCodeName): void;
  /** Answers a new owner's `resync` with the room's members here. */
  resync(room: LocalRoom): void;
}

export class RoomEnvelopes {
  #options: RoomEnvelopesOptions;

  constructor(options: RoomEnvelopesOptions) {
    this.#options = options;
  }

  /** One envelope from the room's shard, as the bus delivered it. */
  receive(room: LocalRoom, payload: Buffer): void {
    if (room.waiting !== undefined) {
      // Reliable items the bus lost are being read back; see stream-gaps.ts.
      room.waiting.push(payload);
      return;
    }

    const envelope = decodeOutbound(payload);
    if (envelope === undefined) {
      return;
    }

    const { frames, metrics } = this.#options;
    if (envelope[0] !== 'frame') {
      // Whatever the shard sends next comes after the frames held so far.
      frames.flush(room);
    }

    switch (envelope[0]) {
      case 'frame': {
        const [
          ,
          maxSeq,
          viewers,
          full,
          reliableOnly,
          lossyCount,
          presence,
          firstSeq,
          prevSeq,
        ] = envelope;
        const frame = this.#options.gaps.admit(
          room,
          {
            maxSeq,
            viewers,
            full,
            reliableOnly,
            lossyCount,
            presenceOnly: presence === true,
          },
          typeof firstSeq === 'number' ? firstSeq : 0,
          typeof prevSeq === 'number' ? prevSeq : undefined,
          payload,
        );
        if (frame !== undefined) {
          frames.receive(room, frame);
        }

        return;
      }

      case 'user': {
        const [, userId, frame] = envelope;
        for (const ws of room.socketsOf(userId)) {
          ws.send(frame, true);
          metrics.framesSent.inc({ lane: 'direct' });
        }

        return;
      }

      case 'close': {
        const [, frame, codeName] = envelope;
        room.closed = true;
        for (const ws of room.allSockets()) {
          ws.send(frame, true);
          this.#options.close(ws, codeName);
        }

        return;
      }

      case 'kick': {
        const [, userId, frame, codeName] = envelope;
        for (const ws of room.socketsOf(userId)) {
          ws.send(frame, true);
          this.#options.close(ws, codeName);
        }

        return;
      }

      case 'resync':
        this.#options.resync(room);
        return;
    }
  }
}
