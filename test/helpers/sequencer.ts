// The order test files start in. With a few workers on a small machine the run lasts as long as
// its last file: the long ones start first, so that none of them starts last and runs alone.
// Long means what the previous run measured (vitest keeps each file's duration in
// node_modules/.vite/vitest/); on a first run, when nothing was measured yet, a file that launches
// Chromium or spawns the gateway (these take the longest by far) before the others, larger first.
import { readFileSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** What makes a file heavy: a browser, or the gateway as a process of its own. */
const HEAVY = /from 'playwright-core'|from '\.\/helpers\/(process|attacks)\.js'|spawn\(|execFile\(/;

export default class SlowestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const estimate = new Map(files.map((spec) => [spec, this.#estimateMs(spec)]));
    return [...files].sort((a, b) => {
      const group = a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder;
      if (group !== 0) return group;
      // One project after the other, as vitest does.
      if (a.project.name !== b.project.name) return a.project.name < b.project.name ? -1 : 1;
      return estimate.get(b)! - estimate.get(a)!;
    });
  }

  /** The file's duration in the last run, else a guess from what it does and its size. */
  #estimateMs(spec: TestSpecification): number {
    const key = `${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`;
    const measured = this.ctx.cache.getFileTestResults(key)?.duration;
    if (measured !== undefined && measured > 0) return measured;
    const source = readFileSync(spec.moduleId, 'utf8');
    // Roughly: a heavy file 30 s and more, another about 1 s per 2 KB of tests.
    return (HEAVY.test(source) ? 30_000 : 0) + statSync(spec.moduleId).size / 2;
  }
}
