/**
 * Room lifecycle: closing a room (by request or when idle) and the periodic
 * check of each open room, a chain of delayed jobs. Each check looks at the
 * viewer count the shard last reported: it sends `room.peak` when the count
 * first reaches a milestone, and closes a room with an idle-close time that
 * had no viewers at every check for that long, sending `room.idle` and then
 * `room.closed` with the room's final stats.
 */
import { channels } from '../bus/index.js';
import { encodeEnvelope, roomClosedEnvelope } from '../room-shard/index.js';
import { roomKey, type RoomRecord } from '../room-directory/index.js';
import type { AdminContext } from './context.js';

/** Viewer counts that send `room.peak` the first time a room reaches them. */
export const PEAK_MILESTONES = [
  10, 100, 1000, 10_000, 100_000, 1_000_000,
] as const;

interface CheckJob {
  tenant: string;
  id: string;
  /** When this check was due, epoch ms; names the next one. */
  dueMs: number;
  /** Since when every check saw no viewers, epoch ms, or null. */
  idleSinceMs: number | null;
}

/**
 * Closes a room: the directory forgets it, its shard tells the viewers, its
 * bans and mutes go, and `room.closed` carries its final stats. Resolves
 * false when there was no such room.
 */
export async function closeRoom(
  context: AdminContext,
  tenant: string,
  id: string,
  reason: 'closed' | 'idle',
): Promise<boolean> {
  const key = roomKey(tenant, id);
  const stats = await context.roomStats(key);
  const closed = await context.directory.close(tenant, id);
  if (closed === undefined) {
    return false;
  }

  context.bus.publish(channels.roomIn(key), encodeEnvelope(['close']));
  if (stats === undefined) {
    // No shard answered for the room, so none will tell its viewers or
    // forget its history: the room would live on at the edges and a room
    // made again with this id would start at the old seqs.
    context.bus.publish(channels.roomOut(key), roomClosedEnvelope());
    await context.log.drop(key);
  }

  await context.restrictions.dropRoom(key);
  await context.webhooks.emit(tenant, 'room.closed', {
    room: id,
    reason,
    createdAt: closed.createdAt,
    ...(stats === undefined
      ? {}
      : { stats: { members: stats.members, ...stats.accounting } }),
  });
  context.logger.info({ tenant, roomId: id, reason }, 'room closed');
  return true;
}

export class RoomLifecycle {
  #context: AdminContext;
  #checkEveryMs: number;

  /** @param checkEveryMs time between two checks of a room; default 5,000 */
  constructor(context: AdminContext, checkEveryMs = 5000) {
    this.#context = context;
    this.#checkEveryMs = checkEveryMs;
  }

  /** Starts the checks of a new room. */
  async watch(room: RoomRecord): Promise<void> {
    await this.#next({
      tenant: room.tenant,
      id: room.id,
      dueMs: this.#context.clock(),
      idleSinceMs: null,
    });
  }

  /** The job handler. */
  async check(data: unknown): Promise<void> {
    const job = data as CheckJob;
    const context = this.#context;
    const room = await context.directory.get(job.tenant, job.id);
    if (room === undefined) {
      return;
    }

    const key = roomKey(room.tenant, room.id);
    const nowMs = context.clock();
    const reached = PEAK_MILESTONES.filter((m) => room.viewers >= m).pop();
    if (reached !== undefined) {
      const before = Number((await context.kv.hashGet('room-peaks', key)) ?? 0);
      if (reached > before) {
        await context.kv.hashSet('room-peaks', key, String(reached));
        await context.webhooks.emit(room.tenant, 'room.peak', {
          room: room.id,
          milestone: reached,
          viewers: room.viewers,
        });
      }
    }

    let idleSinceMs: number | null = null;
    if (room.viewers === 0) {
      idleSinceMs = job.idleSinceMs ?? nowMs;
    }

    const idleMs =
      room.idleCloseSeconds === undefined
        ? undefined
        : room.idleCloseSeconds * 1000;
    if (
      idleMs !== undefined &&
      idleSinceMs !== null &&
      nowMs - idleSinceMs >= idleMs
    ) {
      await context.webhooks.emit(room.tenant, 'room.idle', {
        room: room.id,
        idleSeconds: Math.round((nowMs - idleSinceMs) / 1000),
      });
      await closeRoom(context, room.tenant, room.id, 'idle');
      await context.kv.hashDel('room-peaks', key);
      return;
    }

    await this.#next({ ...job, dueMs: job.dueMs, idleSinceMs });
  }

  async #next(previous: CheckJob): Promise<void> {
    const dueMs = previous.dueMs + this.#checkEveryMs;
    const job: CheckJob = { ...previous, dueMs };
    await this.#context.jobs.add(
      'room-lifecycle',
      `${roomKey(job.tenant, job.id)}@${dueMs}`,
      job,
      { delayMs: dueMs - this.#context.clock(), attempts: 5 },
    );
  }
}
