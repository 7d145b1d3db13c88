import { Queue, Worker, type Job } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  JOB_KINDS,
  backoffDelayMs,
  type JobDepth,
  type JobHandler,
  type JobKind,
  type JobOptions,
  type JobQueue,
} from './jobs.js';

export interface BullJobQueueOptions {
  /** Commands connection; workers open blocking duplicates of it. */
  connection: Redis | Cluster;
  /**
   * bullmq key prefix. On a Redis Cluster it must be a hash tag such as
   * `roomcast:{jobs}` so a queue's keys share a slot.
   */
  prefix: string;
  logger: Logger;
  /**
   * How long a worker holds a job before another may take it over, ms.
   * A worker killed mid-job delays that job by about this much. Default
   * 30,000.
   */
  lockDurationMs?: number;
}

/** Jobs kept after they finish, for inspection. */
const KEEP_COMPLETED = { age: 3600, count: 1000 };
const KEEP_FAILED = { age: 7 * 24 * 3600, count: 10_000 };

/**
 * Jobs on Redis with bullmq: one queue per kind. A job survives a restart
 * of every admin process; a job whose worker died mid-run goes back to the
 * queue once its lock lapses (see `lockDurationMs`) and runs again.
 */
export class BullJobQueue implements JobQueue {
  readonly durable = true;
  #options: BullJobQueueOptions;
  #queues = new Map<JobKind, Queue>();
  #workers: Worker[] = [];

  constructor(options: BullJobQueueOptions) {
    this.#options = options;
    for (const kind of JOB_KINDS) {
      this.#queues.set(
        kind,
        new Queue(`roomcast-${kind}`, {
          connection: options.connection,
          prefix: options.prefix,
        }),
      );
    }
  }

  async add(
    kind: JobKind,
    id: string,
    data: object,
    options: JobOptions = {},
  ): Promise<void> {
    await this.#queue(kind).add(kind, data, {
      jobId: `${kind}-${encodeURIComponent(id)}`,
      delay: Math.max(0, options.delayMs ?? 0),
      attempts: options.attempts ?? 1,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 1000 },
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    });
  }

  process(kind: JobKind, handler: JobHandler, concurrency: number): void {
    const lockDuration = this.#options.lockDurationMs ?? 30_000;
    const worker = new Worker(
      `roomcast-${kind}`,
      async (job: Job) => {
        await handler(job.data as unknown, { attempt: job.attemptsMade + 1 });
      },
      {
        connection: this.#options.connection,
        prefix: this.#options.prefix,
        concurrency,
        lockDuration,
        stalledInterval: Math.max(500, Math.floor(lockDuration / 2)),
        maxStalledCount: 3,
      },
    );
    const log = this.#options.logger.child({ queue: kind });
    worker.on('failed', (job, error) => {
      const attempts = job?.opts.attempts ?? 1;
      const made = job?.attemptsMade ?? attempts;
      if (made < attempts) {
        log.debug(
          {
            job: job?.id,
            err: error,
            retryInMs: backoffDelayMs(1000, made),
          },
          'job will retry',
        );
      } else {
        log.warn({ job: job?.id, err: error }, 'job failed');
      }
    });
    worker.on('error', (error) => {
      log.warn({ err: error }, 'job worker error');
    });
    this.#workers.push(worker);
  }

  async depths(): Promise<Record<JobKind, JobDepth>> {
    const out = {} as Record<JobKind, JobDepth>;
    await Promise.all(
      JOB_KINDS.map(async (kind) => {
        const counts = await this.#queue(kind).getJobCounts(
          'waiting',
          'delayed',
          'active',
          'failed',
        );
        out[kind] = {
          waiting: counts['waiting'] ?? 0,
          delayed: counts['delayed'] ?? 0,
          active: counts['active'] ?? 0,
          failed: counts['failed'] ?? 0,
        };
      }),
    );
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.close()));
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
  }

  #queue(kind: JobKind): Queue {
    const queue = this.#queues.get(kind);
    if (queue === undefined) {
      throw new Error(`no queue ${kind}`);
    }

    return queue;
  }
}

/**
 * Reads Redis's eviction policy. Anything but `noeviction` lets Redis drop
 * job keys under memory pressure, which loses jobs silently; callers log it
 * at error level. Resolves undefined when the server does not say.
 */
export async function evictionPolicy(redis: {
  info(section: 'memory'): Promise<string>;
}): Promise<string | undefined> {
  const info = await redis.info('memory');
  const line = info
    .split(/\r?\n/)
    .find((entry) => entry.startsWith('maxmemory_policy:'));
  return line?.slice('maxmemory_policy:'.length).trim();
}
