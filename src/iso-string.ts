// Dates as ISO 8601 text, cheaper than V8's toISOString for the many a page of users and the log lines
// write (issue 18).

const DAY_MS = 86_400_000;
/** The last millisecond Date.prototype.toISOString writes with a four-digit year (9999-12-31T23:59:59.999Z). */
const MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999;
/** "YYYY-MM-DDT" of recently serialized days, by day since the epoch. */
const dayPrefixes = new Map<number, string>();
const twoDigits = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/** date.toISOString(), in about half its CPU time (see isoStringOfMs). */
export function isoString(date: Date): string {
  return isoStringOfMs(date.getTime());
}

/**
 * new Date(ms).toISOString(), written from the day's prefix (remembered) and the time of day; a
 * fraction of a millisecond is dropped as Date drops it (truncated toward zero). Instants before 1970
 * or after 9999, and NaN (which throws a RangeError), are left to toISOString.
 */
export function isoStringOfMs(time: number): string {
  if (!(time >= 0 && time <= MAX_FOUR_DIGIT_YEAR_MS)) return new Date(time).toISOString();
  const ms = Math.trunc(time);
  const day = Math.floor(ms / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    if (dayPrefixes.size >= 4096) dayPrefixes.clear();
    prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    dayPrefixes.set(day, prefix);
  }
  let rest = ms - day * DAY_MS;
  const milli = rest % 1000;
  rest = (rest - milli) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  const millis = milli < 10 ? `00${milli}` : milli < 100 ? `0${milli}` : `${milli}`;
  return `${prefix}${twoDigits(hours)}:${twoDigits(minutes)}:${twoDigits(seconds)}.${millis}Z`;
}
