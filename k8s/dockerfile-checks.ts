/**
 * Reads the Dockerfile's stages and checks them against package.json, for
 * machines with no Docker engine to build the image: the base image's Node
 * satisfies `engines`, dependencies come from the lockfile without dev
 * packages, the runtime stage copies them from that stage, runs as a
 * numeric non-root user, exposes the role ports and starts the package's
 * `roomcast` bin.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SETTINGS } from '../config/index.js';

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
}

export interface PackageJson {
  engines?: { node?: string };
  bin?: Record<string, string>;
  scripts?: Record<string, string>;
}

/** Splits a Dockerfile into stages, joining continued lines. */
export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) {
      continue;
    }

    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }

    logical.push(`${pending}${line}`.trim());
    pending = '';
  }

  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    if (line === '') {
      continue;
    }

    const space = line.search(/\s/);
    const keyword = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const args = space < 0 ? '' : line.slice(space + 1).trim();
    const current = stages[stages.length - 1];
    if (keyword === 'ARG' && current === undefined) {
      const [name, value] = args.split('=', 2);
      globalArgs.set(name ?? '', value ?? '');
    } else if (keyword === 'FROM') {
      const [image = '', , name] = args.split(/\s+/);
      const resolved = image.replace(
        /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
        (_, arg: string) => globalArgs.get(arg) ?? '',
      );
      stages.push({
        name: name ?? String(stages.length),
        image: resolved,
        instructions: [],
      });
    } else if (current !== undefined) {
      current.instructions.push({ keyword, args });
    }
  }

  return stages;
}

function execForm(args: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(args);

    return Array.isArray(parsed) ? parsed.map(String) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks parsed stages against package.json and the files in `root`.
 * @param ignored the .dockerignore patterns, one a line
 */
export function checkDockerfile(
  stages: readonly Stage[],
  pkg: PackageJson,
  root: string,
  ignored: readonly string[],
): string[] {
  const problems: string[] = [];
  if (stages.length < 2) {
    problems.push('the Dockerfile must have a dependency and a runtime stage');
  }

  const runtime = stages[stages.length - 1];
  const minimumNode = Number(
    />=\s*([0-9]+)/.exec(pkg.engines?.node ?? '')?.[1],
  );
  for (const stage of stages) {
    const major = Number(/^node:([0-9]+)/.exec(stage.image)?.[1]);
    if (!(major >= minimumNode)) {
      problems.push(
        `stage ${stage.name}: ${stage.image} is not a node image satisfying engines ${String(pkg.engines?.node)}`,
      );
    }

    for (const { keyword, args } of stage.instructions) {
      if (keyword === 'COPY' && !args.includes('--from=')) {
        const sources = args.split(/\s+/).filter((a) => !a.startsWith('--'));
        for (const source of sources.slice(0, -1)) {
          if (source !== '.' && !existsSync(path.join(root, source))) {
            problems.push(`stage ${stage.name}: copies ${source}, missing`);
          }
        }
      }

      for (const match of args.matchAll(/npm run ([A-Za-z0-9:_-]+)/g)) {
        const script = match[1] ?? '';
        if (pkg.scripts?.[script] === undefined) {
          problems.push(
            `stage ${stage.name}: runs npm script ${script}, missing`,
          );
        }
      }
    }
  }

  const depsStage = stages.find((stage) =>
    stage.instructions.some(
      (i) =>
        i.keyword === 'RUN' &&
        /\bnpm ci\b/.test(i.args) &&
        /--omit=dev\b/.test(i.args),
    ),
  );
  if (depsStage === undefined || depsStage === runtime) {
    problems.push('no build stage runs npm ci --omit=dev');
  }

  if (runtime === undefined) {
    return problems;
  }

  const copiesDeps = runtime.instructions.some(
    (i) =>
      i.keyword === 'COPY' &&
      i.args.includes(`--from=${depsStage?.name ?? '?'}`) &&
      i.args.includes('node_modules'),
  );
  if (!copiesDeps) {
    problems.push('the runtime stage does not copy node_modules from npm ci');
  }

  const user = runtime.instructions.filter((i) => i.keyword === 'USER').pop();
  const uid = /^([0-9]+)(:[0-9]+)?$/.exec(user?.args ?? '')?.[1];
  if (uid === undefined || Number(uid) === 0) {
    problems.push('the runtime stage must end on a numeric non-root USER');
  }

  const entry = execForm(
    runtime.instructions.filter((i) => i.keyword === 'ENTRYPOINT').pop()
      ?.args ?? '',
  );
  const bin = pkg.bin?.roomcast;
  if (entry?.[0] !== 'node' || entry[1] !== bin || entry.length !== 2) {
    problems.push(
      `ENTRYPOINT must be ["node", "${String(bin)}"], the package's roomcast bin`,
    );
  }

  // `npm start` may run build scripts first (`npm run x && node bin`); the
  // image must have run each of them in one of its stages.
  const startSteps = (pkg.scripts?.start ?? '')
    .split('&&')
    .map((step) => step.trim());
  if (startSteps.at(-1) !== `node ${String(bin)}`) {
    problems.push('npm start and the image start different entries');
  }

  const imageRuns = stages.flatMap((stage) =>
    stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args),
  );
  for (const step of startSteps.slice(0, -1)) {
    if (!imageRuns.some((run) => run.includes(step))) {
      problems.push(`npm start runs "${step}" but no image stage does`);
    }
  }

  const exposed = runtime.instructions
    .filter((i) => i.keyword === 'EXPOSE')
    .flatMap((i) => i.args.split(/\s+/).map(Number));
  for (const setting of [
    SETTINGS.adminPort,
    SETTINGS.edgePort,
    SETTINGS.shardPort,
  ]) {
    const port = (setting.schema as { default?: unknown }).default;
    if (!exposed.includes(Number(port))) {
      problems.push(`the runtime stage does not expose ${setting.env}`);
    }
  }

  for (const needed of ['node_modules', '.git', '.env']) {
    if (!ignored.includes(needed)) {
      problems.push(`.dockerignore does not exclude ${needed}`);
    }
  }

  return problems;
}
