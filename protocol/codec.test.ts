import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { decodeClientFrame, encodeFrame, decodeValue } from './index.js';
import { PROTO_POLLUTION_FRAME } from '../test/hostile-frames.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const MAX = 4096;

function refused(bytes: Uint8Array) {
  const result = decodeClientFrame(bytes, MAX);
  assert.equal(result.ok, false);
  return result.ok ? undefined : result.code;
}

test('codec - valid client frames decode into exactly their fields', () => {
  assert.deepEqual(
    decodeClientFrame(packr.pack({ t: 'chat', text: 'hi', x: 1 }), MAX),
    {
      ok: true,
      frame: { t: 'chat', text: 'hi' },
    },
  );
  assert.deepEqual(decodeClientFrame(packr.pack({ t: 'like' }), MAX), {
    ok: true,
    frame: { t: 'like', count: 1 },
  });
  assert.deepEqual(
    decodeClientFrame(packr.pack({ t: 'resume', seq: 12 }), MAX),
    {
      ok: true,
      frame: { t: 'resume', seq: 12 },
    },
  );
});

test('codec - hostile msgpack (case C5) is refused without touching Object.prototype', () => {
  assert.equal(refused(Buffer.from([0xd4, 0x70, 0x01])), 'bad_frame');
  assert.equal(
    refused(
      Buffer.concat([
        Buffer.from([0x81, 0xa1, 0x74]),
        Buffer.from([0xc7, 0x03, 0x70, 1, 2, 3]),
      ]),
    ),
    'bad_frame',
  );
  assert.equal(refused(Buffer.alloc(24_000, 0x91)), 'frame_too_large');
  assert.equal(
    decodeClientFrame(Buffer.alloc(24_000, 0x91), 100_000).ok,
    false,
  );
  const deepMap = Buffer.concat([
    Buffer.alloc(4000, 0x81).fill(0xa0, 1, 2),
    Buffer.from([0xc0]),
  ]);
  assert.equal(decodeClientFrame(deepMap, 100_000).ok, false);
  assert.equal(
    refused(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])),
    'bad_frame',
  );
  assert.equal(
    refused(Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff])),
    'bad_frame',
  );
  const proto = PROTO_POLLUTION_FRAME;
  const result = decodeClientFrame(proto, MAX);
  assert.equal(result.ok, false);
  assert.equal(({} as Record<string, unknown>)['admin'], undefined);
  assert.equal(({} as Record<string, unknown>)['owned'], undefined);
  assert.equal(refused(Buffer.alloc(MAX + 1, 0x80)), 'frame_too_large');
  assert.equal(refused(packr.pack([1, 2, 3])), 'bad_frame');
  assert.equal(refused(packr.pack('chat')), 'bad_frame');
  assert.equal(refused(packr.pack({ t: 'dance' })), 'unknown_type');
  assert.equal(refused(packr.pack({ text: 'no type' })), 'bad_frame');
  assert.equal(refused(Buffer.alloc(0)), 'bad_frame');
  assert.equal(refused(Buffer.from([0x81, 0xa1])), 'bad_frame');
});

test('codec - field checks refuse wrong types and out-of-range values', () => {
  assert.equal(refused(packr.pack({ t: 'chat', text: '' })), 'bad_frame');
  assert.equal(refused(packr.pack({ t: 'chat', text: 5 })), 'bad_frame');
  assert.equal(
    refused(packr.pack({ t: 'chat', text: 'x'.repeat(501) })),
    'text_too_long',
  );
  assert.equal(refused(packr.pack({ t: 'like', count: 0 })), 'bad_frame');
  assert.equal(refused(packr.pack({ t: 'like', count: 101 })), 'bad_frame');
  assert.equal(refused(packr.pack({ t: 'like', count: 1.5 })), 'bad_frame');
  assert.equal(refused(packr.pack({ t: 'ack', seq: -1 })), 'bad_frame');
  assert.equal(refused(packr.pack({ t: 'resume' })), 'bad_frame');
});

test('codec - server frames are plain msgpack maps with no msgpackr extensions', () => {
  const bytes = encodeFrame({
    t: 'batch',
    room: 'r',
    items: [{ type: 'likes', count: 2, total: 9 }],
  });
  assert.equal(bytes[0], 0x83);
  assert.ok(!bytes.includes(0xd4) && !bytes.includes(0xc7), 'no ext types');
  assert.deepEqual(decodeValue(bytes), {
    t: 'batch',
    room: 'r',
    items: [{ type: 'likes', count: 2, total: 9 }],
  });
});
