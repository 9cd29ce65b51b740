// Tests run what `npm start` runs: the gateway and its command-line tools as built into dist/
// (scripts/build.mjs). Built once per test run, from the global setup.
// @ts-expect-error: a plain JavaScript module without types
import { buildDist } from '../../scripts/build.mjs';

let built: Promise<void> | undefined;

/** Builds dist/ from the sources of this checkout, once per process. */
export function buildDistOnce(): Promise<void> {
  return (built ??= buildDist());
}
