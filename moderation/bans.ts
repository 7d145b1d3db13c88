/**
 * Bans and mutes of users in rooms, kept in the key-value store so every
 * edge can refuse a banned user's tokens at the upgrade and every admin
 * process sees the same list. A ban or mute with no end lasts until it is
 * lifted or the room closes; ended entries are ignored on read and removed
 * when next listed.
 */
import type { KvStore } from '../kv-store/index.js';

export type RestrictionKind = 'ban' | 'mute';

export interface Restriction {
  user: string;
  reason: string;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601, or null for no end. */
  until: string | null;
}

export interface RestrictOptions {
  reason: string;
  /** Omitted: no end. */
  durationSeconds?: number;
}

/** What an edge needs to refuse banned users. */
export interface BanCheck {
  activeBan(roomKey: string, user: string): Promise<Restriction | undefined>;
}

export class Restrictions implements BanCheck {
  #kv: KvStore;
  #clock: () => number;

  constructor(kv: KvStore, clock: () => number = Date.now) {
    this.#kv = kv;
    this.#clock = clock;
  }

  async add(
    kind: RestrictionKind,
    roomKey: string,
    user: string,
    options: RestrictOptions,
  ): Promise<Restriction> {
    const nowMs = this.#clock();
    const entry: Restriction = {
      user,
      reason: options.reason,
      createdAt: new Date(nowMs).toISOString(),
      until:
        options.durationSeconds === undefined
          ? null
          : new Date(nowMs + options.durationSeconds * 1000).toISOString(),
    };
    await this.#kv.hashSet(key(kind, roomKey), user, JSON.stringify(entry));
    return entry;
  }

  /** Resolves true when there was an active entry to lift. */
  async remove(
    kind: RestrictionKind,
    roomKey: string,
    user: string,
  ): Promise<boolean> {
    const active = await this.active(kind, roomKey, user);
    await this.#kv.hashDel(key(kind, roomKey), user);
    return active !== undefined;
  }

  async active(
    kind: RestrictionKind,
    roomKey: string,
    user: string,
  ): Promise<Restriction | undefined> {
    const raw = await this.#kv.hashGet(key(kind, roomKey), user);
    if (raw === undefined) {
      return undefined;
    }

    const entry = JSON.parse(raw) as Restriction;
    return this.#ended(entry) ? undefined : entry;
  }

  activeBan(roomKey: string, user: string): Promise<Restriction | undefined> {
    return this.active('ban', roomKey, user);
  }

  /** A room's active mutes: user id -> end in epoch ms, or null for none. */
  activeMutes(roomKey: string): Promise<Map<string, number | null>> {
    return this.#activeEnds('mute', roomKey);
  }

  /** A room's active bans: user id -> end in epoch ms, or null for none. */
  activeBans(roomKey: string): Promise<Map<string, number | null>> {
    return this.#activeEnds('ban', roomKey);
  }

  async #activeEnds(
    kind: RestrictionKind,
    roomKey: string,
  ): Promise<Map<string, number | null>> {
    const ends = new Map<string, number | null>();
    for (const entry of await this.list(kind, roomKey)) {
      ends.set(
        entry.user,
        entry.until === null ? null : Date.parse(entry.until),
      );
    }

    return ends;
  }

  /** Active entries in user order. */
  async list(kind: RestrictionKind, roomKey: string): Promise<Restriction[]> {
    const all = await this.#kv.hashGetAll(key(kind, roomKey));
    const active: Restriction[] = [];
    for (const [user, raw] of Object.entries(all)) {
      const entry = JSON.parse(raw) as Restriction;
      if (this.#ended(entry)) {
        await this.#kv.hashDel(key(kind, roomKey), user);
      } else {
        active.push(entry);
      }
    }

    return active.sort((a, b) => (a.user < b.user ? -1 : 1));
  }

  /** Forgets every ban and mute of a closed room. */
  async dropRoom(roomKey: string): Promise<void> {
    await this.#kv.del(key('ban', roomKey));
    await this.#kv.del(key('mute', roomKey));
  }

  #ended(entry: Restriction): boolean {
    return entry.until !== null && Date.parse(entry.until) <= this.#clock();
  }
}

function key(kind: RestrictionKind, roomKey: string): string {
  return `${kind}s:{${roomKey}}`;
}
