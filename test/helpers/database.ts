import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { inject } from 'vitest';
import { openDatabase, pingWithin, type Database, type DatabaseHandle, type DatabaseOptions } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import * as schema from '../../src/db/schema.js';
import { databaseUrl } from './global-setup.js';

export const onPostgres = process.env.TEST_DB === 'postgres';

export interface TestDatabase extends DatabaseHandle {
  /** The connection string of this file's own database, on PostgreSQL; null when embedded. */
  url: string | null;
}

let pgliteTemplate: Promise<Blob | undefined> | undefined;

/**
 * The run's migrated PGlite data directory (see global-setup.ts), read once per test file; for
 * openDatabase's `loadDataDir` on an empty data directory. Undefined where the run made none.
 */
export function migratedPgliteTemplate(): Promise<Blob | undefined> {
  const path = inject('pgliteTemplate');
  return (pgliteTemplate ??= path ? readFile(path).then((bytes) => new Blob([bytes])) : Promise.resolve(undefined));
}

/**
 * A new folder under the system's temporary one holding a migrated embedded database, for a gateway
 * process, the CLI or a restart to open as DATA_DIR. Loaded from the run's template: a first start
 * there would spend seconds on initdb and the migrations. The caller removes it.
 */
export async function createMigratedDataDir(prefix: string): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  const handle = await openDatabase({ kind: 'embedded', dataDir, loadDataDir: await migratedPgliteTemplate() });
  try {
    await runMigrations(handle); // nothing to do when loaded from the template
  } finally {
    await handle.close();
  }
  return dataDir;
}

/**
 * A fresh, migrated database of this file's own: a clone of the run's template on PostgreSQL, a new
 * in-memory PGlite loaded from the run's migrated data directory otherwise. close() drops the clone.
 */
export async function createTestDatabase(options: DatabaseOptions = {}): Promise<TestDatabase> {
  const template = inject('pgTemplate');
  if (!onPostgres || !template) {
    const loadDataDir = await migratedPgliteTemplate();
    if (loadDataDir) return embeddedFromPool(loadDataDir, options);
    // Without the template (a setup of its own), from scratch.
    const handle = await openDatabase({ kind: 'embedded', dataDir: null }, options);
    await runMigrations(handle);
    return { ...handle, url: null };
  }
  const adminUrl = process.env.TEST_DATABASE_URL!;
  const name = `${template}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // Two clones of one template cannot be made at the same moment; retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        break;
      } catch (err) {
        if (attempt >= 20 || !/being accessed by other users/.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  const url = databaseUrl(adminUrl, name);
  const handle = await openDatabase({ kind: 'postgres', url }, options);
  return {
    ...handle,
    url,
    close: async () => {
      await handle.close();
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The embedded databases of one worker process. Loading the template into a new PGlite costs
// about 0.85 s of CPU (the data directory unpacked, PostgreSQL started), and the suite asks for
// more than a hundred. A database closed by its test is instead made fresh again and kept for the
// next one (of this file or a later one in this worker): its session reset (DISCARD ALL), every
// table of the gateway emptied with its sequences restarted, and the rows the template has put
// back, about 0.1 s. Only when its schema is still exactly the template's: one a test changed
// (a table, trigger, function, view, schema, role or column of its own, or a renamed table) is
// closed, and the next one loaded from the template. A closed handle refuses queries, so a stray
// timer of a test that is over cannot write into the next test's database.

interface Pristine {
  /** The schema's fingerprint (see fingerprintSql) as loaded. */
  fingerprint: string;
  /** TRUNCATE … and ALTER SEQUENCE … RESTART, then the template's rows put back. */
  reset: string;
}

const idlePglites: PGlite[] = [];
let pristine: Promise<Pristine> | undefined;

const fingerprintSql = `
  SELECT md5(string_agg(item, ',' ORDER BY item)) AS fingerprint FROM (
    SELECT 'n:' || nspname AS item FROM pg_namespace WHERE nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
    UNION ALL SELECT 'c:' || n.nspname || '.' || c.relname || ':' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    UNION ALL SELECT 'a:' || c.relname || '.' || a.attname || ':' || a.atttypid::text || ':' || a.attnotnull::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL SELECT 'k:' || conrelid::text || ':' || conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace <> 'pg_catalog'::regnamespace
    UNION ALL SELECT 'p:' || n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL SELECT 't:' || tgname FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT 'r:' || rolname FROM pg_roles
    UNION ALL SELECT 'e:' || extname FROM pg_extension
  ) items`;

async function fingerprint(pglite: PGlite): Promise<string> {
  return (await pglite.query<{ fingerprint: string }>(fingerprintSql)).rows[0]!.fingerprint;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** What a freshly loaded template is: its fingerprint, and the statements that make one that is not. */
async function describePristine(pglite: PGlite): Promise<Pristine> {
  const tables = (await pglite.query<{ name: string }>(`SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.name);
  const sequences = (await pglite.query<{ name: string }>(`SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) AS name FROM pg_sequences WHERE schemaname = 'public'`)).rows.map((r) => r.name);
  const statements = [`TRUNCATE ${tables.join(', ')} RESTART IDENTITY CASCADE`, ...sequences.map((s) => `ALTER SEQUENCE ${s} RESTART`)];
  for (const table of tables) {
    const { rows } = await pglite.query<{ rows: unknown[] | null }>(`SELECT json_agg(t) AS rows FROM ${table} t`);
    if (!rows[0]!.rows) continue;
    const json = JSON.stringify(rows[0]!.rows).replace(/'/g, "''");
    statements.push(`INSERT INTO ${table} SELECT * FROM json_populate_recordset(NULL::${table}, '${json}')`);
  }
  return { fingerprint: await fingerprint(pglite), reset: statements.map((s) => `${s};`).join('\n') };
}

/** Makes a used PGlite a freshly migrated database again and keeps it; closes it when its schema was changed. */
async function recycle(pglite: PGlite): Promise<void> {
  if (pglite.closed) return;
  try {
    const { fingerprint: expected, reset } = await pristine!;
    await pglite.exec('DISCARD ALL');
    if ((await fingerprint(pglite)) === expected) {
      await pglite.exec(reset);
      idlePglites.push(pglite);
      return;
    }
  } catch {
    // Left in a state the reset does not undo (a failed transaction, say): load a new one.
  }
  await pglite.close();
}

async function embeddedFromPool(loadDataDir: Blob, options: DatabaseOptions): Promise<TestDatabase> {
  let pglite = idlePglites.pop();
  if (!pglite) {
    const { PGlite } = await import('@electric-sql/pglite');
    pglite = new PGlite({ loadDataDir });
    await pglite.waitReady;
    const loaded = pglite;
    pristine ??= describePristine(loaded);
    await pristine;
  }
  const { drizzle } = await import('drizzle-orm/pglite');
  const target = pglite;
  let closed = false;
  // The handle's view of the PGlite: refuses everything once the handle is closed.
  const guarded = new Proxy(target, {
    get(object, property) {
      if (property === 'closed') return closed || object.closed;
      const value = Reflect.get(object, property, object) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (closed) return Promise.reject(new Error('PGlite is closed'));
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
  const logger = options.onQuery ? { logQuery: (query: string, params: unknown[]) => options.onQuery!(query, params) } : undefined;
  const db = drizzle(guarded, { schema, logger }) as unknown as Database;
  return {
    db,
    kind: 'embedded',
    pool: null,
    pglite: guarded,
    url: null,
    ping: (timeoutMs = 2_000) => pingWithin(db, timeoutMs),
    openSidePool: () => ({ db, close: async () => {} }),
    close: async () => {
      if (closed) return;
      closed = true;
      await recycle(target);
    },
  };
}
