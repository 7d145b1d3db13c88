/**
 * What travels on the bus between edges, the admin API and shards. Envelopes
 * are msgpack arrays whose first element names the kind; frames inside them
 * are already-encoded viewer frames that edges forward without decoding.
 *
 * Into a shard (`channels.roomIn`):
 * - `['input', EngineInput[]]`: viewers' chat and likes batched per tick by an
 *   edge, or lossy messages published through the admin API;
 * - `['members', edgeId, joins: [userId, name, role][], leaves: userId[]]`;
 * - `['snapshot', edgeId, members: [userId, name, role][], answer?]`: every
 *   user the edge holds in the room, replacing all it reported before;
 *   `answer` is true when it answers a new owner's `resync` (false or absent
 *   when the edge resends its members after being out of touch);
 * - `['close']`: the room was closed; flush and tell the viewers;
 * - `['load', edgeId, backpressure]`: the share (0..1) of the edge's viewers
 *   of the room whose send buffers are backed up, sent about once a second;
 * - `['kick', userId, reason, closeCodeName, untilMs?]` (admin API): tell the
 *   user's sockets `control {reason}` and close them with that code (`kicked`
 *   or `banned`); a ban carries its end (epoch ms, or null for none) so the
 *   shard kicks the user again if an edge reports them back;
 * - `['unban', userId]` (admin API): the ban was lifted;
 * - `['mute', userId, untilMs | null]`, `['unmute', userId]` (admin API): drop
 *   (and count) the user's chat until then, answering them `error muted`;
 * - `['settings', RoomSettings]` (admin API): the room's settings changed;
 * - `['query', replyChannel, requestId, ShardQuery]` (admin API in a fleet):
 *   answer on `replyChannel` with `['answer', requestId, answer]`
 *   (queries.ts).
 *
 * Out of a shard (`channels.roomOut`):
 * - `['frame', maxSeq, viewers, full, reliableOnly, lossyCount, presenceOnly,
 *   firstSeq, prevSeq]`: one tick's batch; `full` for viewers on both lanes,
 *   `reliableOnly` (or nil when the tick had no reliable items, or `true`
 *   when it equals `full`) for degraded viewers; `maxSeq` and `firstSeq` are
 *   the highest and lowest reliable seq in the frame (0 when none),
 *   `lossyCount` how many lossy items only `full` carries, and
 *   `presenceOnly` true when every item is a `viewers` or `joins` aggregate
 *   (an edge may hold and merge such frames). `prevSeq` is the highest
 *   reliable seq the room had published before this frame: an edge that
 *   received less knows the bus lost frames, and which seqs
 *   (edge/stream-gaps.ts). `firstSeq` is normally `prevSeq + 1`; it is
 *   larger only when the shard skipped items already trimmed from the
 *   history, which no edge can get either. Frames of earlier versions lack
 *   `prevSeq` (the edge then takes `firstSeq - 1`) or both (no check);
 * - `['user', userId, frame]`: a frame for one user only (chat echo);
 * - `['close', frame, closeCodeName]`: send the frame, then close every socket;
 * - `['kick', userId, frame, closeCodeName]`: the same for one user's sockets;
 * - `['resync']`: a shard just took the room over and knows no members yet;
 *   every edge holding the room answers with a `snapshot` (`answer` true).
 */
import { decodeValue, encodeFrame, encodeValue } from '../protocol/index.js';
import type {
  CloseCodeName,
  ControlFrame,
  ViewerRole,
} from '../protocol/index.js';
import type { EngineInput } from '../priority/index.js';
import type { RoomSettings } from '../room-directory/index.js';
import type { ShardQuery } from './queries.js';

export type MemberJoin = [userId: string, name: string, role: ViewerRole];

export type InboundEnvelope =
  | ['input', EngineInput[]]
  | ['members', string, MemberJoin[], string[]]
  | ['snapshot', string, MemberJoin[], boolean?]
  | ['close']
  | ['load', string, number]
  | ['kick', string, string, 'kicked' | 'banned', (number | null)?]
  | ['unban', string]
  | ['mute', string, number | null]
  | ['unmute', string]
  | ['settings', RoomSettings]
  | ['query', string, string, ShardQuery];

export type OutboundEnvelope =
  | [
      'frame',
      number,
      number,
      Buffer,
      Buffer | true | null,
      number,
      boolean,
      number?,
      number?,
    ]
  | ['user', string, Buffer]
  | ['close', Buffer, CloseCodeName]
  | ['kick', string, Buffer, CloseCodeName]
  | ['resync'];

export function encodeEnvelope(
  envelope: InboundEnvelope | OutboundEnvelope,
): Buffer {
  return encodeValue(envelope);
}

/** Decodes an envelope from the bus; undefined when it is not one. */
export function decodeInbound(payload: Buffer): InboundEnvelope | undefined {
  const value = safeDecode(payload);
  if (!Array.isArray(value)) {
    return undefined;
  }

  switch (value[0]) {
    case 'input':
      return Array.isArray(value[1]) ? (value as InboundEnvelope) : undefined;
    case 'members':
      return typeof value[1] === 'string' &&
        Array.isArray(value[2]) &&
        Array.isArray(value[3])
        ? (value as InboundEnvelope)
        : undefined;
    case 'snapshot':
      return typeof value[1] === 'string' &&
        Array.isArray(value[2]) &&
        (value[3] === undefined || typeof value[3] === 'boolean')
        ? (value as InboundEnvelope)
        : undefined;
    case 'close':
      return ['close'];
    case 'load':
      return typeof value[1] === 'string' &&
        typeof value[2] === 'number' &&
        value[2] >= 0 &&
        value[2] <= 1
        ? (value as InboundEnvelope)
        : undefined;
    case 'kick':
      return typeof value[1] === 'string' &&
        typeof value[2] === 'string' &&
        (value[3] === 'kicked' || value[3] === 'banned') &&
        (value[4] === undefined ||
          value[4] === null ||
          typeof value[4] === 'number')
        ? (value as InboundEnvelope)
        : undefined;
    case 'mute':
      return typeof value[1] === 'string' &&
        (value[2] === null || typeof value[2] === 'number')
        ? (value as InboundEnvelope)
        : undefined;
    case 'unmute':
    case 'unban':
      return typeof value[1] === 'string'
        ? (value as InboundEnvelope)
        : undefined;
    case 'settings':
      return typeof value[1] === 'object' && value[1] !== null
        ? (value as InboundEnvelope)
        : undefined;
    case 'query':
      return typeof value[1] === 'string' &&
        typeof value[2] === 'string' &&
        isQuery(value[3])
        ? (value as InboundEnvelope)
        : undefined;
    default:
      return undefined;
  }
}

export function decodeOutbound(payload: Buffer): OutboundEnvelope | undefined {
  const value = safeDecode(payload);
  if (!Array.isArray(value)) {
    return undefined;
  }

  switch (value[0]) {
    case 'frame':
      return typeof value[1] === 'number' && Buffer.isBuffer(value[3])
        ? (value as OutboundEnvelope)
        : undefined;
    case 'user':
      return typeof value[1] === 'string' && Buffer.isBuffer(value[2])
        ? (value as OutboundEnvelope)
        : undefined;
    case 'close':
      return Buffer.isBuffer(value[1])
        ? (value as OutboundEnvelope)
        : undefined;
    case 'kick':
      return typeof value[1] === 'string' && Buffer.isBuffer(value[2])
        ? (value as OutboundEnvelope)
        : undefined;
    case 'resync':
      return ['resync'];
    default:
      return undefined;
  }
}

function isQuery(value: unknown): value is ShardQuery {
  if (!Array.isArray(value)) {
    return false;
  }

  switch (value[0]) {
    case 'page':
      return (
        typeof value[1] === 'string' &&
        Number.isInteger(value[2]) &&
        (value[2] as number) > 0
      );
    case 'get':
      return typeof value[1] === 'string';
    default:
      return value[0] === 'stats' && value.length === 1;
  }
}

function safeDecode(payload: Buffer): unknown {
  try {
    return decodeValue(payload);
  } catch {
    return undefined;
  }
}

/**
 * Out to edges: close the user's sockets with `codeName` after a control
 * frame that carries the platform's reason. The admin API sends it itself,
 * so a kick or ban reaches the viewer whether or not a shard owns the room.
 */
export function kickEnvelope(
  userId: string,
  reason: string,
  codeName: 'kicked' | 'banned',
): Buffer {
  const control: ControlFrame = {
    t: 'control',
    reason: codeName,
    message: reason,
  };
  return encodeEnvelope(['kick', userId, encodeFrame(control), codeName]);
}

/** Out to edges: tell every viewer the room closed, then close them. */
export function roomClosedEnvelope(): Buffer {
  const control: ControlFrame = {
    t: 'control',
    reason: 'room_closed',
    message: 'the room was closed',
  };
  return encodeEnvelope(['close', encodeFrame(control), 'roomClosed']);
}
