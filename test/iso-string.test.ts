// The ISO 8601 text of DateTime fields and of log lines' time, written without Date.prototype.toISOString
// for the common range: it must say exactly what toISOString says, for every instant.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoString, isoStringOfMs } from '../src/iso-string.js';
import { isoTimestamp } from '../src/logger.js';

describe('isoString', () => {
  it('is toISOString for every instant, in range or not', () => {
    const bounds = [0, 1, 9, 10, 99, 100, 999, 1000, 59_999, 3_599_999, 86_399_999, 86_400_000, 951_782_400_000, 253_402_300_799_999];
    for (const ms of [...bounds, ...bounds.map((b) => -b), 253_402_300_800_000, 8.64e15, -8.64e15]) {
      expect(isoStringOfMs(ms)).toBe(new Date(ms).toISOString());
      expect(isoString(new Date(ms))).toBe(new Date(ms).toISOString());
    }
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
        expect(isoString(new Date(ms))).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 5_000 },
    );
    // Many days in a row: the remembered day prefixes are emptied and filled again.
    for (let day = 0; day < 5_000; day++) {
      const ms = day * 86_400_000 + ((day * 7_919_993) % 86_400_000);
      expect(isoStringOfMs(ms)).toBe(new Date(ms).toISOString());
    }
  });

  it('throws as toISOString does for an invalid date', () => {
    expect(() => isoString(new Date(Number.NaN))).toThrow(RangeError);
  });

  it("is the log line's time", () => {
    const before = Date.now();
    const stamp = isoTimestamp();
    const after = Date.now();
    const time = /^,"time":"(.+)"$/.exec(stamp)?.[1];
    expect(time).toBeDefined();
    expect(new Date(time!).toISOString()).toBe(time);
    expect(new Date(time!).getTime()).toBeGreaterThanOrEqual(before);
    expect(new Date(time!).getTime()).toBeLessThanOrEqual(after);
  });
});
