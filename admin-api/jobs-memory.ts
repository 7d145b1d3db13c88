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

interface PendingJob {
  kind: JobKind;
  id: string;
  data: object;
  attempts: number;
  backoffMs: number;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  state: 'waiting' | 'delayed' | 'active';
}

/**
 * Jobs in this process's memory: what a standalone process without Redis
 * runs. Timers stand in for delays and retries; a restart loses every job
 * not yet done (scheduled messages, webhook retries, broadcasts in flight).
 */
export class MemoryJobQueue implements JobQueue {
  readonly durable = false;
  #jobs = new Map<string, PendingJob>();
  #handlers = new Map<JobKind, { handler: JobHandler; limit: number }>();
  #running = new Map<JobKind, number>();
  #failed = new Map<JobKind, number>();
  #logger: Logger;
  #closed = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  async add(
    kind: JobKind,
    id: string,
    data: object,
    options: JobOptions = {},
  ): Promise<void> {
    const key = `${kind}:${id}`;
    if (this.#closed || this.#jobs.has(key)) {
      return;
    }

    const job: PendingJob = {
      kind,
      id: key,
      data,
      attempts: options.attempts ?? 1,
      backoffMs: options.backoffMs ?? 1000,
      attempt: 0,
      timer: undefined,
      state: 'waiting',
    };
    this.#jobs.set(key, job);
    this.#schedule(job, options.delayMs ?? 0);
  }

  process(kind: JobKind, handler: JobHandler, concurrency: number): void {
    this.#handlers.set(kind, { handler, limit: concurrency });
    this.#pump(kind);
  }

  async depths(): Promise<Record<JobKind, JobDepth>> {
    const out = {} as Record<JobKind, JobDepth>;
    for (const kind of JOB_KINDS) {
      out[kind] = {
        waiting: 0,
        delayed: 0,
        active: 0,
        failed: this.#failed.get(kind) ?? 0,
      };
    }

    for (const job of this.#jobs.values()) {
      out[job.kind][job.state]++;
    }

    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#jobs.values()) {
      clearTimeout(job.timer);
    }

    this.#jobs.clear();
  }

  #schedule(job: PendingJob, delayMs: number): void {
    if (delayMs <= 0) {
      job.state = 'waiting';
      queueMicrotask(() => this.#pump(job.kind));
      return;
    }

    job.state = 'delayed';
    job.timer = setTimeout(() => {
      job.timer = undefined;
      job.state = 'waiting';
      this.#pump(job.kind);
    }, delayMs);
  }

  #pump(kind: JobKind): void {
    const entry = this.#handlers.get(kind);
    if (entry === undefined || this.#closed) {
      return;
    }

    for (const job of this.#jobs.values()) {
      if ((this.#running.get(kind) ?? 0) >= entry.limit) {
        return;
      }

      if (job.kind === kind && job.state === 'waiting') {
        void this.#run(job, entry.handler);
      }
    }
  }

  async #run(job: PendingJob, handler: JobHandler): Promise<void> {
    job.state = 'active';
    job.attempt++;
    this.#running.set(job.kind, (this.#running.get(job.kind) ?? 0) + 1);
    try {
      await handler(job.data, { attempt: job.attempt });
      this.#jobs.delete(job.id);
    } catch (error) {
      if (job.attempt < job.attempts && !this.#closed) {
        this.#logger.debug({ job: job.id, err: error }, 'job will retry');
        this.#schedule(job, backoffDelayMs(job.backoffMs, job.attempt));
      } else {
        this.#jobs.delete(job.id);
        this.#failed.set(job.kind, (this.#failed.get(job.kind) ?? 0) + 1);
        this.#logger.warn({ job: job.id, err: error }, 'job failed');
      }
    } finally {
      this.#running.set(job.kind, (this.#running.get(job.kind) ?? 1) - 1);
      this.#pump(job.kind);
    }
  }
}
