/**
 * Waits until started services say they are ready. A roomcast process logs
 * its port as soon as it listens, but answers 503 (`unavailable`) until its
 * Redis connection and bus subscriptions are up; `/readyz` turns 200 then.
 * A load test that creates rooms before that sees its first requests
 * refused, so spawning waits for every process's `/readyz`.
 */
import { LoadtestError } from './loadtest-error.js';

export interface ReadinessOptions {
  /** Gives up after this long. */
  timeoutMs: number;
  /** Between polls of one port. Default 50 ms. */
  intervalMs?: number;
  /** Says why to stop waiting (the service exited), or null to go on. */
  stopped?: () => string | null;
}

/** GETs `/readyz` on a loopback port; true on 200, false on anything else. */
export async function isReady(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`, {
      signal: AbortSignal.timeout(2000),
    });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Resolves once `GET /readyz` answers 200 on every port (loopback); throws
 * `LOADTEST_SPAWN_FAILED` naming the ports still not ready at the deadline,
 * or as soon as `stopped` says the service went away.
 */
export async function waitUntilReady(
  ports: readonly number[],
  label: string,
  options: ReadinessOptions,
): Promise<void> {
  const { timeoutMs, intervalMs = 50, stopped = () => null } = options;
  const deadline = Date.now() + timeoutMs;
  let pending = [...new Set(ports)];
  for (;;) {
    const answers = await Promise.all(pending.map(isReady));
    pending = pending.filter((_, index) => answers[index] !== true);
    if (pending.length === 0) {
      return;
    }

    const reason = stopped();
    if (reason !== null) {
      throw new LoadtestError(
        'LOADTEST_SPAWN_FAILED',
        `${label} ${reason} before it was ready`,
      );
    }

    if (Date.now() > deadline) {
      throw new LoadtestError(
        'LOADTEST_SPAWN_FAILED',
        `${label} was not ready within ${timeoutMs} ms: /readyz not 200 on port ${pending.join(', ')}`,
      );
    }

    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
