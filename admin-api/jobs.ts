/**
 * Durable jobs: webhook deliveries, scheduled messages, broadcasts and room
 * lifecycle checks. Two implementations share this interface: jobs-bullmq.ts
 * on Redis (jobs survive restarts, a job whose worker dies is picked up by
 * another after its lock lapses) and jobs-memory.ts for a standalone process
 * without Redis (jobs live and die with the process).
 *
 * Delivery is at least once in both. Handlers make their effect once by
 * recording it under the job's id (see effects.ts) and skipping a job whose
 * effect is already recorded.
 */

export const JOB_KINDS = [
  'webhook',
  'scheduled-message',
  'broadcast',
  'room-lifecycle',
] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export interface JobContext {
  /** 1 on the first run, 2 on the first retry, and so on. */
  attempt: number;
}

export type JobHandler = (data: unknown, job: JobContext) => Promise<void>;

export interface JobOptions {
  /** Run no earlier than this many ms from now. Default 0. */
  delayMs?: number;
  /** Runs before the job counts as failed. Default 1. */
  attempts?: number;
  /** First retry delay; each later one doubles it. Default 1000. */
  backoffMs?: number;
}

export interface JobDepth {
  waiting: number;
  delayed: number;
  active: number;
  failed: number;
}

export interface JobQueue {
  /** True when jobs survive this process. */
  readonly durable: boolean;
  /**
   * Adds a job. `id` names it: adding an id that is still queued or running
   * adds nothing, so a retried request does not queue a second job.
   */
  add(
    kind: JobKind,
    id: string,
    data: object,
    options?: JobOptions,
  ): Promise<void>;
  /** Starts running jobs of a kind with `handler`; one handler per kind. */
  process(kind: JobKind, handler: JobHandler, concurrency: number): void;
  depths(): Promise<Record<JobKind, JobDepth>>;
  close(): Promise<void>;
}

/** The delay before retry `attempt + 1`: `backoffMs` doubled per attempt. */
export function backoffDelayMs(backoffMs: number, attempt: number): number {
  return backoffMs * 2 ** (attempt - 1);
}
