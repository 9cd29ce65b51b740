// The page of users reads timestamptz as PostgreSQL's text and makes the Date itself
// (src/users/repository.ts dateOf): it must be the instant `new Date(text)` makes, as drizzle did.
import { describe, expect, it } from 'vitest';
import { dateOf } from '../src/users/repository.js';

/** PostgreSQL's text of the instant `ms` in a zone of offset `zone` ("+05:30"), DateStyle ISO. */
function pgText(ms: number, zone: string): string {
  const sign = zone[0] === '+' ? 1 : -1;
  const [hours, minutes = '0'] = zone.slice(1).split(':');
  const local = new Date(ms + sign * (Number(hours) * 60 + Number(minutes)) * 60_000).toISOString();
  const fraction = local.slice(20, 23).replace(/0+$/, '');
  return `${local.slice(0, 10)} ${local.slice(11, 19)}${fraction ? `.${fraction}` : ''}${zone}`;
}

describe('a timestamptz read as text', () => {
  it('is the instant new Date makes of it, in any zone, with and without milliseconds', () => {
    const zones = ['+00', '+01', '+05:30', '-03', '-09:30', '+14', '-12'];
    const instants = [0, 1, 999, 1_000, 951_782_400_000, 1_769_860_800_123, 4_102_444_799_999, 253_000_000_000_000];
    let seed = 1;
    for (let i = 0; i < 2_000; i++) instants.push(Math.floor(((seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647) * 253_000_000_000_000));
    for (const ms of instants) {
      for (const zone of zones) {
        const text = pgText(ms, zone);
        expect(dateOf(text).getTime(), text).toBe(new Date(text).getTime());
        expect(dateOf(text).getTime(), text).toBe(ms);
      }
    }
  });

  it('leaves other forms to new Date', () => {
    for (const text of ['0099-01-01 00:00:00+00', '2026-01-31 12:00:00.123456+00', '0001-01-01 00:00:00+00 BC', 'infinity', '2026-01-31T12:00:00.000Z']) {
      expect(String(dateOf(text).getTime())).toBe(String(new Date(text).getTime()));
    }
  });
});
