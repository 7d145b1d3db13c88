/**
 * Broadcasts: one message to many rooms of a tenant (a list, or every open
 * room) as a job. Progress is kept beside the job and read by
 * `GET /v1/broadcasts/:id`.
 *
 * A job runs at least once; its effect is once per room. Each room's
 * reliable append carries the dedupe key `broadcast:<id>`, checked in the
 * same atomic step as the append (reliable-log/log.ts), so a run after a
 * worker died between appending to a room and recording it finds the item
 * there and appends nothing. Rooms are then recorded in a published or a
 * skipped set; the counts are the sets' sizes, so a repeated room is not
 * counted twice, and a later run skips recorded rooms without a Redis round
 * trip per append. Lossy broadcast types (like, chat, join) ride the lossy
 * lane, at most once.
 */
import type { AdminContext } from './context.js';
import { publishMessage, type MessageInput } from './publish.js';

export type BroadcastState = 'queued' | 'running' | 'completed';

export interface BroadcastStatus {
  id: string;
  state: BroadcastState;
  /** Rooms to publish to; known once the job starts when sent to all rooms. */
  total: number | null;
  published: number;
  /** Rooms that were closed or missing when their turn came. */
  skipped: number;
  createdAt: string;
  completedAt: string | null;
}

interface BroadcastJob {
  tenant: string;
  id: string;
  rooms: string[] | null;
  message: MessageInput;
}

/** Rooms published to concurrently within one broadcast. */
const ROOMS_AT_ONCE = 50;

export class Broadcasts {
  #context: AdminContext;

  constructor(context: AdminContext) {
    this.#context = context;
  }

  async start(
    tenant: string,
    rooms: string[] | null,
    message: MessageInput,
  ): Promise<BroadcastStatus> {
    const { kv, jobs, ids, clock } = this.#context;
    const id = ids.next();
    const status: BroadcastStatus = {
      id,
      state: 'queued',
      total: rooms === null ? null : rooms.length,
      published: 0,
      skipped: 0,
      createdAt: new Date(clock()).toISOString(),
      completedAt: null,
    };
    await kv.set(statusKey(tenant, id), JSON.stringify(status), {
      ttlMs: RETAIN_MS,
    });
    const job: BroadcastJob = { tenant, id, rooms, message };
    await jobs.add('broadcast', id, job, { attempts: 5, backoffMs: 1000 });
    return status;
  }

  async get(tenant: string, id: string): Promise<BroadcastStatus | undefined> {
    const { kv } = this.#context;
    const raw = await kv.get(statusKey(tenant, id));
    if (raw === undefined) {
      return undefined;
    }

    const status = JSON.parse(raw) as BroadcastStatus;
    const [published, skipped] = await Promise.all([
      kv.setCount(publishedKey(tenant, id)),
      kv.setCount(skippedKey(tenant, id)),
    ]);
    status.published = published;
    status.skipped = skipped;
    return status;
  }

  /** The job handler. */
  async run(data: unknown): Promise<void> {
    const job = data as BroadcastJob;
    const { kv, directory, effects, webhooks, clock } = this.#context;
    const rooms =
      job.rooms ??
      (await directory.list(job.tenant)).map((room) => room.id).sort();
    await this.#update(job, { state: 'running', total: rooms.length });
    const published = publishedKey(job.tenant, job.id);
    const skipped = skippedKey(job.tenant, job.id);
    for (let start = 0; start < rooms.length; start += ROOMS_AT_ONCE) {
      await Promise.all(
        rooms.slice(start, start + ROOMS_AT_ONCE).map(async (roomId) => {
          if (
            (await kv.setHas(published, roomId)) ||
            (await kv.setHas(skipped, roomId))
          ) {
            return;
          }

          const room = await directory.get(job.tenant, roomId);
          if (room === undefined) {
            await kv.setAdd(skipped, roomId);
            return;
          }

          await publishMessage(this.#context, room, job.message, {
            dedupeKey: `broadcast:${job.id}`,
          });
          await kv.setAdd(published, roomId);
        }),
      );
    }

    await kv.expire(published, RETAIN_MS);
    await kv.expire(skipped, RETAIN_MS);
    await this.#update(job, {
      state: 'completed',
      completedAt: new Date(clock()).toISOString(),
    });
    const status = await this.get(job.tenant, job.id);
    await effects.once(`broadcast-completed:${job.id}`, () =>
      webhooks.emit(job.tenant, 'broadcast.completed', {
        broadcast: job.id,
        total: status?.total ?? rooms.length,
        published: status?.published ?? 0,
        skipped: status?.skipped ?? 0,
      }),
    );
  }

  async #update(
    job: BroadcastJob,
    change: Partial<BroadcastStatus>,
  ): Promise<void> {
    const { kv } = this.#context;
    const raw = await kv.get(statusKey(job.tenant, job.id));
    if (raw === undefined) {
      return;
    }

    const status = { ...(JSON.parse(raw) as BroadcastStatus), ...change };
    await kv.set(statusKey(job.tenant, job.id), JSON.stringify(status), {
      ttlMs: RETAIN_MS,
    });
  }
}

/** How long a broadcast's status stays readable. */
const RETAIN_MS = 7 * 24 * 3600 * 1000;

function statusKey(tenant: string, id: string): string {
  return `broadcast:${tenant}:${id}`;
}

function publishedKey(tenant: string, id: string): string {
  return `broadcast-published:${tenant}:${id}`;
}

function skippedKey(tenant: string, id: string): string {
  return `broadcast-skipped:${tenant}:${id}`;
}
