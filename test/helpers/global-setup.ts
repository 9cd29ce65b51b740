// Once per run and project: on PostgreSQL, migrate a template database that every test file
// clones (CREATE DATABASE … TEMPLATE), and drop it and every clone at the end.
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { buildDistOnce } from './build.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgTemplate: string | null;
  }
}

export function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabases(adminUrl: string, prefix: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1',
      [`${prefix}%`],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export default async function setup(project: TestProject) {
  await buildDistOnce();
  const adminUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  if (project.name !== 'postgres' || !adminUrl) {
    project.provide('pgTemplate', null);
    return;
  }
  const template = `gw_test_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${template}"`);
  await admin.end();
  const handle = await openDatabase({ kind: 'postgres', url: databaseUrl(adminUrl, template) });
  await runMigrations(handle);
  await handle.close();
  project.provide('pgTemplate', template);
  return async () => {
    // Clones are named after the template, so this drops them too, even those of crashed files.
    await dropDatabases(adminUrl, template);
  };
}
