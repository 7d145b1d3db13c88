import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { API_ERRORS } from '../admin-api/index.js';
import { SETTINGS } from '../config/index.js';
import { CloseCodes } from '../protocol/index.js';

const read = (path: string) =>
  readFile(new URL(`../${path}`, import.meta.url), 'utf8');

test('docs - the README documents every setting', async () => {
  const readme = await read('README.md');
  for (const setting of Object.values(SETTINGS)) {
    assert.ok(
      readme.includes(`\`${setting.env}\``),
      `README lacks ${setting.env}`,
    );
  }
});

test('docs - protocol.md lists every close code with its name', async () => {
  const protocol = await read('docs/protocol.md');
  for (const { code, name } of Object.values(CloseCodes)) {
    assert.match(
      protocol,
      new RegExp(`\\| ${code} \\| \`${name}\` \\|`),
      `close ${code}`,
    );
  }
});

test('docs - errors.md lists every admin API error code with its status', async () => {
  const errors = await read('docs/errors.md');
  for (const [code, status] of Object.entries(API_ERRORS)) {
    assert.match(errors, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), code);
  }
});
