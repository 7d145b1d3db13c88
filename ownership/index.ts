export { ownerOf } from './rendezvous.js';
export { Presence } from './presence.js';
export type { Beat } from './presence.js';
export { RoomLeases } from './room-leases.js';
export type { OutletRefusal, RoomLeasesOptions } from './room-leases.js';
export { Placement } from './placement.js';
export type { PlacementOptions } from './placement.js';
