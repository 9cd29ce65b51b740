// Counts written with thousands separators without ICU (src/thousands.ts): exactly what
// toLocaleString('en-US') writes for an integer, and nothing in src/ loads ICU's formatting instead.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withThousands } from '../src/thousands.js';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

describe('withThousands', () => {
  it("is toLocaleString('en-US') for every safe integer", () => {
    for (const n of [0, 1, 12, 123, 999, 1000, 9999, 10_000, 100_000, 999_999, 1_000_000, Number.MAX_SAFE_INTEGER]) {
      expect(withThousands(n)).toBe(n.toLocaleString('en-US'));
      if (n !== 0) expect(withThousands(-n)).toBe((-n).toLocaleString('en-US'));
    }
    fc.assert(fc.property(fc.maxSafeInteger(), (n) => withThousands(n) === n.toLocaleString('en-US')));
  });

  it('refuses what is not a safe integer instead of writing it wrong', () => {
    for (const n of [1.5, -0.25, NaN, Infinity, 2 ** 53]) expect(() => withThousands(n)).toThrow(RangeError);
  });

  it('is what src/ uses: no toLocaleString or Intl formatting, which keep ICU data resident', () => {
    const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(50);
    // Code lines only: comments may name what they avoid.
    const code = (f: string) => readFileSync(join(SRC, f), 'utf8').split('\n').filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line)).join('\n');
    const offenders = files.filter((f) => /\btoLocale(?:String|DateString|TimeString)\(|\bIntl\./.test(code(f)));
    expect(offenders).toEqual([]);
  });
});
