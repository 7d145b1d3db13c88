/**
 * Frame codec. Encoding is standard msgpack only (no records, no msgpackr
 * extensions, undefined as nil) so any msgpack library can read what we send.
 *
 * Client frames are hostile until proven otherwise: the size is checked
 * before any decoding, the first byte must open a map (a frame is always a
 * map), the decoder's own errors (truncated data, absurd length headers,
 * unknown extensions, runaway nesting) are caught, and the decoded value is
 * then checked field by field. msgpackr renames `__proto__` keys, and only
 * the fields we read are copied into a fresh object, so nothing a client
 * sends reaches a prototype.
 */
import { Packr, Unpackr } from 'msgpackr';
import type { ClientFrame, ServerFrame, ViewerErrorCode } from './frames.js';

const packr = new Packr({
  useRecords: false,
  variableMapSize: true,
  encodeUndefinedAsNil: true,
});

const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: 'number',
});

/** Longest chat text a viewer may send, in UTF-16 code units. */
export const MAX_CHAT_TEXT_LENGTH = 500;
/** Most likes one `like` frame may carry. */
export const MAX_LIKES_PER_FRAME = 100;

export function encodeFrame(frame: ServerFrame): Buffer {
  return packr.pack(frame);
}

/** Encodes any msgpack-safe value; used for bus envelopes. */
export function encodeValue(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes trusted msgpack (our own frames and envelopes). */
export function decodeValue(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}

export type DecodeResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: ViewerErrorCode; message: string };

function fail(code: ViewerErrorCode, message: string): DecodeResult {
  return { ok: false, code, message };
}

function isMapHeader(byte: number): boolean {
  return (byte >= 0x80 && byte <= 0x8f) || byte === 0xde || byte === 0xdf;
}

function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * Decodes and validates one frame from a viewer. Never throws.
 * @param maxBytes frames longer than this are refused undecoded
 */
export function decodeClientFrame(
  bytes: Uint8Array,
  maxBytes: number,
): DecodeResult {
  if (bytes.byteLength > maxBytes) {
    return fail('frame_too_large', `frame exceeds ${maxBytes} bytes`);
  }

  if (bytes.byteLength === 0 || !isMapHeader(bytes[0] as number)) {
    return fail('bad_frame', 'a frame must be a msgpack map');
  }

  let value: unknown;
  try {
    value = unpackr.unpack(bytes);
  } catch {
    return fail('bad_frame', 'frame is not valid msgpack');
  }

  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('bad_frame', 'a frame must be a msgpack map');
  }

  const fields = value as Record<string, unknown>;
  switch (fields['t']) {
    case 'chat': {
      const text = fields['text'];
      if (typeof text !== 'string' || text.trim().length === 0) {
        return fail('bad_frame', 'chat needs a non-empty string text');
      }

      if (text.length > MAX_CHAT_TEXT_LENGTH) {
        return fail(
          'text_too_long',
          `chat text is limited to ${MAX_CHAT_TEXT_LENGTH} characters`,
        );
      }

      return { ok: true, frame: { t: 'chat', text } };
    }

    case 'like': {
      const count = fields['count'] ?? 1;
      if (
        !Number.isInteger(count) ||
        (count as number) < 1 ||
        (count as number) > MAX_LIKES_PER_FRAME
      ) {
        return fail(
          'bad_frame',
          `like count must be an integer from 1 to ${MAX_LIKES_PER_FRAME}`,
        );
      }

      return { ok: true, frame: { t: 'like', count: count as number } };
    }

    case 'ack':
    case 'resume': {
      const seq = fields['seq'];
      if (!isSeq(seq)) {
        return fail(
          'bad_frame',
          `${fields['t']} needs a seq: an integer from 0 to ${Number.MAX_SAFE_INTEGER}`,
        );
      }

      return { ok: true, frame: { t: fields['t'], seq } };
    }

    case 'ping':
      return { ok: true, frame: { t: 'ping' } };
    default:
      if (typeof fields['t'] !== 'string') {
        return fail('bad_frame', 'a frame needs a string field t');
      }

      return fail('unknown_type', 'unknown frame type');
  }
}
