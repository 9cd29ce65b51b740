import { sql } from 'drizzle-orm';

/** An instant `seconds` after the transaction's now(), computed by the database. */
export const secondsFromNow = (seconds: number) => sql`now() + make_interval(secs => ${seconds})`;
