export {
  encodeFrame,
  encodeValue,
  decodeValue,
  decodeClientFrame,
  MAX_CHAT_TEXT_LENGTH,
  MAX_LIKES_PER_FRAME,
} from './codec.js';
export type { DecodeResult } from './codec.js';
export { CloseCodes, closeCodeByNumber } from './close-codes.js';
export type {
  CloseCode,
  CloseCodeName,
  ReconnectAdvice,
} from './close-codes.js';
export { RELIABLE_TYPES, LOSSY_TYPES } from './frames.js';
export type * from './frames.js';
