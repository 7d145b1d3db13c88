/**
 * Real roomcast processes for multi-process tests: spawned from
 * bin/roomcast.js with an environment, their pino lines parsed so a test can
 * wait for `'<role> listening'` and read the bound port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isReady } from '../loadtest/readiness.js';
import { waitUntil } from './wait.js';

const BIN = fileURLToPath(new URL('../bin/roomcast.js', import.meta.url));

export interface LogLine {
  msg?: string;
  role?: string;
  pid?: number;
  port?: number;
  [field: string]: unknown;
}

export class RoomcastProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly exited: Promise<number | null>;
  #listeners = new Set<() => void>();

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ROOMCAST_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => resolve(code));
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream === null) {
        continue;
      }

      createInterface({ input: stream }).on('line', (text) => {
        try {
          this.lines.push(JSON.parse(text) as LogLine);
        } catch {
          this.lines.push({ msg: text });
        }

        for (const listener of this.#listeners) {
          listener();
        }
      });
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Resolves with the first log line (from now or before) that matches. */
  waitForLog(
    match: (line: LogLine) => boolean,
    timeoutMs = 30_000,
  ): Promise<LogLine> {
    const found = this.lines.find(match);
    if (found !== undefined) {
      return Promise.resolve(found);
    }

    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`no matching log line within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        const line = this.lines.find(match);
        if (line !== undefined) {
          clearTimeout(timer);
          this.#listeners.delete(check);
          resolve(line);
        }
      };
      this.#listeners.add(check);
    });
  }

  /** Waits for `'<role> listening'` of this process and returns its port. */
  async listening(role: string, pid = this.pid): Promise<number> {
    const line = await this.waitForLog(
      (entry) => entry.msg === `${role} listening` && entry.pid === pid,
    );
    return line.port ?? -1;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill(signal);
    }

    await this.exited;
  }
}

export { isReady };

export async function waitReady(
  port: number,
  timeoutMs = 30_000,
): Promise<void> {
  await waitUntil(() => isReady(port), timeoutMs, `port ${port} ready`);
}

/** The shard process that logged the latest claim of a room. */
export function ownerOf(
  shards: RoomcastProcess[],
  roomKey: string,
): RoomcastProcess | undefined {
  let owner: RoomcastProcess | undefined;
  let latest = '';
  for (const shard of shards) {
    for (const line of shard.lines) {
      const time = String(line['time']);
      if (
        line.msg === 'room claimed' &&
        line['roomKey'] === roomKey &&
        time > latest
      ) {
        latest = time;
        owner = shard;
      }
    }
  }

  return owner;
}

/** Whether a process with this pid exists (signal 0 checks without sending). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
