/**
 * docs/api.md, rendered from the OpenAPI document the server serves at
 * `GET /v1/openapi.json`, so the reference cannot drift from the schemas the
 * API validates with. `npm run docs:api` rewrites the file; a test fails
 * when it is stale.
 */
import { format, resolveConfig } from 'prettier';
import { MemoryBus } from '../bus/index.js';
import { IdGenerator } from '../ids/index.js';
import { silentLogger } from '../logging/index.js';
import { createRegistry } from '../metrics/index.js';
import { MemoryReliableLog } from '../reliable-log/index.js';
import { MemoryRoomDirectory } from '../room-directory/index.js';
import { ViewerTokens } from '../tokens/index.js';
import { buildAdminApi } from './server.js';

type Json = Record<string, unknown>;

/** The order of the reference's sections; unknown tags come after. */
const TAG_ORDER = [
  'rooms',
  'members',
  'moderation',
  'messages',
  'broadcasts',
  'tokens',
  'keys',
  'webhooks',
];

/** The document as the server builds it, from a server that never listens. */
export async function openApiDocument(): Promise<Json> {
  const app = buildAdminApi({
    settings: {
      maxBodyBytes: 65_536,
      tokenTtlSeconds: 3600,
      adminRequestsPerSecond: 1000,
    },
    apiKeys: new Map([['docs-key', 'docs']]),
    directory: new MemoryRoomDirectory(),
    log: new MemoryReliableLog({ maxItems: 10, maxAgeSeconds: 60 }),
    bus: new MemoryBus(),
    ids: new IdGenerator({ workerId: 0 }),
    tokens: new ViewerTokens('docs-secret-0123456789-0123456789-abcdef'),
    registry: createRegistry(),
    logger: silentLogger(),
    runJobs: false,
  });
  try {
    const answer = await app.inject({ method: 'GET', url: '/v1/openapi.json' });
    return answer.json<Json>();
  } finally {
    await app.close();
  }
}

const INTRO = `# Admin API reference

<!-- Rendered from GET /v1/openapi.json by \`npm run docs:api\`; do not edit. -->

The admin API is how a platform's back end drives roomcast: rooms and their
settings, publishing, broadcasts, moderation, viewer tokens, API keys and
webhooks. The machine-readable form of this page is the OpenAPI 3.1 document
at \`GET /v1/openapi.json\`.

## Conventions

- **Authentication.** Every \`/v1\` request sends
  \`Authorization: Bearer <api key>\`. A key belongs to one tenant and sees only
  that tenant's rooms. Keys from \`ROOMCAST_API_KEYS\` are admin keys; keys
  created through \`POST /v1/keys\` are \`admin\` or \`publisher\`, and only admin
  keys manage keys.
- **Bodies** are JSON in UTF-8 (\`Content-Type: application/json\`, with no
  charset or \`charset=utf-8\`; anything else is 415). Bodies and queries are
  validated by schema and unknown fields are refused (400), as are numbers
  too large for a 64-bit float (\`1e400\`) and date-times that name no real
  moment (\`2026-02-30T10:00:00Z\`). An empty body counts as no body whatever
  its content type: routes that take none ignore the header, routes that need
  one answer 400 \`invalid_request\`. Bodies larger than
  \`ROOMCAST_MAX_BODY_BYTES\` are refused (413), request headers larger than
  Node's limit (16 KiB) with 431 \`header_too_large\`.
- **Errors** are \`{"error": {"code", "message", "details"?}}\`; the code is
  stable and [errors.md](errors.md) lists each with its status, cause and fix.
  A bad request never gets a 5xx.
- **Rate limits** are per API key and admin process
  (\`ROOMCAST_ADMIN_REQUESTS_PER_SECOND\`, default 1,000 a second with bursts
  of twice that); over it, 429 \`rate_limited\` with \`Retry-After\` in
  seconds.
- **Paging.** Lists answer \`nextCursor\`; pass it back as \`cursor\` for the
  next page, until it is \`null\`. Cursors are opaque; one the API did not
  hand out is 400 \`invalid_request\` on every list.
- **Idempotency.** A publish with \`Idempotency-Key: <1-128 printable ASCII>\`
  runs once per tenant and key for a day: a retry with the same body gets the
  first answer again with \`Idempotent-Replayed: true\`, and publishes nothing;
  the same key with a different body is 422 \`idempotency_key_reused\`.
  Bodies are compared as parsed, with their keys in the order sent, not as
  equal JSON values: the same object with its keys in another order is a
  different body (422), while whitespace, string escapes and number spelling
  (\`1.0\` against \`1\`) make no difference. A retry should resend the first
  attempt's body as it was. A retry
  while the first is still running waits for it, or gets 409
  \`idempotency_in_progress\` with \`Retry-After\`. A first attempt that fails
  frees the key.
- **Webhook signatures.** Each delivery is a \`POST\` of
  \`{"id", "event", "createdAt", "data"}\` with the headers
  \`Roomcast-Webhook-Id\` (the same on every retry: drop repeats by it),
  \`Roomcast-Event\`, \`Roomcast-Timestamp\` (unix seconds) and
  \`Roomcast-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>\`.
  Verify the signature over the raw body with a constant-time comparison and
  refuse timestamps far from now. A non-2xx answer, a timeout or a refused
  connection is retried with exponential backoff; every attempt is in
  \`GET /v1/webhooks/{id}/deliveries\`.
- **Members** lists come from the room's owning shard: in a fleet the admin
  process asks it over Redis and waits up to 2 s. While a room moves between
  shards (a failover takes about \`ROOMCAST_ROOM_LEASE_MS\`) nobody answers,
  and the members endpoints answer 503 \`unavailable\`: retry. Counts are
  exact to within a tick plus the time edges take to report.
- **Room stats** (\`GET /v1/rooms/{id}\` only; lists, creation and changes
  leave them out) come from the owning shard the same way. A room that no
  shard answers for within 2 s is answered 200 without \`stats\`. The counts
  are the current owner's: they start at zero when another shard takes the
  room over, and count one room whatever the number of edges.
`;

/** docs/api.md as it should read: rendered, then formatted by Prettier. */
export async function renderApiDocs(): Promise<string> {
  const markdown = renderApiMarkdown(await openApiDocument());
  const target = new URL('../docs/api.md', import.meta.url).pathname;
  const options = (await resolveConfig(target)) ?? {};
  return format(markdown, { ...options, parser: 'markdown' });
}

/** Markdown for the whole reference. */
export function renderApiMarkdown(document: Json): string {
  const paths = (document['paths'] ?? {}) as Record<
    string,
    Record<string, Json>
  >;
  const byTag = new Map<string, string[]>();
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const tag =
        ((operation['tags'] as string[] | undefined) ?? ['other'])[0] ??
        'other';
      const sections = byTag.get(tag) ?? [];
      sections.push(renderOperation(method, path, operation));
      byTag.set(tag, sections);
    }
  }

  const tags = [...byTag.keys()].sort(
    (a, b) => rank(a) - rank(b) || (a < b ? -1 : 1),
  );
  const parts = [INTRO];
  for (const tag of tags) {
    parts.push(`## ${tag[0]?.toUpperCase() ?? ''}${tag.slice(1)}\n`);
    parts.push(...(byTag.get(tag) ?? []));
  }

  return `${parts.join('\n').trimEnd()}\n`;
}

function rank(tag: string): number {
  const index = TAG_ORDER.indexOf(tag);
  return index === -1 ? TAG_ORDER.length : index;
}

function renderOperation(
  method: string,
  path: string,
  operation: Json,
): string {
  const lines = [
    `### \`${method.toUpperCase()} ${path}\``,
    '',
    `${String(operation['summary'] ?? '')}.`,
    '',
  ];
  const parameters = (operation['parameters'] ?? []) as Json[];
  if (parameters.length > 0) {
    lines.push(
      '| Parameter | In | Required | Schema |',
      '| --- | --- | --- | --- |',
    );
    for (const parameter of parameters) {
      lines.push(
        `| \`${String(parameter['name'])}\` | ${String(parameter['in'])} | ${parameter['required'] === true ? 'yes' : 'no'} | ${describe(parameter['schema'] as Json)} |`,
      );
    }

    lines.push('');
  }

  const body = (
    (operation['requestBody'] as Json | undefined)?.['content'] as
      Record<string, Json> | undefined
  )?.['application/json']?.['schema'] as Json | undefined;
  if (body !== undefined) {
    lines.push('Body:', '', ...fieldTable(body), '');
  }

  const responses = (operation['responses'] ?? {}) as Record<string, Json>;
  const success = Object.keys(responses).filter((status) => status < '300');
  for (const status of success) {
    const response = responses[status] ?? {};
    const schema = (response['content'] as Record<string, Json> | undefined)?.[
      'application/json'
    ]?.['schema'] as Json | undefined;
    const fields = schema === undefined ? [] : fieldTable(schema);
    lines.push(
      `Answers **${status}** ${String(response['description'] ?? '')}${fields.length > 0 ? ':' : '.'}`,
      '',
      ...(fields.length > 0 ? [...fields, ''] : []),
    );
  }

  const errors = Object.keys(responses).filter((status) => status >= '400');
  lines.push(`Errors: ${errors.join(', ')}.`, '');
  return lines.join('\n');
}

function fieldTable(schema: Json): string[] {
  const properties = schema['properties'] as Record<string, Json> | undefined;
  if (properties === undefined || Object.keys(properties).length === 0) {
    return [`${describe(schema)}`];
  }

  return [
    '| Field | Required | Schema |',
    '| --- | --- | --- |',
    ...fieldRows(schema, ''),
  ];
}

/** Rows of an object's fields; fields of nested objects as `a.b`. */
function fieldRows(schema: Json, path: string): string[] {
  const properties = (schema['properties'] ?? {}) as Record<string, Json>;
  const required = new Set((schema['required'] as string[] | undefined) ?? []);
  return Object.entries(properties).flatMap(([name, property]) => [
    `| \`${path}${name}\` | ${required.has(name) ? 'yes' : 'no'} | ${describe(property)} |`,
    ...(property['type'] === 'object' && property['properties'] !== undefined
      ? fieldRows(property, `${path}${name}.`)
      : []),
  ]);
}

/** One line for a schema: its type and constraints, escaped for a table. */
export function describe(schema: Json | undefined): string {
  return summary(schema ?? {}).replaceAll('|', '\\|');
}

function summary(schema: Json): string {
  const alternatives = (schema['anyOf'] ?? schema['oneOf']) as
    Json[] | undefined;
  if (alternatives !== undefined) {
    return alternatives.map(summary).join(' or ');
  }

  if ('const' in schema) {
    return `\`${JSON.stringify(schema['const'])}\``;
  }

  const type = schema['type'];
  const notes: string[] = [];
  const note = (key: string, label: string) => {
    if (schema[key] !== undefined) {
      notes.push(`${label} ${JSON.stringify(schema[key])}`);
    }
  };
  note('format', 'format');
  note('pattern', 'pattern');
  note('minLength', 'min length');
  note('maxLength', 'max length');
  note('minimum', 'min');
  note('maximum', 'max');
  note('minItems', 'min items');
  note('maxItems', 'max items');
  note('default', 'default');
  let head: string;
  if (type === 'array') {
    head = `array of ${summary((schema['items'] ?? {}) as Json)}`;
  } else if (type === 'object') {
    const properties = Object.keys(
      (schema['properties'] ?? {}) as Record<string, unknown>,
    );
    head =
      properties.length > 0
        ? `object {${properties.join(', ')}}`
        : schema['additionalProperties'] !== undefined &&
            typeof schema['additionalProperties'] === 'object'
          ? `map of ${summary(schema['additionalProperties'] as Json)}`
          : 'object';
  } else if (typeof type === 'string') {
    head = type;
  } else {
    head = 'any JSON';
  }

  const description =
    typeof schema['description'] === 'string'
      ? ` — ${schema['description']}`
      : '';
  return `${head}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}${description}`;
}
