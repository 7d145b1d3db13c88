/**
 * The coordinator's side of the simulator processes: forks them, hands each
 * its plan, drives the snapshot clock (every process snapshots on the same
 * tick, so interval i of every process covers the same wall-clock second),
 * and collects the snapshots into a {@link Timeline}.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {
  CoordinatorMessage,
  DrainReport,
  ViewerChaos,
  WorkerMessage,
  WorkerPlan,
} from './fleet-messages.js';
import { LoadtestError } from './loadtest-error.js';
import type { Timeline } from './timeline.js';

/** How long simulator processes get to close their sockets and exit. */
const CLOSE_BOUND_MS = 15_000;

const PROCESS_ENTRY = fileURLToPath(
  new URL('./viewer-process.ts', import.meta.url),
);

interface Member {
  child: ChildProcess;
  plan: WorkerPlan;
  loaded: boolean;
  ready: FleetReadiness | null;
  drained: DrainReport | null;
  exited: boolean;
}

/** How long the simulator processes may take to load. */
const LOAD_TIMEOUT_MS = 120_000;

export interface FleetReadiness {
  welcomed: number;
  failed: number;
}

export class ViewerFleet {
  readonly #timeline: Timeline;
  readonly #members: Member[] = [];
  #tickTimer: NodeJS.Timeout | null = null;
  #tickIndex = 0;
  #failure: LoadtestError | null = null;
  #waiters: (() => void)[] = [];

  constructor(timeline: Timeline) {
    this.#timeline = timeline;
  }

  get timeline(): Timeline {
    return this.#timeline;
  }

  /**
   * Forks one process per plan and, once every one has loaded, tells them
   * all to start connecting: a process that connected while the others
   * still loaded (tens of processes compiling on the same cores) would
   * meet a starved edge and count its failures as the edge's. Resolves
   * when they start.
   * @param onTick called as each interval ends, e.g. to sample the service
   */
  async start(
    plans: WorkerPlan[],
    intervalMs: number,
    onTick: (index: number) => void = () => undefined,
  ): Promise<void> {
    for (const plan of plans) {
      const child = fork(PROCESS_ENTRY, [], {
        execArgv: ['--import', import.meta.resolve('tsx')],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      });
      const member: Member = {
        child,
        plan,
        loaded: false,
        ready: null,
        drained: null,
        exited: false,
      };
      this.#members.push(member);
      child.on('message', (message: WorkerMessage) => {
        this.#onMessage(member, message);
      });
      child.on('exit', (code, signal) => {
        member.exited = true;
        if (member.drained === null) {
          this.#fail(
            `simulator process ${plan.worker} exited early (code ${code}, signal ${signal})`,
          );
        }

        this.#wake();
      });
      this.#send(member, { type: 'start', plan });
    }

    await this.#until(
      () => this.#members.every((member) => member.loaded),
      LOAD_TIMEOUT_MS,
      'loading the simulator processes',
    );
    for (const member of this.#members) {
      this.#send(member, { type: 'go' });
    }

    this.#tickTimer = setInterval(() => {
      const index = this.#tickIndex;
      this.#tickIndex += 1;
      this.#timeline.beginInterval(index, Date.now());
      onTick(index);
      for (const member of this.#members) {
        if (!member.exited && member.drained === null) {
          this.#send(member, { type: 'tick', index });
        }
      }
    }, intervalMs);
  }

  /** Resolves once every process has all its viewers welcomed or failed. */
  async ready(timeoutMs: number): Promise<FleetReadiness> {
    await this.#until(
      () => this.#members.every((member) => member.ready !== null),
      timeoutMs,
      'connecting the viewers',
    );
    const total: FleetReadiness = { welcomed: 0, failed: 0 };
    for (const member of this.#members) {
      total.welcomed += member.ready?.welcomed ?? 0;
      total.failed += member.ready?.failed ?? 0;
    }

    return total;
  }

  /**
   * Tells every process the rooms' final seqs and waits for their reports and
   * their exit.
   */
  async drain(
    finalSeqs: Record<string, number>,
    timeoutMs: number,
    graceMs: number,
  ): Promise<DrainReport> {
    for (const member of this.#members) {
      this.#send(member, { type: 'drain', finalSeqs, timeoutMs, graceMs });
    }

    try {
      await this.#until(
        () => this.#members.every((member) => member.drained !== null),
        timeoutMs + graceMs + 60_000,
        'draining the viewers',
      );
    } catch (error) {
      // A simulator process so far behind that it cannot even report is
      // counted, not fatal: what was delivered while publishing is measured
      // already, and the run fails its `drainReported` objective.
      if (
        !(error instanceof LoadtestError) ||
        error.code !== 'LOADTEST_PHASE_TIMEOUT'
      ) {
        throw error;
      }
    }

    this.#stopTicks();
    // Closing is cleanup: the reports are in, so a process still closing
    // its sockets after the bound is killed rather than failing the run.
    try {
      await this.#until(
        () => this.#members.every((member) => member.exited),
        CLOSE_BOUND_MS,
        'closing the viewers',
      );
    } catch (error) {
      if (!(error instanceof LoadtestError)) {
        throw error;
      }

      this.kill();
    }

    const total: DrainReport = {
      expected: 0,
      caughtUp: 0,
      behind: 0,
      missingAtEnd: 0,
      gone: 0,
      aborted: 0,
      neverConnected: 0,
      missedWhileGone: 0,
      viewersWithAnomalies: 0,
      anomalyExamples: [],
      unreported: 0,
    };
    for (const member of this.#members) {
      const report = member.drained;
      if (report === null) {
        total.unreported += member.plan.rooms.reduce(
          (sum, room) => sum + room.viewers,
          0,
        );
        continue;
      }

      total.expected += report.expected;
      total.caughtUp += report.caughtUp;
      total.behind += report.behind;
      total.missingAtEnd += report.missingAtEnd;
      total.gone += report.gone;
      total.aborted += report.aborted;
      total.neverConnected += report.neverConnected;
      total.missedWhileGone += report.missedWhileGone;
      total.viewersWithAnomalies += report.viewersWithAnomalies;
      total.anomalyExamples.push(...report.anomalyExamples);
    }

    return total;
  }

  /** Publishing has started: the viewers start their own traffic. */
  publishing(): void {
    this.#broadcast({ type: 'publishing' });
  }

  /** Chaos on the viewers' side: storms and aborted connections. */
  chaos(action: ViewerChaos, share: number): void {
    this.#broadcast({ type: 'chaos', action, share });
  }

  #broadcast(message: CoordinatorMessage): void {
    for (const member of this.#members) {
      this.#send(member, message);
    }
  }

  /** Kills every process still running; safe to call more than once. */
  kill(): void {
    this.#stopTicks();
    for (const member of this.#members) {
      if (!member.exited) {
        member.child.kill('SIGKILL');
      }
    }
  }

  #stopTicks(): void {
    if (this.#tickTimer !== null) {
      clearInterval(this.#tickTimer);
      this.#tickTimer = null;
    }
  }

  #send(member: Member, message: CoordinatorMessage): void {
    if (member.child.connected) {
      member.child.send(message);
    }
  }

  #onMessage(member: Member, message: WorkerMessage): void {
    switch (message.type) {
      case 'loaded':
        member.loaded = true;
        break;
      case 'snapshot':
        this.#timeline.addSnapshot(message.snapshot);
        break;
      case 'ready':
        member.ready = { welcomed: message.welcomed, failed: message.failed };
        break;
      case 'drained':
        this.#timeline.addSnapshot(message.snapshot);
        member.drained = message.report;
        break;
      case 'failed':
        this.#fail(
          `simulator process ${member.plan.worker} failed: ${message.message}`,
        );
        break;
    }

    this.#wake();
  }

  #fail(message: string): void {
    this.#failure ??= new LoadtestError('LOADTEST_WORKER_FAILED', message);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) {
      wake();
    }
  }

  /** Waits, event by event, until `done()` holds, a process fails, or time runs out. */
  async #until(
    done: () => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#failure !== null) {
        throw this.#failure;
      }

      if (done()) {
        return;
      }

      const left = deadline - Date.now();
      if (left <= 0) {
        throw new LoadtestError(
          'LOADTEST_PHASE_TIMEOUT',
          `${what} took longer than ${timeoutMs} ms`,
        );
      }

      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
