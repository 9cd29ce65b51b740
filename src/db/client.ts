import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { sql, type Logger } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import * as schema from './schema.js';

export type Schema = typeof schema;
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
export type Transaction = PgTransaction<PgQueryResultHKT, Schema>;
/** What repositories take: the database itself, or a transaction that composes several calls. */
export type Executor = Database | Transaction;

export type DatabaseTarget =
  | { kind: 'postgres'; url: string }
  | { kind: 'embedded'; dataDir: string | null /* null: in memory */ };

export interface DatabaseOptions {
  poolMax?: number;
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  /** Called with every SQL statement drizzle sends; the N+1 tests count them. */
  onQuery?: (query: string, params: unknown[]) => void;
}

export interface DatabaseHandle {
  db: Database;
  kind: DatabaseTarget['kind'];
  /** The node-postgres pool, or null on the embedded database. */
  pool: pg.Pool | null;
  /** The PGlite instance, or null on PostgreSQL. */
  pglite: PGlite | null;
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

// Without a listener, an error on an idle pooled connection (server restart, pg_terminate_backend)
// is an unhandled 'error' event and takes the process down.
function onIdleClientError(err: Error) {
  process.emitWarning(`idle PostgreSQL connection failed: ${err.message}`);
}

export async function openDatabase(
  target: DatabaseTarget,
  options: DatabaseOptions = {},
): Promise<DatabaseHandle> {
  const logger: Logger | undefined = options.onQuery
    ? { logQuery: (query, params) => options.onQuery!(query, params) }
    : undefined;

  if (target.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: options.poolMax ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      statement_timeout: options.statementTimeoutMs ?? 15_000,
      lock_timeout: options.lockTimeoutMs ?? 5_000,
      idle_in_transaction_session_timeout: 60_000,
      application_name: 'app-users-gateway',
    });
    pool.on('error', onIdleClientError);
    const db = drizzlePg(pool, { schema, logger }) as unknown as Database;
    return {
      db,
      kind: 'postgres',
      pool,
      pglite: null,
      ping: (timeoutMs = 2_000) => pingWithin(db, timeoutMs),
      close: () => pool.end(),
    };
  }

  if (target.dataDir) mkdirSync(target.dataDir, { recursive: true });
  const pglite = target.dataDir ? new PGlite(target.dataDir) : new PGlite();
  await pglite.waitReady;
  const db = drizzlePglite(pglite, { schema, logger }) as unknown as Database;
  let closed = false;
  return {
    db,
    kind: 'embedded',
    pool: null,
    pglite,
    ping: (timeoutMs = 2_000) => pingWithin(db, timeoutMs),
    close: async () => {
      if (closed) return;
      closed = true;
      await pglite.close();
    },
  };
}

async function pingWithin(db: Database, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([db.execute(sql`select 1`).then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
