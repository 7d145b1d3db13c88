import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { MsgpackError, decode, encode } from './msgpack.js';

// The server's encoder settings (protocol/codec.ts) and a plain decoder.
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

const wireValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }),
    fc.maxSafeInteger(),
    // -0 travels as the integer 0 in both encoders.
    fc
      .double({ noNaN: true, noDefaultInfinity: true })
      .filter((number) => !Object.is(number, -0)),
    fc.string({ unit: 'binary' }),
    fc.string({ minLength: 30, maxLength: 70_000 }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(
      fc.string().filter((key) => key !== '__proto__'),
      tie('value'),
      { maxKeys: 20, noNullPrototype: true },
    ),
  ),
})).value;

test('msgpack - decodes whatever the server encoder produces', () => {
  fc.assert(
    fc.property(wireValue, (value) => {
      assert.deepEqual(decode(packr.pack(value)), value);
    }),
    { numRuns: 500 },
  );
});

test('msgpack - encodes what a standard decoder reads back', () => {
  fc.assert(
    fc.property(wireValue, (value) => {
      assert.deepEqual(unpackr.unpack(encode(value)), value);
    }),
    { numRuns: 500 },
  );
});

test('msgpack - a real batch frame decodes to plain objects', () => {
  const frame = {
    t: 'batch',
    room: 'r1',
    items: [
      { type: 'gift', id: '387285317876981760', seq: 7, seqs: [7, 8, 9] },
      { type: 'likes', count: 300, total: 70_000, names: ['Ana'] },
      { type: 'chat', text: 'é'.repeat(200), from: { id: 'u'.repeat(70_000) } },
    ],
  };
  const decoded = decode(packr.pack(frame));
  assert.deepEqual(decoded, frame);
  assert.deepEqual(unpackr.unpack(encode(frame)), frame);
  assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
});

test('msgpack - bad input throws MsgpackError and never pollutes prototypes', () => {
  const bad = [
    Uint8Array.of(),
    Uint8Array.of(0x92, 0x01),
    Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff),
    Uint8Array.of(0xdf, 0xff, 0xff, 0xff, 0xff),
    Uint8Array.of(0xd4, 0x01, 0x02),
    Uint8Array.of(0xc1),
    Uint8Array.of(0x01, 0x02),
    new Uint8Array(200).fill(0x91),
  ];
  for (const bytes of bad) {
    assert.throws(() => decode(bytes), MsgpackError);
  }

  const proto = decode(
    Uint8Array.of(
      0x82,
      0xa9,
      ...new TextEncoder().encode('__proto__'),
      0x81,
      0xa5,
      ...new TextEncoder().encode('owned'),
      0xc3,
      0xa1,
      0x74,
      0x01,
    ),
  );
  assert.deepEqual(proto, { t: 1 });
  assert.equal(({} as Record<string, unknown>)['owned'], undefined);
  assert.throws(() => encode(Number.NaN), MsgpackError);
  assert.throws(() => encode(() => 1), MsgpackError);
});
