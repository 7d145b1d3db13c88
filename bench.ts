/**
 * Runs every `*.bench.ts` in the repository, one after another, each in its
 * own child process so one benchmark's heap and JIT state cannot skew the
 * next. `npm run bench`; pass a substring to run only matching files.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', 'coverage']);

function findBenches(dir: string, out: string[]): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) {
        findBenches(join(dir, entry.name), out);
      }
    } else if (entry.name.endsWith('.bench.ts')) {
      out.push(relative(process.cwd(), join(dir, entry.name)));
    }
  }

  return out;
}

const filter = process.argv[2] ?? '';
const files = findBenches(process.cwd(), [])
  .filter((file) => file.includes(filter))
  .sort();
let failed = 0;
for (const file of files) {
  process.stdout.write(`\n# ${file}\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], {
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    failed++;
    process.stdout.write(`# ${file} failed (exit ${String(result.status)})\n`);
  }
}

process.stdout.write(`\n# ${files.length} benchmarks, ${failed} failed\n`);
process.exitCode = failed === 0 ? 0 : 1;
