/**
 * The msgpack the SDK needs and no more: a decoder for every standard type
 * the server can send and an encoder for the client's small frames.
 *
 * Why not msgpackr: its decoder alone bundles to about 15 KB minified, its
 * encoder doubles that, and both carry record and extension machinery that
 * roomcast frames never use (the server encodes standard msgpack only). This
 * file is a few kilobytes and is tested against msgpackr's own output.
 */

/** Deepest nesting the decoder accepts; frames are at most a few levels deep. */
const MAX_DEPTH = 64;

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

export class MsgpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MsgpackError';
  }
}

class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  offset = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(length: number): number {
    const start = this.offset;
    if (start + length > this.bytes.byteLength) {
      throw new MsgpackError('truncated msgpack data');
    }

    this.offset = start + length;
    return start;
  }

  u8(): number {
    return this.view.getUint8(this.need(1));
  }

  u16(): number {
    return this.view.getUint16(this.need(2));
  }

  u32(): number {
    return this.view.getUint32(this.need(4));
  }

  str(length: number): string {
    const start = this.need(length);
    return textDecoder.decode(this.bytes.subarray(start, start + length));
  }

  bin(length: number): Uint8Array {
    const start = this.need(length);
    return this.bytes.slice(start, start + length);
  }
}

/**
 * Decodes one msgpack value. Maps become plain objects (keys as strings, a
 * `__proto__` key is dropped), 64-bit integers become numbers, bin becomes a
 * Uint8Array. Throws {@link MsgpackError} on truncated or unsupported input.
 */
export function decode(bytes: Uint8Array): unknown {
  const reader = new Reader(bytes);
  const value = read(reader, 0);
  if (reader.offset !== bytes.byteLength) {
    throw new MsgpackError('trailing bytes after the msgpack value');
  }

  return value;
}

function read(reader: Reader, depth: number): unknown {
  if (depth > MAX_DEPTH) {
    throw new MsgpackError('msgpack nesting is too deep');
  }

  const byte = reader.u8();
  if (byte <= 0x7f) {
    return byte;
  }

  if (byte >= 0xe0) {
    return byte - 0x100;
  }

  if (byte <= 0x8f) {
    return readMap(reader, byte & 0x0f, depth);
  }

  if (byte <= 0x9f) {
    return readArray(reader, byte & 0x0f, depth);
  }

  if (byte <= 0xbf) {
    return reader.str(byte & 0x1f);
  }

  const { view } = reader;
  switch (byte) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return reader.bin(reader.u8());
    case 0xc5:
      return reader.bin(reader.u16());
    case 0xc6:
      return reader.bin(reader.u32());
    case 0xca:
      return view.getFloat32(reader.need(4));
    case 0xcb:
      return view.getFloat64(reader.need(8));
    case 0xcc:
      return reader.u8();
    case 0xcd:
      return reader.u16();
    case 0xce:
      return reader.u32();
    case 0xcf:
      return Number(view.getBigUint64(reader.need(8)));
    case 0xd0:
      return view.getInt8(reader.need(1));
    case 0xd1:
      return view.getInt16(reader.need(2));
    case 0xd2:
      return view.getInt32(reader.need(4));
    case 0xd3:
      return Number(view.getBigInt64(reader.need(8)));
    case 0xd9:
      return reader.str(reader.u8());
    case 0xda:
      return reader.str(reader.u16());
    case 0xdb:
      return reader.str(reader.u32());
    case 0xdc:
      return readArray(reader, reader.u16(), depth);
    case 0xdd:
      return readArray(reader, reader.u32(), depth);
    case 0xde:
      return readMap(reader, reader.u16(), depth);
    case 0xdf:
      return readMap(reader, reader.u32(), depth);
    default:
      // 0xc1 is never used; 0xc7-0xc9 and 0xd4-0xd8 are extensions, which
      // roomcast never sends.
      throw new MsgpackError(`unsupported msgpack type 0x${byte.toString(16)}`);
  }
}

function readArray(reader: Reader, length: number, depth: number): unknown[] {
  // Every element takes at least one byte: refuse absurd headers up front.
  if (length > reader.bytes.byteLength - reader.offset) {
    throw new MsgpackError('truncated msgpack data');
  }

  const values: unknown[] = [];
  for (let index = 0; index < length; index++) {
    values.push(read(reader, depth + 1));
  }

  return values;
}

function readMap(
  reader: Reader,
  length: number,
  depth: number,
): Record<string, unknown> {
  // Every entry takes at least two bytes.
  if (length * 2 > reader.bytes.byteLength - reader.offset) {
    throw new MsgpackError('truncated msgpack data');
  }

  const map: Record<string, unknown> = {};
  for (let index = 0; index < length; index++) {
    const key = String(read(reader, depth + 1));
    const value = read(reader, depth + 1);
    if (key !== '__proto__') {
      map[key] = value;
    }
  }

  return map;
}

/**
 * Encodes a plain value: objects (undefined fields are left out), arrays,
 * strings, finite numbers, booleans and null. Enough for client frames.
 */
export function encode(value: unknown): Uint8Array {
  const out: number[] = [];
  write(out, value);
  return Uint8Array.from(out);
}

function write(out: number[], value: unknown): void {
  if (value === null || value === undefined) {
    out.push(0xc0);
  } else if (typeof value === 'boolean') {
    out.push(value ? 0xc3 : 0xc2);
  } else if (typeof value === 'number') {
    writeNumber(out, value);
  } else if (typeof value === 'string') {
    writeString(out, value);
  } else if (Array.isArray(value)) {
    writeHeader(out, value.length, 0x90, 0xdc, 0xdd);
    for (const element of value) {
      write(out, element);
    }
  } else if (typeof value === 'object') {
    const entries = Object.entries(value).filter(
      ([, field]) => field !== undefined,
    );
    writeHeader(out, entries.length, 0x80, 0xde, 0xdf);
    for (const [key, field] of entries) {
      writeString(out, key);
      write(out, field);
    }
  } else {
    throw new MsgpackError(`cannot encode a ${typeof value}`);
  }
}

function writeNumber(out: number[], value: number): void {
  if (Number.isSafeInteger(value)) {
    if (value >= 0) {
      if (value <= 0x7f) {
        out.push(value);
      } else if (value <= 0xff) {
        out.push(0xcc, value);
      } else if (value <= 0xffff) {
        out.push(0xcd, value >>> 8, value & 0xff);
      } else if (value <= 0xffffffff) {
        out.push(0xce);
        pushUint32(out, value);
      } else {
        out.push(0xcf);
        pushUint32(out, Math.floor(value / 0x1_0000_0000));
        pushUint32(out, value >>> 0);
      }

      return;
    }

    if (value >= -32) {
      out.push(value & 0xff);
      return;
    }

    if (value >= -0x8000_0000) {
      out.push(0xd2);
      pushUint32(out, value >>> 0);
      return;
    }
  }

  if (!Number.isFinite(value)) {
    throw new MsgpackError('cannot encode a non-finite number');
  }

  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value);
  out.push(0xcb, ...bytes);
}

function writeString(out: number[], value: string): void {
  const bytes = textEncoder.encode(value);
  if (bytes.length <= 31) {
    out.push(0xa0 | bytes.length);
  } else if (bytes.length <= 0xff) {
    out.push(0xd9, bytes.length);
  } else if (bytes.length <= 0xffff) {
    out.push(0xda, bytes.length >>> 8, bytes.length & 0xff);
  } else {
    out.push(0xdb);
    pushUint32(out, bytes.length);
  }

  for (const byte of bytes) {
    out.push(byte);
  }
}

function writeHeader(
  out: number[],
  length: number,
  fix: number,
  header16: number,
  header32: number,
): void {
  if (length <= 15) {
    out.push(fix | length);
  } else if (length <= 0xffff) {
    out.push(header16, length >>> 8, length & 0xff);
  } else {
    out.push(header32);
    pushUint32(out, length);
  }
}

function pushUint32(out: number[], value: number): void {
  out.push(
    (value >>> 24) & 0xff,
    (value >>> 16) & 0xff,
    (value >>> 8) & 0xff,
    value & 0xff,
  );
}
