// Counts in messages and descriptions with a comma between groups of three digits, as
// toLocaleString('en-US') writes them, without loading ICU's number formatting: the first
// toLocaleString of a process reads some 4 MB of the node binary's ICU data, resident from then on
// (issue 18).

/** The integer `n` with a comma between each group of three digits: 10000 → "10,000", -1234 → "-1,234". */
export function withThousands(n: number): string {
  if (!Number.isSafeInteger(n)) throw new RangeError(`withThousands takes a safe integer, got ${n}`);
  return String(n).replace(/\B(?=(\d{3})+$)/g, ',');
}
