import { sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { UUID_PATTERN } from '../db/keyset.js';
import { userIdOrNull } from '../users/rules.js';
import type { LinkedTable } from './catalog.js';
import { LinkedDataPurgeError } from './errors.js';

/** Rows of one declared table that point at one user. */
export interface LinkedDataCount {
  /** `schema.table`. */
  table: string;
  column: string;
  count: number;
}

// Identifiers are the catalog's own names, quoted by drizzle; user ids are always parameters.
const tableRef = (t: LinkedTable): SQL => sql`${sql.identifier(t.schema)}.${sql.identifier(t.table)}`;
const columnRef = (t: LinkedTable): SQL => sql`${sql.identifier(t.column)}`;

/** The user ids as one array parameter of the column's type. */
function userIdArray(t: LinkedTable, userIds: readonly string[]): SQL {
  const literal = `{${userIds.map((id) => `"${id}"`).join(',')}}`;
  return t.columnType === 'uuid' ? sql`${literal}::uuid[]` : sql`${literal}::text[]`;
}

// A uuid column holds only UUID ids: any other id matches none of its rows (and must not reach a ::uuid cast).
const fitsColumn = (t: LinkedTable, userId: string): boolean => t.columnType !== 'uuid' || UUID_PATTERN.test(userId);

function userIdValue(t: LinkedTable, userId: string): SQL {
  return t.columnType === 'uuid' ? sql`${userId}::uuid` : sql`${userId}::text`;
}

/**
 * How many rows of each declared table point at each of the users, in declaration order, for a
 * whole page of users in one statement (one UNION ALL branch per table, each an index-driven
 * `= ANY` group-by when the column is indexed). Text columns match the id as this API prints it.
 */
export async function countLinkedRows(
  ex: Executor,
  tables: readonly LinkedTable[],
  userIds: readonly string[],
): Promise<Map<string, LinkedDataCount[]>> {
  // User ids come from the users table; anything else could not match and stays out of the literal.
  const ids = [...new Set(userIds.map(userIdOrNull).filter((id): id is string => id !== null))];
  const counted = new Map<string, number>();
  const branches = tables.flatMap((t, i) => {
    const fitting = ids.filter((id) => fitsColumn(t, id));
    return fitting.length === 0
      ? []
      : [
          sql`(SELECT ${i}::int AS entry, ${columnRef(t)}::text AS user_id, count(*)::int AS n
        FROM ${tableRef(t)} WHERE ${columnRef(t)} = ANY (${userIdArray(t, fitting)}) GROUP BY ${columnRef(t)})`,
        ];
  });
  if (branches.length > 0) {
    const result = (await ex.execute(sql.join(branches, sql` UNION ALL `))) as unknown as {
      rows: { entry: number; user_id: string; n: number }[];
    };
    for (const r of result.rows) counted.set(`${r.entry}:${r.user_id}`, Number(r.n));
  }
  return new Map(
    userIds.map((id) => [
      id,
      tables.map((t, i) => ({ table: t.name, column: t.column, count: counted.get(`${i}:${userIdOrNull(id) ?? ''}`) ?? 0 })),
    ]),
  );
}

// Refusals the database gives for a reason an operator can act on: a trigger raised, another table's
// foreign key points at the rows, a privilege or lock is missing, the statement ran out of time.
const REPORTABLE_SQLSTATE = /^(23...|P0...|42501|55P03|57014|40001|40P01)$/;

function databaseError(err: unknown): { code: string; message: string } | null {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return { code, message: String((e as Error).message) };
  }
  return null;
}

/**
 * Deletes every row of the declared tables that points at the user, table by table, inside the
 * caller's transaction; returns how many went from each. A refusal by the database becomes a
 * LinkedDataPurgeError naming the table, and the caller's transaction rolls back whole.
 */
export async function purgeLinkedRows(
  tx: Executor,
  tables: readonly LinkedTable[],
  userId: string,
): Promise<LinkedDataCount[]> {
  const purged: LinkedDataCount[] = [];
  for (const t of tables) {
    if (!fitsColumn(t, userId)) {
      purged.push({ table: t.name, column: t.column, count: 0 });
      continue;
    }
    try {
      const result = (await tx.execute(sql`
        WITH purged AS (DELETE FROM ${tableRef(t)} WHERE ${columnRef(t)} = ${userIdValue(t, userId)} RETURNING 1)
        SELECT count(*)::int AS n FROM purged`)) as unknown as { rows: { n: number }[] };
      purged.push({ table: t.name, column: t.column, count: Number(result.rows[0]?.n ?? 0) });
    } catch (err) {
      const cause = databaseError(err);
      if (cause && REPORTABLE_SQLSTATE.test(cause.code)) {
        throw new LinkedDataPurgeError(t.name, t.column, cause.code, cause.message);
      }
      throw err;
    }
  }
  return purged;
}
