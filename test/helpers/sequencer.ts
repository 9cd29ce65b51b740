// The order test files start in. With a few workers on a small machine the run lasts as long as
// its last file, so the long ones should start first. Vitest's own order (BaseSequencer.sort) does
// that from the last run's durations (node_modules/.vite/vitest/), project by project; a file with
// no duration yet (every file, on a first run) it orders by size alone. What size does not tell is
// that a file launching Chromium or spawning the gateway takes the longest by far, small or not: this
// sequencer keeps vitest's order and only moves those files, when they have no duration yet, to
// the front of their project.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** What makes a file heavy: a browser, or the gateway as a process of its own. */
const HEAVY = /from 'playwright-core'|from '\.\/helpers\/(process|attacks)\.js'|spawn\(|execFile\(/;

export default class HeavyFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    // Vitest keeps the files of a project (and of a group) together; each run keeps its place.
    const runs = new Map<string, [heavy: TestSpecification[], rest: TestSpecification[]]>();
    for (const spec of await super.sort(files)) {
      const key = `${spec.project.config.sequence.groupOrder}:${spec.project.name}`;
      let run = runs.get(key);
      if (!run) runs.set(key, (run = [[], []]));
      run[this.#unmeasuredHeavy(spec) ? 0 : 1].push(spec);
    }
    return [...runs.values()].flat(2);
  }

  /** A heavy file that vitest has no duration for. */
  #unmeasuredHeavy(spec: TestSpecification): boolean {
    const key = `${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`;
    return !this.ctx.cache.getFileTestResults(key) && HEAVY.test(readFileSync(spec.moduleId, 'utf8'));
  }
}
