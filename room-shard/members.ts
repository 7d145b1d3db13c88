/**
 * A room's members as the edges report them. A user counts once however
 * many sockets and edges they hold, so the viewer count is distinct users.
 * Per-edge counts let a shard forget everything an edge reported when that
 * edge resyncs or disappears.
 */
import type { ViewerRole } from '../protocol/index.js';

export interface Member {
  name: string;
  role: ViewerRole;
  /** edge id -> how many of that edge's reports say the user is present */
  edges: Map<string, number>;
}

export class MemberList {
  #members = new Map<string, Member>();

  get count(): number {
    return this.#members.size;
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
      member = { name, role, edges: new Map() };
      this.#members.set(userId, member);
    }

    member.edges.set(edgeId, (member.edges.get(edgeId) ?? 0) + 1);
    return isNew;
  }

  /** Returns true when the user is no longer a member at all. */
  leave(edgeId: string, userId: string): boolean {
    const member = this.#members.get(userId);
    const present = member?.edges.get(edgeId);
    if (member === undefined || present === undefined) {
      return false;
    }

    if (present <= 1) {
      member.edges.delete(edgeId);
    } else {
      member.edges.set(edgeId, present - 1);
    }

    if (member.edges.size === 0) {
      this.#members.delete(userId);
      return true;
    }

    return false;
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
}
