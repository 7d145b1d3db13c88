/**
 * Frames from case C5 that more than one test throws at roomcast: a map
 * whose keys try to reach `Object.prototype` through `__proto__` and
 * `constructor.prototype`.
 */
export const PROTO_POLLUTION_FRAME = Buffer.concat([
  Buffer.from([0x83, 0xa1, 0x74, 0xa4]),
  Buffer.from('chat'),
  Buffer.from([0xa9]),
  Buffer.from('__proto__'),
  Buffer.from([0x81, 0xa5]),
  Buffer.from('admin'),
  Buffer.from([0xc3, 0xab]),
  Buffer.from('constructor'),
  Buffer.from([0x81, 0xa9]),
  Buffer.from('prototype'),
  Buffer.from([0x81, 0xa5]),
  Buffer.from('owned'),
  Buffer.from([0xc3]),
]);
