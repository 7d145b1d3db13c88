import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, openApiDocument, renderApiDocs } from './api-docs.js';

test('api docs - docs/api.md is what npm run docs:api renders now', async () => {
  const current = await readFile(
    new URL('../docs/api.md', import.meta.url),
    'utf8',
  );
  const rendered = await renderApiDocs();
  assert.ok(
    current === rendered,
    'docs/api.md is stale: run npm run docs:api and commit it',
  );
});

test('api docs - every route of the OpenAPI document has a section', async () => {
  const document = await openApiDocument();
  const markdown = await renderApiDocs();
  const paths = document['paths'] as Record<string, Record<string, unknown>>;
  let operations = 0;
  for (const [path, methods] of Object.entries(paths)) {
    for (const method of Object.keys(methods)) {
      operations += 1;
      assert.ok(
        markdown.includes(`### \`${method.toUpperCase()} ${path}\``),
        `${method} ${path} has a section`,
      );
    }
  }

  assert.ok(operations >= 25, `the v1 routes are all there: ${operations}`);
});

test('api docs - schemas read as one line with their constraints', () => {
  assert.equal(
    describe({ type: 'integer', minimum: 1, maximum: 500, default: 100 }),
    'integer (min 1, max 500, default 100)',
  );
  assert.equal(
    describe({ anyOf: [{ type: 'string' }, { type: 'null' }] }),
    'string or null',
  );
  assert.equal(
    describe({ type: 'array', items: { const: 'room.created' } }),
    'array of `"room.created"`',
  );
  assert.equal(
    describe({ type: 'string', pattern: 'a|b' }),
    'string (pattern "a\\|b")',
  );
});
