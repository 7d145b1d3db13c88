export { RoomShard, busOutlet } from './shard.js';
export type { ClaimOptions, RoomShardOptions, RoomOutlet } from './shard.js';
export type { RestrictionSource } from './room-restrictions.js';
export {
  encodeEnvelope,
  decodeInbound,
  decodeOutbound,
  kickEnvelope,
  roomClosedEnvelope,
} from './envelopes.js';
export type {
  InboundEnvelope,
  OutboundEnvelope,
  MemberJoin,
} from './envelopes.js';
export { MemberList } from './members.js';
export { ShardQueryClient, answerQuery } from './queries.js';
export type {
  MemberInfo,
  MemberPage,
  RoomStats,
  ShardQuery,
} from './queries.js';
