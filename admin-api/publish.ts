/**
 * Publishing one message to one room, shared by the messages route, the
 * scheduled-message job and broadcasts. Reliable types (built-in and the
 * room's reliable custom types) are appended to the reliable log, which
 * assigns the seq; lossy ones go to the owning shard on the bus.
 */
import { channels } from '../bus/index.js';
import type { EngineInput } from '../priority/index.js';
import {
  MAX_CHAT_TEXT_LENGTH,
  RELIABLE_TYPES,
  type Sender,
} from '../protocol/index.js';
import { encodeEnvelope } from '../room-shard/index.js';
import {
  roomKey,
  type RoomSettings,
  type RoomStatus,
} from '../room-directory/index.js';
import { ApiError } from './errors.js';
import type { AdminContext } from './context.js';

const RELIABLE = new Set<string>(RELIABLE_TYPES);
const LOSSY_BUILT_IN = new Set(['chat', 'like', 'join']);
/** Most likes one admin publish may add. */
const MAX_LIKES_PER_PUBLISH = 1_000_000;

export interface MessageInput {
  type: string;
  from?: Sender | undefined;
  data?: unknown;
}

export interface Published {
  id: string;
  seq?: number;
}

/** Throws `unknown_message_type` unless the room knows the type. */
export function checkType(settings: RoomSettings, type: string): void {
  if (
    RELIABLE.has(type) ||
    LOSSY_BUILT_IN.has(type) ||
    settings.customTypes?.[type] !== undefined
  ) {
    return;
  }

  throw new ApiError(
    'unknown_message_type',
    `type ${type} is neither built in nor one of the room's custom types`,
  );
}

export interface PublishOptions {
  /** Default: a new id. */
  messageId?: string;
  /**
   * Jobs that may run twice name their effect here: a reliable message
   * whose dedupe key was already appended to the room is not appended
   * again, and the answer carries the first append's id and seq. Lossy
   * messages ignore it (the lossy lane is at most once anyway).
   */
  dedupeKey?: string;
}

export async function publishMessage(
  context: AdminContext,
  room: RoomStatus,
  message: MessageInput,
  options: PublishOptions = {},
): Promise<Published> {
  const messageId = options.messageId ?? context.ids.next();
  checkDataDepth(message.data);
  checkType(room.settings, message.type);
  const key = roomKey(room.tenant, room.id);
  const ts = context.clock();
  const custom = room.settings.customTypes?.[message.type];
  if (RELIABLE.has(message.type) || custom?.class === 'reliable') {
    const draft = {
      type: message.type,
      id: messageId,
      ts,
      ...(message.from === undefined ? {} : { from: message.from }),
      ...(message.data === undefined ? {} : { data: message.data }),
    };
    const item =
      options.dedupeKey === undefined
        ? await context.log.append(key, draft)
        : (
            await context.log.appendOnce(key, draft, {
              dedupeKey: options.dedupeKey,
            })
          ).item;
    return { id: item.id, seq: item.seq };
  }

  const input: EngineInput =
    custom === undefined
      ? lossyInput(message, messageId, ts)
      : {
          type: message.type,
          id: messageId,
          ts,
          ...(message.from === undefined ? {} : { from: message.from }),
          ...(message.data === undefined ? {} : { data: message.data }),
        };
  context.bus.publish(channels.roomIn(key), encodeEnvelope(['input', [input]]));
  return { id: messageId };
}

/** Checks what the schema cannot: fields that depend on the type. */
export function lossyInput(
  message: MessageInput,
  id: string,
  ts: number,
): EngineInput {
  const { type, from, data } = message;
  const fields = (
    typeof data === 'object' && data !== null ? data : {}
  ) as Record<string, unknown>;
  switch (type) {
    case 'chat': {
      const text = fields['text'];
      if (typeof text !== 'string' || text.trim() === '') {
        throw new ApiError(
          'invalid_request',
          'chat needs data.text, a non-empty string',
        );
      }

      if (text.length > MAX_CHAT_TEXT_LENGTH) {
        throw new ApiError(
          'invalid_request',
          `chat text is limited to ${MAX_CHAT_TEXT_LENGTH} characters`,
        );
      }

      if (from === undefined) {
        throw new ApiError('invalid_request', 'chat needs from: {id, name}');
      }

      return { type, id, ts, from, text };
    }

    case 'like': {
      const count = fields['count'] ?? 1;
      if (
        !Number.isInteger(count) ||
        (count as number) < 1 ||
        (count as number) > MAX_LIKES_PER_PUBLISH
      ) {
        throw new ApiError(
          'invalid_request',
          `data.count must be an integer from 1 to ${MAX_LIKES_PER_PUBLISH}`,
        );
      }

      return {
        type,
        ts,
        from: from ?? { id: 'platform' },
        count: count as number,
      };
    }

    default: {
      if (from === undefined) {
        throw new ApiError('invalid_request', 'join needs from: {id, name}');
      }

      return { type, ts, from };
    }
  }
}

/** How deep `data` may nest: frames are msgpack, and encoders recurse. */
export const MAX_DATA_DEPTH = 32;

/**
 * Refuses `data` that nests deeper than {@link MAX_DATA_DEPTH}. A small body
 * can nest thousands of levels; encoding it later on the fan-out path would
 * overflow the stack, so it is refused here, at the door.
 */
export function checkDataDepth(data: unknown): void {
  const stack: [unknown, number][] = [[data, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (typeof value !== 'object' || value === null) {
      continue;
    }

    if (depth > MAX_DATA_DEPTH) {
      throw new ApiError(
        'invalid_request',
        `data nests deeper than ${MAX_DATA_DEPTH} levels`,
      );
    }

    for (const child of Object.values(value)) {
      stack.push([child, depth + 1]);
    }
  }
}

/** Checks a message before it is queued, so a scheduled one cannot fail later. */
export function validateMessage(
  settings: RoomSettings,
  message: MessageInput,
): void {
  checkType(settings, message.type);
  checkDataDepth(message.data);
  if (LOSSY_BUILT_IN.has(message.type)) {
    lossyInput(message, '0', 0);
  }
}
