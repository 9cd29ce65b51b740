import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openDatabase, type DatabaseHandle, type DatabaseOptions } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { databaseUrl } from './global-setup.js';

export const onPostgres = process.env.TEST_DB === 'postgres';

export interface TestDatabase extends DatabaseHandle {
  /** The connection string of this file's own database, on PostgreSQL; null when embedded. */
  url: string | null;
}

/**
 * A fresh, migrated database of this file's own: a clone of the run's template on PostgreSQL, a new
 * in-memory PGlite otherwise. close() drops the clone.
 */
export async function createTestDatabase(options: DatabaseOptions = {}): Promise<TestDatabase> {
  const template = inject('pgTemplate');
  if (!onPostgres || !template) {
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
