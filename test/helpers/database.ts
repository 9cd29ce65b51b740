import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    const handle = await openDatabase({ kind: 'embedded', dataDir: null, loadDataDir }, options);
    // Without the template (a setup of its own), from scratch.
    if (!loadDataDir) await runMigrations(handle);
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
