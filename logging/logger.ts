/**
 * Structured logs with pino: fields first, then a short fixed lowercase
 * message (`log.info({ roomKey }, 'room claimed')`).
 *
 * Levels and what each means here:
 * - fatal: the process is about to exit because it cannot do its job.
 * - error: a request or room failed in a way an operator should look at.
 * - warn: something degraded or was refused that might need attention
 *   (Redis down, clock regression, development mode).
 * - info: lifecycle events: start, ports, room created or closed, drain.
 * - debug: per-connection events. Nothing per message at any level on the
 *   fan-out path: those are Prometheus counters.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** Role name added to every line (`standalone`, `edge`, ...). */
  role: string;
}

/**
 * JSON lines on stdout, written synchronously. pino's default destination
 * buffers and flushes at exit, and that flush retries a write that fails
 * with EPIPE forever: a process whose log reader had gone (a killed parent,
 * a closed pipe) spun at exit and never ended. A synchronous destination
 * has nothing to flush at exit, and pino stops writing at the first EPIPE.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { role: options.role, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 1, sync: true }),
  );
}

/** A logger that writes nothing, for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
