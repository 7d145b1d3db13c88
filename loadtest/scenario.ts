/**
 * Scenario files: what a run does, in YAML or JSON. The schema below is the
 * reference (docs/loadtest.md renders it with examples); unknown fields are
 * refused so a typo fails the run instead of silently using a default.
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { LoadtestError } from './loadtest-error.js';

const rate = (description: string) =>
  Type.Number({ minimum: 0, default: 0, description });

const Strict = { additionalProperties: false } as const;

export const PublishMixSchema = Type.Object(
  {
    host: rate('host messages per room per second'),
    gift: rate('gifts per room per second'),
    system: rate('system messages per room per second'),
    chat: rate('chat messages per room per second (admin API)'),
    like: rate('likes per room per second (admin API)'),
    join: rate('joins per room per second (admin API)'),
    chatBytes: Type.Integer({ minimum: 8, maximum: 500, default: 40 }),
  },
  { ...Strict, default: {} },
);

export const ChaosStepSchema = Type.Object(
  {
    atSeconds: Type.Number({
      minimum: 0,
      description: 'seconds after publishing starts',
    }),
    action: Type.Union([
      Type.Literal('reconnect-storm'),
      Type.Literal('abort-connections'),
      Type.Literal('kill-edge'),
      Type.Literal('drain-edge'),
      Type.Literal('kill-shard'),
      Type.Literal('stop-redis'),
    ]),
    /** Share of viewers affected (reconnect-storm, abort-connections). */
    share: Type.Number({ minimum: 0, maximum: 1, default: 1 }),
    /** Which process of a cluster (kill-edge, drain-edge, kill-shard). */
    index: Type.Integer({ minimum: 0, default: 0 }),
  },
  Strict,
);

export const ObjectivesSchema = Type.Object(
  {
    maxReliableLost: Type.Integer({ minimum: 0, default: 0 }),
    maxReliableDuplicated: Type.Integer({ minimum: 0, default: 0 }),
    maxConnectFailures: Type.Optional(Type.Integer({ minimum: 0 })),
    maxReliableP99Ms: Type.Optional(Type.Number({ minimum: 0 })),
    maxChatP99Ms: Type.Optional(Type.Number({ minimum: 0 })),
    minDeliveredItemsPerSecond: Type.Optional(Type.Number({ minimum: 0 })),
    /**
     * Viewers not connected at the end, leaving out connect failures and
     * connections the scenario aborted on purpose.
     */
    maxViewersGone: Type.Integer({ minimum: 0, default: 0 }),
    /** Viewers closed by the server before the end (any code). */
    maxClosedEarly: Type.Optional(Type.Integer({ minimum: 0 })),
    maxPublishRefused: Type.Optional(Type.Integer({ minimum: 0 })),
    maxServiceRssBytes: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { ...Strict, default: {} },
);

export const ScenarioSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    description: Type.String({ default: '' }),
    durationSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600 }),
    /**
     * How long, after publishing, viewers get to receive every reliable item
     * before the ones still missing count as lost. Slow readers need longer.
     */
    drainTimeoutSeconds: Type.Number({
      exclusiveMinimum: 0,
      maximum: 600,
      default: 15,
    }),
    rooms: Type.Object(
      {
        count: Type.Integer({ minimum: 1, maximum: 100_000 }),
        viewersPerRoom: Type.Integer({ minimum: 1, maximum: 400_000 }),
      },
      Strict,
    ),
    arrival: Type.Object(
      {
        connectPerSecond: Type.Number({ exclusiveMinimum: 0, default: 2000 }),
        /** Bound on connecting everyone; default 3x the planned ramp + 120 s. */
        timeoutSeconds: Type.Optional(
          Type.Number({ exclusiveMinimum: 0, maximum: 3600 }),
        ),
        /**
         * A viewer whose first connect fails tries again, with backoff and
         * jitter as clients do, until a minute before the bound; every
         * failed attempt is still counted. Default: a failed first connect
         * is final.
         */
        retry: Type.Boolean({ default: false }),
      },
      { ...Strict, default: {} },
    ),
    publish: PublishMixSchema,
    /**
     * `burst`: publish `count` messages of `type` to the first room as fast
     * as the admin API takes them (`concurrency` in flight), on top of the
     * mix. For order-under-burst cases; latency of a burst is not a rate.
     */
    burst: Type.Optional(
      Type.Object(
        {
          type: Type.Union([
            Type.Literal('host'),
            Type.Literal('gift'),
            Type.Literal('system'),
          ]),
          count: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
          concurrency: Type.Integer({ minimum: 1, maximum: 1024, default: 64 }),
        },
        Strict,
      ),
    ),
    viewers: Type.Object(
      {
        sampleRatio: Type.Number({ minimum: 0, maximum: 1, default: 0.02 }),
        /** Slow readers: a share of viewers reading at most this many bytes/s. */
        slow: Type.Optional(
          Type.Object(
            {
              share: Type.Number({ minimum: 0, maximum: 1 }),
              bytesPerSecond: Type.Integer({ minimum: 1 }),
            },
            Strict,
          ),
        ),
        /** Viewers that leave and come back (with resume) per second. */
        churnPerSecond: Type.Number({ minimum: 0, default: 0 }),
        /** Chat frames sent by viewers, per room per second. */
        chatPerSecond: Type.Number({ minimum: 0, default: 0 }),
        /** Like frames sent by viewers, per room per second. */
        likesPerSecond: Type.Number({ minimum: 0, default: 0 }),
        /** Reconnect after a server close whose advice allows it. */
        reconnect: Type.Boolean({ default: true }),
      },
      { ...Strict, default: {} },
    ),
    chaos: Type.Array(ChaosStepSchema, { default: [] }),
    objectives: ObjectivesSchema,
    /** `cluster` scenarios need `--spawn cluster`. */
    topology: Type.Union([Type.Literal('any'), Type.Literal('cluster')], {
      default: 'any',
    }),
  },
  Strict,
);

export type Scenario = Static<typeof ScenarioSchema>;
export type PublishMix = Static<typeof PublishMixSchema>;
export type ChaosStep = Static<typeof ChaosStepSchema>;
export type Objectives = Static<typeof ObjectivesSchema>;

/** Validates a parsed scenario and fills in defaults. */
export function parseScenario(value: unknown, source = 'scenario'): Scenario {
  const withDefaults = Value.Default(ScenarioSchema, structuredClone(value));
  if (!Value.Check(ScenarioSchema, withDefaults)) {
    const problems = [...Value.Errors(ScenarioSchema, withDefaults)]
      .slice(0, 5)
      .map((error) => `${error.path || '/'}: ${error.message}`);
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      `${source} is not a valid scenario: ${problems.join('; ')}`,
    );
  }

  return withDefaults;
}

/** Reads a `.yaml`, `.yml` or `.json` scenario file. */
export async function loadScenario(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      `cannot read scenario ${path}`,
      { cause },
    );
  }

  let value: unknown;
  try {
    value = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new LoadtestError(
      'LOADTEST_BAD_OPTION',
      `${basename(path)} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(cause as Error).message}`,
      { cause },
    );
  }

  return parseScenario(value, basename(path));
}

/** Total viewers of a scenario. */
export function viewerCount(scenario: Scenario): number {
  return scenario.rooms.count * scenario.rooms.viewersPerRoom;
}
