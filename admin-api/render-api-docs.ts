/**
 * `npm run docs:api`: writes docs/api.md from the OpenAPI document.
 * With `--check`, writes nothing and exits 1 when docs/api.md is stale.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { renderApiDocs } from './api-docs.js';

const target = new URL('../docs/api.md', import.meta.url);
const rendered = await renderApiDocs();
if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== rendered) {
    process.stderr.write('docs/api.md is stale: run npm run docs:api\n');
    process.exitCode = 1;
  }
} else {
  await writeFile(target, rendered);
}
