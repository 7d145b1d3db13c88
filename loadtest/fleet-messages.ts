/**
 * Messages between the coordinator and its simulator processes (IPC of
 * `child_process.fork`). A simulator process holds a share of the viewers:
 * one process may open at most ~19,500 files here, so large audiences need
 * several.
 */
import type { WorkerSnapshot } from './delivery-stats.js';
import type { WireProtocol } from './viewer.js';

/** The viewers one simulator process holds and how it connects them. */
export interface WorkerPlan {
  worker: number;
  adminUrl: string;
  apiKey: string;
  /**
   * e.g. `ws://127.0.0.1:8081/ws`; the token is added as `token=`. Viewer i
   * of the process connects to edge i modulo their number.
   */
  edgeUrls: string[];
  protocol: WireProtocol;
  /**
   * Source addresses for this process's connections, used round-robin; empty
   * for the system's choice. Each address has ~28,000 ephemeral ports.
   */
  localAddresses: string[];
  /** Viewers of each room held by this process. */
  rooms: { id: string; viewers: number }[];
  /** Connections this process opens per second. */
  connectPerSecond: number;
  /** Every n-th viewer of a room in this process decodes everything; 0: none. */
  sampleEvery: number;
  connectTimeoutMs: number;
  /**
   * For how long after `go` a viewer whose first connect failed tries
   * again (backoff with jitter, as clients do); 0: a failed first connect
   * is final.
   */
  retryConnectsForMs: number;
  /** How often each viewer sends a `ping` frame. */
  pingIntervalMs: number;
  /** Prefix of the simulated users' ids. */
  userPrefix: string;
  /** Share of this process's viewers that read slowly, and how slowly. */
  slowShare: number;
  slowBytesPerSecond: number;
  /** Frames this process's viewers send per second, over all its rooms. */
  chatPerSecond: number;
  likesPerSecond: number;
  /** Chat text length of viewer chat, send time included. */
  chatBytes: number;
  /** Viewers of this process that leave and come back per second. */
  churnPerSecond: number;
  /** Reconnect (with resume) after a close whose advice allows it. */
  reconnect: boolean;
}

/** Chaos a simulator process carries out on its own viewers. */
export type ViewerChaos =
  /** Drop the share's TCP connections at once and reconnect them all at once. */
  | 'reconnect-storm'
  /** Drop the share's TCP connections without a close frame, for good. */
  | 'abort-connections';

export type CoordinatorMessage =
  /** Sets the process up; it answers `loaded` and connects nothing yet. */
  | { type: 'start'; plan: WorkerPlan }
  /** Every process is loaded: start connecting. */
  | { type: 'go' }
  /** Ends interval `index`: the process answers with its snapshot. */
  | { type: 'tick'; index: number }
  /** Starts the viewers' own traffic (chat, likes, churn). */
  | { type: 'publishing' }
  | { type: 'chaos'; action: ViewerChaos; share: number }
  | {
      type: 'drain';
      /** Each room's last published seq. */
      finalSeqs: Record<string, number>;
      /** Bound on waiting for viewers to reach the final seqs. */
      timeoutMs: number;
      /** Quiet time after that, for lossy items still in flight. */
      graceMs: number;
    };

/** How the viewers of a process ended the run. */
export interface DrainReport {
  /** Reliable items the viewers open at the end should have: seqs since they joined. */
  expected: number;
  /** Open viewers that had every reliable item up to the final seq. */
  caughtUp: number;
  /** Open viewers that did not, when the drain timeout ran out. */
  behind: number;
  /** Reliable items those open viewers never received. */
  missingAtEnd: number;
  /** Viewers not connected at the end (failed, aborted, or not back yet). */
  gone: number;
  /** Of those, connections the scenario aborted on purpose. */
  aborted: number;
  /** Of those, viewers whose first connection failed. */
  neverConnected: number;
  /** Reliable items published after those viewers left (not loss). */
  missedWhileGone: number;
  /** Viewers that saw at least one gap or duplicate. */
  viewersWithAnomalies: number;
  /** The first few gaps and duplicates, described for a person. */
  anomalyExamples: string[];
  /**
   * Viewers of simulator processes that did not report within the drain's
   * bound (too far behind): nothing is known of their loss. Coordinator only.
   */
  unreported: number;
}

export type WorkerMessage =
  /** The process is up and waits for `go`. */
  | { type: 'loaded' }
  | { type: 'snapshot'; snapshot: WorkerSnapshot }
  /** Every viewer of the process is welcomed or has failed. */
  | { type: 'ready'; welcomed: number; failed: number }
  | { type: 'drained'; report: DrainReport; snapshot: WorkerSnapshot }
  | { type: 'failed'; message: string };
