import { is, sql } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import type { Executor } from '../db/client.js';
import * as gatewaySchema from '../db/schema.js';
import { entryLabel, readDeclarationsFile, type LinkedDataDeclaration, type ParsedDeclaration } from './declarations.js';
import { LinkedDataError } from './errors.js';

/**
 * A declared table and column as the live catalog has them. Only checkLinkedData makes these, so
 * every name in one is a name the database itself reported; SQL built from it quotes them again.
 */
export interface LinkedTable {
  /** 1-based position in the declarations. */
  readonly entry: number;
  readonly declared: LinkedDataDeclaration;
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  readonly columnType: 'uuid' | 'text';
  /** Whether an index starts with the column; without one, counting and purging scan the table. */
  readonly indexed: boolean;
  /** `schema.table`, for people (API results, audit events, messages). */
  readonly name: string;
}

// The gateway's own tables: their rows are the gateway's business (deleteUser already removes
// identities and sessions; the audit trail must outlive the user), never the app's data.
const GATEWAY_TABLES = new Set(
  (Object.values(gatewaySchema) as unknown[])
    .filter((value): value is PgTable => is(value, PgTable))
    .map((table) => getTableConfig(table).name),
);
const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema', 'pg_toast', 'drizzle']);

const RELATION_KINDS: Record<string, string> = {
  v: 'a view',
  m: 'a materialized view',
  f: 'a foreign table',
  S: 'a sequence',
  i: 'an index',
  I: 'an index',
  c: 'a composite type',
  t: 'a TOAST table',
};

interface RelationRow {
  oid: string;
  schema: string;
  table: string;
  kind: string;
  own_schema: boolean;
  can_select: boolean;
  can_delete: boolean;
}

interface ColumnRow {
  name: string;
  type: string;
  is_uuid: boolean;
  is_text: boolean;
  indexed: boolean;
}

async function rows<T>(ex: Executor, query: ReturnType<typeof sql>): Promise<T[]> {
  return ((await ex.execute(query)) as unknown as { rows: T[] }).rows;
}

const quoted = (name: string) => JSON.stringify(name);

async function findRelation(ex: Executor, d: ParsedDeclaration): Promise<RelationRow | null> {
  // Unqualified names resolve along the search_path, first schema first, as PostgreSQL resolves them.
  const [row] = await rows<RelationRow>(
    ex,
    sql`
      SELECT c.oid::text AS oid, n.nspname AS schema, c.relname AS table, c.relkind AS kind,
             n.nspname = current_schema() AS own_schema,
             has_table_privilege(c.oid, 'SELECT') AS can_select,
             has_table_privilege(c.oid, 'DELETE') AS can_delete
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = ${d.table}
        AND CASE WHEN ${d.schema}::text IS NULL THEN n.nspname = ANY (current_schemas(false))
                 ELSE n.nspname = ${d.schema}::text END
      ORDER BY array_position(current_schemas(false), n.nspname)
      LIMIT 1`,
  );
  return row ?? null;
}

async function missingTableProblem(ex: Executor, d: ParsedDeclaration): Promise<string> {
  const [where] = await rows<{ schemas: string[] | string }>(ex, sql`SELECT current_schemas(false)::text[] AS schemas`);
  const schemas = Array.isArray(where?.schemas) ? where.schemas : String(where?.schemas ?? '').replace(/[{}]/g, '').split(',');
  const similar = await rows<{ name: string }>(
    ex,
    sql`
      SELECT n.nspname || '.' || c.relname AS name
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE lower(c.relname) = lower(${d.table}) AND c.relkind IN ('r', 'p')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      ORDER BY 1
      LIMIT 3`,
  );
  const place = d.schema ? `in schema ${quoted(d.schema)}` : `in the search_path (${schemas.join(', ') || 'empty'})`;
  const hint = similar.length ? `; did you mean ${similar.map((s) => quoted(s.name)).join(' or ')}? (names are compared exactly, case included)` : '';
  return `table ${quoted(d.declared.table)} does not exist ${place}${hint}`;
}

function relationProblem(relation: RelationRow): string | null {
  const name = quoted(`${relation.schema}.${relation.table}`);
  if (relation.kind !== 'r' && relation.kind !== 'p') {
    return `${name} is ${RELATION_KINDS[relation.kind] ?? 'not a table'}, not a table; declare the table that holds the rows`;
  }
  if (SYSTEM_SCHEMAS.has(relation.schema) || relation.schema.startsWith('pg_')) {
    return `${name} is a system table, not one of the app's`;
  }
  if (relation.own_schema && GATEWAY_TABLES.has(relation.table)) {
    return `${name} is one of the gateway's own tables, not the app's (deleteUser already takes care of its rows)`;
  }
  if (!relation.can_select || !relation.can_delete) {
    return `the gateway's database role lacks the ${!relation.can_select ? 'SELECT' : 'DELETE'} privilege on ${name}, which counting and purging need`;
  }
  return null;
}

function columnProblem(relation: RelationRow, columns: ColumnRow[], d: ParsedDeclaration): string | null {
  const name = quoted(`${relation.schema}.${relation.table}`);
  const column = columns.find((c) => c.name === d.column);
  if (!column) {
    const candidates = columns.filter((c) => c.is_uuid || c.is_text).map((c) => quoted(c.name));
    const sameButCase = columns.find((c) => c.name.toLowerCase() === d.column.toLowerCase());
    return (
      `column ${quoted(d.column)} does not exist in ${name}` +
      (sameButCase ? `; did you mean ${quoted(sameButCase.name)}? (names are compared exactly, case included)` : '') +
      (candidates.length ? `; its uuid and text columns are ${candidates.join(', ')}` : '; it has no uuid or text column')
    );
  }
  if (!column.is_uuid && !column.is_text) {
    return `column ${quoted(d.column)} of ${name} has type ${column.type}; a column that points at a user must be uuid or text`;
  }
  return null;
}

/**
 * Checks each declaration against the live catalog (pg_catalog; the same on PostgreSQL and PGlite)
 * and returns the tables and columns as the database names them. The first problem stops it with a
 * LinkedDataError naming the source, the entry and what is wrong.
 */
export async function checkLinkedData(
  ex: Executor,
  declarations: readonly ParsedDeclaration[],
  source: string,
): Promise<LinkedTable[]> {
  const checked: LinkedTable[] = [];
  const seen = new Map<string, number>();
  for (const d of declarations) {
    const fail = (problem: string) => new LinkedDataError(`${entryLabel(source, d.entry, d.declared)}: ${problem}.`);
    const relation = await findRelation(ex, d);
    if (!relation) throw fail(await missingTableProblem(ex, d));
    const relationIssue = relationProblem(relation);
    if (relationIssue) throw fail(relationIssue);
    const columns = await rows<ColumnRow>(
      ex,
      sql`
        SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
               a.atttypid = 'uuid'::regtype AS is_uuid, a.atttypid = 'text'::regtype AS is_text,
               EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = a.attrelid AND i.indkey[0] = a.attnum) AS indexed
        FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = ${relation.oid}::oid AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
    );
    const columnIssue = columnProblem(relation, columns, d);
    if (columnIssue) throw fail(columnIssue);
    const column = columns.find((c) => c.name === d.column)!;
    const key = `${relation.schema}\u0000${relation.table}\u0000${column.name}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) throw fail(`it names the same column as entry ${earlier}`);
    seen.set(key, d.entry);
    checked.push(
      Object.freeze({
        entry: d.entry,
        declared: Object.freeze({ ...d.declared }),
        schema: relation.schema,
        table: relation.table,
        column: column.name,
        columnType: column.is_uuid ? 'uuid' : 'text',
        indexed: column.indexed,
        name: `${relation.schema}.${relation.table}`,
      }),
    );
  }
  return checked;
}

/** What the server does at start: read LINKED_DATA_FILE and check it against the database. */
export async function loadLinkedDataFile(ex: Executor, path: string): Promise<LinkedTable[]> {
  return checkLinkedData(ex, readDeclarationsFile(path), `LINKED_DATA_FILE (${path})`);
}
