// `npm run build` (and `prepare`, `prestart`): bundles the entry points of src/ into dist/, one ESM
// file each with a source map, for plain node: `npm start` runs dist/server.js, no TypeScript loader.
// Packages stay in node_modules (imported, not bundled). Every entry point is a file directly in dist/,
// so files read at run time are found from dist/ as from src/ (src/assets.ts: the folder above is
// the project in both cases); nothing needs copying.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** dist/<name>.js ← src/<path>.ts */
export const entryPoints = {
  server: 'src/server.ts',
  admin: 'src/cli/admin.ts',
  'check-db': 'src/cli/check-db.ts',
};

/**
 * Builds into a folder of its own, then moves each file into dist/ by rename, so that a process
 * starting from dist/ meanwhile (a test run, a benchmark, another build) never finds a file missing
 * or half written.
 */
export async function buildDist() {
  const staging = `dist.building-${process.pid}-${Date.now()}`;
  try {
    await build({
      absWorkingDir: root,
      entryPoints,
      outdir: staging,
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: true,
      // The maps point at src/ for stack traces; the sources themselves are on disk, not in every process's heap.
      sourcesContent: false,
      logLevel: 'warning',
    });
    mkdirSync(`${root}dist`, { recursive: true });
    const built = readdirSync(`${root}${staging}`);
    for (const file of built) renameSync(`${root}${staging}/${file}`, `${root}dist/${file}`);
    // What an earlier build left that this one no longer makes (a renamed entry point).
    for (const file of readdirSync(`${root}dist`)) if (!built.includes(file)) rmSync(`${root}dist/${file}`, { recursive: true, force: true });
  } finally {
    rmSync(`${root}${staging}`, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  await buildDist();
  process.stdout.write(`dist/ built in ${Math.round(performance.now() - started)} ms\n`);
}
