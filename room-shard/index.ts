export { RoomShard, busOutlet } from './shard.js';
export type { RoomShardOptions, RoomOutlet } from './shard.js';
export { encodeEnvelope, decodeInbound, decodeOutbound } from './envelopes.js';
export type {
  InboundEnvelope,
  OutboundEnvelope,
  MemberJoin,
} from './envelopes.js';
export { MemberList } from './members.js';
