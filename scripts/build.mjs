// `npm run build` (and `prepare`, `prestart`): bundles the entry points of src/ into dist/, one ESM
// file each with a source map, for plain node: `npm start` runs dist/server.js, no TypeScript loader.
// Packages stay in node_modules (imported, not bundled). Every entry point is a file directly in dist/,
// so files read at run time are found from dist/ as from src/ (src/assets.ts: the folder above is
// the project in both cases); nothing needs copying.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** dist/<name>.js ← src/<path>.ts */
export const entryPoints = {
  server: 'src/server.ts',
  admin: 'src/cli/admin.ts',
  'check-db': 'src/cli/check-db.ts',
};

export async function buildDist() {
  rmSync(`${root}dist`, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints,
    outdir: 'dist',
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  await buildDist();
  process.stdout.write(`dist/ built in ${Math.round(performance.now() - started)} ms\n`);
}
