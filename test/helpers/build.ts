// Tests run what `npm start` runs: the gateway and its command-line tools as built into dist/
// (scripts/build.mjs). Built once per test run, from the global setup.
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain JavaScript module without types
import { buildDist } from '../../scripts/build.mjs';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** `node <args> dist/<name>.js`, as `npm start` / `npm run admin` / `npm run check-db` run it. */
export function distCommand(name: 'server' | 'admin' | 'check-db'): string[] {
  return ['--enable-source-maps', `${projectRoot}dist/${name}.js`];
}

let built: Promise<void> | undefined;

/** Builds dist/ from the sources of this checkout, once per process. */
export function buildDistOnce(): Promise<void> {
  return (built ??= buildDist());
}
