import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { migrationsFolder } from '../assets.js';
import type { DatabaseHandle } from './client.js';

export { migrationsFolder };

// Any fixed number: instances starting together queue on it, and the first one migrates.
const MIGRATION_LOCK_KEY = 7_420_113_001;

/** Applies every migration not yet applied. Safe to run from several instances at once. */
export async function runMigrations(handle: DatabaseHandle): Promise<void> {
  if (handle.pglite) {
    const { drizzle: drizzlePglite } = await import('drizzle-orm/pglite');
    const { migrate: migratePglite } = await import('drizzle-orm/pglite/migrator');
    await migratePglite(drizzlePglite(handle.pglite), { migrationsFolder });
    return;
  }
  const client = await handle.pool!.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await migratePg(drizzlePg(client), { migrationsFolder });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

let shippedMigrations: ReturnType<typeof readMigrationFiles> | undefined;

/**
 * How many migrations of the migrations folder the database lacks, by drizzle's own rule: a
 * migration is applied when the newest applied one is not older than it. 0 means current.
 */
export async function pendingMigrationCount(handle: DatabaseHandle): Promise<number> {
  // The folder is read once: what this process ships does not change while it runs.
  const migrations = (shippedMigrations ??= readMigrationFiles({ migrationsFolder }));
  const table = (await handle.db.execute(
    sql`SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS present`,
  )) as unknown as { rows: { present: boolean }[] };
  if (!table.rows[0]?.present) return migrations.length;
  const newest = (await handle.db.execute(
    sql`SELECT max(created_at)::text AS at FROM drizzle.__drizzle_migrations`,
  )) as unknown as { rows: { at: string | null }[] };
  const appliedUntil = Number(newest.rows[0]?.at ?? -1);
  return migrations.filter((m) => m.folderMillis > appliedUntil).length;
}
