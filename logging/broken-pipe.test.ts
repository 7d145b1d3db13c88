import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/roomcast.js', import.meta.url));

test('logging - a process whose log reader is gone still stops on SIGTERM', async () => {
  // Its stdout is a pipe the test closes once the process is up: every log
  // line after that fails with EPIPE, and the shutdown logs several.
  const child = spawn(process.execPath, [BIN, 'standalone'], {
    env: {
      PATH: process.env['PATH'],
      ROOMCAST_HOST: '127.0.0.1',
      ROOMCAST_ADMIN_PORT: '0',
      ROOMCAST_EDGE_PORT: '0',
      ROOMCAST_DRAIN_GRACE_SECONDS: '1',
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('edge listening')) {
        resolve();
      }
    });
    child.once('exit', () => reject(new Error(`exited early:\n${out}`)));
  });
  child.stdout.destroy();
  // Its signal handlers are set up just after it logs that it listens.
  await new Promise((resolve) => setTimeout(resolve, 500));
  child.kill('SIGTERM');
  const timeout = setTimeout(() => child.kill('SIGKILL'), 20_000);
  try {
    assert.equal(await exited, 0, 'stopped cleanly, not killed');
  } finally {
    clearTimeout(timeout);
  }
});
