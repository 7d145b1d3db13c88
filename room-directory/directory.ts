/**
 * The directory knows which rooms exist, for which tenant, and their
 * settings and last reported viewer count. The admin API writes it; edges read
 * it to admit viewers; shards report viewer counts to it.
 */

/** Per-room overrides of the priority engine's defaults. */
export interface RoomSettings {
  lossyItemsPerSecond?: number;
  lossyBytesPerSecond?: number;
  /** Message types the platform registered for this room, by name. */
  customTypes?: Record<
    string,
    { class: 'reliable' | 'lossy'; priority: number }
  >;
}

export interface RoomRecord {
  tenant: string;
  id: string;
  title: string;
  /** ISO 8601. */
  createdAt: string;
  settings: RoomSettings;
  /** Close the room after this long without viewers; absent: never. */
  idleCloseSeconds?: number;
}

export interface RoomStatus extends RoomRecord {
  viewers: number;
}

export type RoomEvent =
  { kind: 'created'; room: RoomRecord } | { kind: 'closed'; room: RoomRecord };

/** Joins tenant and room id into the key used on the bus and in the log. */
export function roomKey(tenant: string, roomId: string): string {
  return `${tenant}/${roomId}`;
}

export function splitRoomKey(key: string): { tenant: string; id: string } {
  const slash = key.indexOf('/');
  return { tenant: key.slice(0, slash), id: key.slice(slash + 1) };
}

export const ROOM_ID_PATTERN = '^[A-Za-z0-9_.:-]{1,64}$';

export interface RoomDirectory {
  /** Returns false when a room with that id already exists for the tenant. */
  create(room: RoomRecord): Promise<boolean>;
  get(tenant: string, id: string): Promise<RoomStatus | undefined>;
  list(tenant: string): Promise<RoomStatus[]>;
  /**
   * Replaces a room's settings and idle-close time; resolves to the updated
   * room, or undefined when there is none.
   */
  update(
    tenant: string,
    id: string,
    change: Pick<RoomRecord, 'settings' | 'idleCloseSeconds'>,
  ): Promise<RoomStatus | undefined>;
  /** Returns the closed room, or undefined when there was none. */
  close(tenant: string, id: string): Promise<RoomRecord | undefined>;
  reportViewers(key: string, viewers: number): Promise<void>;
  /** Room lifecycle events, for placing rooms on shards. */
  onEvent(listener: (event: RoomEvent) => void): () => void;
}
