/**
 * A room's mutes and bans as its owning shard holds them. The admin API
 * stores each one before it tells the owner, so an owner that claims a room
 * (after a failover or a hand-off) reads them from the store and sends none
 * of them to waste:
 * - a muted user stays muted;
 * - a user banned while the room had no owner, whose kick reached nobody,
 *   is kicked when an edge reports them in the room.
 *
 * The read happens after the shard subscribes to the room, so a mute, unmute
 * or unban that arrives meanwhile as a message is newer than the read and
 * wins over it.
 */

/** Where a shard reads a room's active restrictions from. */
export interface RestrictionSource {
  /** user id -> end of the mute in epoch ms, or null for no end. */
  activeMutes(roomKey: string): Promise<Map<string, number | null>>;
  /** user id -> end of the ban in epoch ms, or null for no end. */
  activeBans(roomKey: string): Promise<Map<string, number | null>>;
}

type Kind = 'mute' | 'ban';

export class RoomRestrictions {
  #muted = new Map<string, number | null>();
  #banned = new Map<string, number | null>();
  /** `<kind>:<user>` named by a message since the claim; undefined once loaded. */
  #touched: Set<string> | undefined = new Set();

  get anyMuted(): boolean {
    return this.#muted.size > 0;
  }

  /** Merges the stored restrictions under what messages said meanwhile. */
  async load(source: RestrictionSource, roomKey: string): Promise<void> {
    const [mutes, bans] = await Promise.all([
      source.activeMutes(roomKey),
      source.activeBans(roomKey),
    ]);
    this.#merge('mute', this.#muted, mutes);
    this.#merge('ban', this.#banned, bans);
    this.#touched = undefined;
  }

  mute(userId: string, untilMs: number | null): void {
    this.#muted.set(userId, untilMs);
    this.#touched?.add(`mute:${userId}`);
  }

  unmute(userId: string): void {
    this.#muted.delete(userId);
    this.#touched?.add(`mute:${userId}`);
  }

  /** A live ban kicks at once; it is kept only so a later rejoin is kicked. */
  ban(userId: string, untilMs: number | null): void {
    this.#banned.set(userId, untilMs);
    this.#touched?.add(`ban:${userId}`);
  }

  unban(userId: string): void {
    this.#banned.delete(userId);
    this.#touched?.add(`ban:${userId}`);
  }

  isMuted(userId: string, nowMs: number): boolean {
    return this.#active(this.#muted, userId, nowMs);
  }

  isBanned(userId: string, nowMs: number): boolean {
    return this.#banned.size > 0 && this.#active(this.#banned, userId, nowMs);
  }

  #active(
    entries: Map<string, number | null>,
    userId: string,
    nowMs: number,
  ): boolean {
    const untilMs = entries.get(userId);
    if (untilMs === undefined) {
      return false;
    }

    if (untilMs !== null && untilMs <= nowMs) {
      entries.delete(userId);
      return false;
    }

    return true;
  }

  #merge(
    kind: Kind,
    into: Map<string, number | null>,
    stored: Map<string, number | null>,
  ): void {
    for (const [userId, untilMs] of stored) {
      if (!this.#touched?.has(`${kind}:${userId}`)) {
        into.set(userId, untilMs);
      }
    }
  }
}
