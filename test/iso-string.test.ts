// The ISO 8601 text of DateTime fields and of log lines' time, written without Date.prototype.toISOString
// for the common range: it must say exactly what toISOString says, for every instant.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoString, isoStringOfMs } from '../src/iso-string.js';
import { isoTimestamp } from '../src/logger.js';

/** 9999-12-31T23:59:59.999Z, the last instant toISOString writes with a four-digit year. */
const MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999;

describe('isoString', () => {
  it('is toISOString for every instant, in range or not', () => {
    const bounds = [0, 1, 9, 10, 99, 100, 999, 1000, 59_999, 3_599_999, 86_399_999, 86_400_000, 951_782_400_000, 253_402_300_799_999];
    const fractions = [0.5, 1.5, 9.9, 999.999, 59_999.5, 86_399_999.9, -0.5, -1.5, 253_402_300_799_999.5];
    for (const ms of [...bounds, ...bounds.map((b) => -b), ...fractions, 253_402_300_800_000, 8.64e15, -8.64e15]) {
      expect(isoStringOfMs(ms)).toBe(new Date(ms).toISOString());
      expect(isoString(new Date(ms))).toBe(new Date(ms).toISOString());
    }
    // Every instant a Date can hold: most of them lie outside 1970–9999 and go to toISOString.
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
        expect(isoString(new Date(ms))).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 1_000 },
    );
    // The range written without toISOString, 1970 to 9999, in whole milliseconds…
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_FOUR_DIGIT_YEAR_MS }), (ms) => {
        expect(isoStringOfMs(ms)).toBe(new Date(ms).toISOString());
        expect(isoString(new Date(ms))).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 5_000 },
    );
    // …and with a fraction of a millisecond, which Date drops (truncated toward zero).
    const fractional = fc
      .tuple(fc.integer({ min: 0, max: MAX_FOUR_DIGIT_YEAR_MS }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }))
      .map(([whole, fraction]) => Math.min(whole + fraction, MAX_FOUR_DIGIT_YEAR_MS + 0.5));
    fc.assert(
      fc.property(fc.oneof(fractional, fc.double({ min: -1, max: MAX_FOUR_DIGIT_YEAR_MS + 1, noNaN: true })), (ms) => {
        expect(isoStringOfMs(ms)).toBe(new Date(ms).toISOString());
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
