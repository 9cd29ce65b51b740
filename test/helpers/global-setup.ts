// Once per run and project, a migrated database that every test file starts from instead of
// migrating its own:
// - on PostgreSQL, a template database that every test file clones (CREATE DATABASE … TEMPLATE);
//   it and every clone are dropped at the end;
// - on the embedded database, a PGlite data directory saved as a tarball (dumpDataDir) that each
//   file's PGlite loads (loadDataDir): a fresh start costs initdb and the migrations, seconds on a
//   small machine, a load well under one. The tarball is kept between runs in
//   node_modules/.cache/app-users-gateway/, named after the migrations and the PGlite version, so
//   it is made again only when one of them changes. It is not compressed: 40 MB on disk, but each
//   load skips half a second of gunzip.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/client.js';
import { migrationsFolder, runMigrations } from '../../src/db/migrate.js';
import { buildDistOnce } from './build.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgTemplate: string | null;
    /** The path of the migrated PGlite data directory's tarball, on the embedded database. */
    pgliteTemplate: string | null;
  }
}

const cacheFolder = fileURLToPath(new URL('../../node_modules/.cache/app-users-gateway', import.meta.url));

/** What the saved data directory depends on: every file of the migrations folder, and PGlite's version. */
function templateKey(): string {
  const hash = createHash('sha256');
  const pgliteEntry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const pglitePackage = JSON.parse(readFileSync(join(dirname(pgliteEntry), '..', 'package.json'), 'utf8')) as { version: string };
  hash.update(`pglite ${pglitePackage.version}\n`);
  const files = (folder: string): string[] =>
    readdirSync(folder, { withFileTypes: true })
      .flatMap((entry) => (entry.isDirectory() ? files(join(folder, entry.name)) : [join(folder, entry.name)]))
      .sort();
  for (const file of files(migrationsFolder)) {
    hash.update(`${file.slice(migrationsFolder.length)}\n`);
    hash.update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

/** The migrated PGlite tarball of this tree's migrations, made (and cached) if it is not there yet. */
export async function pgliteTemplate(): Promise<string> {
  const path = join(cacheFolder, `pglite-template-${templateKey()}.tar`);
  if (existsSync(path)) return path;
  const handle = await openDatabase({ kind: 'embedded', dataDir: null });
  try {
    await runMigrations(handle);
    await handle.pglite!.exec('CHECKPOINT');
    const tarball = await handle.pglite!.dumpDataDir('none');
    mkdirSync(cacheFolder, { recursive: true });
    // Written aside and renamed: a run that starts meanwhile never reads half a file.
    const partial = `${path}.${process.pid}.partial`;
    writeFileSync(partial, Buffer.from(await tarball.arrayBuffer()));
    renameSync(partial, path);
  } finally {
    await handle.close();
  }
  return path;
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
    project.provide('pgliteTemplate', await pgliteTemplate());
    return;
  }
  project.provide('pgliteTemplate', null);
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
