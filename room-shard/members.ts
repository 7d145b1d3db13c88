/**
 * A room's members as the edges report them. A user counts once however
 * many sockets and edges they hold, so the viewer count is distinct users.
 *
 * Presence is a set per edge: an edge says a user joined (its first socket)
 * or left (its last), and saying it twice changes nothing. That makes a
 * snapshot safe to combine with the deltas around it: an edge answering a
 * new owner's resync replaces everything it reported before, and a delta
 * still in flight from before the snapshot cannot leave a phantom member.
 */
import type { ViewerRole } from '../protocol/index.js';

export interface Member {
  name: string;
  role: ViewerRole;
  /** The edges that report the user present. */
  edges: Set<string>;
}

export type SnapshotEntry = [userId: string, name: string, role: ViewerRole];

export class MemberList {
  #members = new Map<string, Member>();
  /** edge id -> how many users it reports, so edges can be listed cheaply */
  #edgeCounts = new Map<string, number>();

  get count(): number {
    return this.#members.size;
  }

  /** The edges that report at least one member. */
  edgeIds(): IterableIterator<string> {
    return this.#edgeCounts.keys();
  }

  /** Returns true when the user was not a member before. */
  join(
    edgeId: string,
    userId: string,
    name: string,
    role: ViewerRole,
  ): boolean {
    let member = this.#members.get(userId);
    const isNew = member === undefined;
    if (member === undefined) {
      member = { name, role, edges: new Set() };
      this.#members.set(userId, member);
    }

    if (!member.edges.has(edgeId)) {
      member.edges.add(edgeId);
      this.#edgeCounts.set(edgeId, (this.#edgeCounts.get(edgeId) ?? 0) + 1);
    }

    return isNew;
  }

  /** Returns true when the user is no longer a member at all. */
  leave(edgeId: string, userId: string): boolean {
    const member = this.#members.get(userId);
    if (member === undefined || !member.edges.delete(edgeId)) {
      return false;
    }

    this.#uncount(edgeId);
    if (member.edges.size === 0) {
      this.#members.delete(userId);
      return true;
    }

    return false;
  }

  /**
   * Replaces everything one edge reported with its full list. Returns the
   * entries of users that were not members before.
   */
  replaceEdge(edgeId: string, entries: SnapshotEntry[]): SnapshotEntry[] {
    const present = new Set(entries.map(([userId]) => userId));
    for (const [userId, member] of this.#members) {
      if (member.edges.has(edgeId) && !present.has(userId)) {
        this.leave(edgeId, userId);
      }
    }

    return this.joinAll(edgeId, entries);
  }

  /** {@link join} for each entry; returns those of users new to the room. */
  joinAll(edgeId: string, entries: SnapshotEntry[]): SnapshotEntry[] {
    return entries.filter(([userId, name, role]) =>
      this.join(edgeId, userId, name, role),
    );
  }

  /** Forgets every report of one edge; returns how many users left. */
  dropEdge(edgeId: string): number {
    let left = 0;
    for (const [userId, member] of this.#members) {
      if (member.edges.delete(edgeId) && member.edges.size === 0) {
        this.#members.delete(userId);
        left++;
      }
    }

    this.#edgeCounts.delete(edgeId);
    return left;
  }

  get(userId: string): Member | undefined {
    return this.#members.get(userId);
  }

  /** Members in user-id order after `afterUserId`, for paging. */
  page(afterUserId: string, limit: number): [string, Member][] {
    return [...this.#members]
      .filter(([userId]) => userId > afterUserId)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, limit);
  }

  #uncount(edgeId: string): void {
    const count = (this.#edgeCounts.get(edgeId) ?? 1) - 1;
    if (count <= 0) {
      this.#edgeCounts.delete(edgeId);
    } else {
      this.#edgeCounts.set(edgeId, count);
    }
  }
}
