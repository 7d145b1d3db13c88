/**
 * Builds the SDK for distribution: one minified ES module with no imports
 * (browsers and Node alike) and its type declarations.
 *
 *   node --import tsx sdk/build.ts [--bundle-only]
 *
 * writes sdk/dist/roomcast.js (+ .map) and sdk/dist/types/. The edge serves
 * the module to the live-room page at /sdk/roomcast.js. `--bundle-only`
 * skips the declarations, which need the TypeScript compiler (a dev
 * dependency); the bundle needs only esbuild.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const sdkDir = fileURLToPath(new URL('.', import.meta.url));
const rootDir = fileURLToPath(new URL('..', import.meta.url));
export const bundlePath = fileURLToPath(
  new URL('dist/roomcast.js', import.meta.url),
);

/** Bundles the SDK; resolves to the bundle's size in bytes, raw and gzipped. */
export async function buildBundle(): Promise<{ bytes: number; gzip: number }> {
  await build({
    entryPoints: [`${sdkDir}index.ts`],
    outfile: bundlePath,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  });
  const code = await readFile(bundlePath);
  return { bytes: code.byteLength, gzip: gzipSync(code).byteLength };
}

/** Writes the .d.ts files; throws with the compiler's messages on errors. */
export async function buildTypes(): Promise<void> {
  const { default: ts } = await import('typescript');
  const program = ts.createProgram([`${sdkDir}index.ts`], {
    declaration: true,
    emitDeclarationOnly: true,
    outDir: `${sdkDir}dist/types`,
    rootDir,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    types: [],
    // The browser's globals, not Node's: the SDK must run on either.
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
  });
  const result = program.emit();
  const diagnostics = [
    ...ts.getPreEmitDiagnostics(program),
    ...result.diagnostics,
  ];
  if (diagnostics.length > 0) {
    throw new Error(
      ts.formatDiagnostics(diagnostics, {
        getCanonicalFileName: (name) => name,
        getCurrentDirectory: () => rootDir,
        getNewLine: () => '\n',
      }),
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const size = await buildBundle();
  if (!process.argv.includes('--bundle-only')) {
    await buildTypes();
  }

  process.stdout.write(
    `sdk/dist/roomcast.js: ${size.bytes} bytes, ${size.gzip} gzipped\n`,
  );
}
