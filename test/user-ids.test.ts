// Issue 17: user ids are opaque text. New databases make time-ordered ObjectIds (or UUIDs with
// USER_ID_FORMAT=uuid), a database keeps the format it recorded first, databases that had users keep
// making UUIDs, and imported ids survive logins, tokens, /introspect and the admin API.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../src/db/client.js';
import { migrationsFolder, runMigrations } from '../src/db/migrate.js';
import { users } from '../src/db/schema.js';
import { settleUserIdFormat } from '../src/users/ids.js';
import { importUserBatch } from '../src/users/import.js';
import { startTestApp, postGraphQL, type TestApp } from './helpers/app.js';
import { databaseUrl } from './helpers/global-setup.js';
import { onPostgres } from './helpers/database.js';
import { Realm, forgetRealmUsers, gql, introspect, realmApp, uniqueEmail, PASSWORD } from './helpers/realm.js';
import { hashPassword } from '../src/users/passwords.js';

const OBJECT_ID = /^[0-9a-f]{24}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CREATE = 'mutation ($e: String!) { createUser(email: $e, password: "secret-password") { ... on CreateUserSuccess { user { id } } } }';

async function createUser(t: TestApp): Promise<string> {
  const r = await gql(t, CREATE, { e: uniqueEmail('ids') });
  return r.createUser.user.id;
}

describe('new users of a new database', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    // As the server does at start, with USER_ID_FORMAT unset.
    await settleUserIdFormat(t.database.db, 'objectid');
  });
  afterAll(() => t?.close());

  it('get 24-hex ObjectIds that start with their creation second, so newer ids sort after older ones', async () => {
    const before = Math.floor(Date.now() / 1000);
    const first = await createUser(t);
    const second = await createUser(t);
    const after = Math.floor(Date.now() / 1000);
    for (const id of [first, second]) {
      expect(id).toMatch(OBJECT_ID);
      const seconds = parseInt(id.slice(0, 8), 16);
      expect(seconds).toBeGreaterThanOrEqual(before);
      expect(seconds).toBeLessThanOrEqual(after);
    }
    expect(second.slice(0, 8) >= first.slice(0, 8)).toBe(true);
    expect(first).not.toBe(second);
  });

  it('answers ids outside the accepted shape with BAD_USER_INPUT, never a database error', async () => {
    for (const id of ['a b', 'x'.repeat(129), 'é', "1' OR '1'='1", '']) {
      const query = await postGraphQL(t, { query: 'query ($id: ID!) { user(id: $id) { id } }', variables: { id } });
      expect(query.body.errors?.[0]?.extensions?.code, id).toBe('BAD_USER_INPUT');
      const disable = await postGraphQL(t, { query: 'mutation ($id: ID!) { disableUser(id: $id) { __typename } }', variables: { id } });
      expect(disable.body.errors?.[0]?.extensions?.code, id).toBe('BAD_USER_INPUT');
    }
    // Any id of the accepted shape is looked up: unknown ones are simply not there.
    const { user } = await gql(t, 'query ($id: ID!) { user(id: $id) { id } }', { id: 'x'.repeat(128) });
    expect(user).toBeNull();
  });

  it('keeps the format recorded first, whatever a later start asks for', async () => {
    expect(await settleUserIdFormat(t.database.db, 'uuid')).toBe('objectid');
    expect(await createUser(t)).toMatch(OBJECT_ID);
  });
});

describe('USER_ID_FORMAT=uuid on a new database', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  it('makes UUIDs from then on', async () => {
    expect(await settleUserIdFormat(t.database.db, 'uuid')).toBe('uuid');
    expect(await createUser(t)).toMatch(UUID);
    expect(await settleUserIdFormat(t.database.db, 'objectid')).toBe('uuid');
    expect(await createUser(t)).toMatch(UUID);
  });
});

/** A database of its own, empty (not a clone of the migrated template), and how to drop it. */
async function emptyDatabase(): Promise<{ handle: DatabaseHandle; drop: () => Promise<void> }> {
  if (!onPostgres) {
    const handle = await openDatabase({ kind: 'embedded', dataDir: null });
    return { handle, drop: () => handle.close() };
  }
  const adminUrl = process.env.TEST_DATABASE_URL!;
  const name = `user_ids_${Math.random().toString(16).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const handle = await openDatabase({ kind: 'postgres', url: databaseUrl(adminUrl, name) });
  return {
    handle,
    drop: async () => {
      await handle.close();
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

/** Applies the migrations before 0010 only: a database as the gateway left it before user ids became text. */
async function migrateBeforeTextIds(handle: DatabaseHandle): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'migrations-'));
  try {
    cpSync(migrationsFolder, folder, { recursive: true });
    const journalPath = join(folder, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
    journal.entries = journal.entries.filter((e: { idx: number }) => e.idx < 10);
    writeFileSync(journalPath, JSON.stringify(journal));
    if (handle.pglite) {
      const { drizzle } = await import('drizzle-orm/pglite');
      const { migrate } = await import('drizzle-orm/pglite/migrator');
      await migrate(drizzle(handle.pglite), { migrationsFolder: folder });
    } else {
      await migratePg(drizzlePg(handle.pool!), { migrationsFolder: folder });
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

describe('a database that had users before user ids became text', () => {
  let database: Awaited<ReturnType<typeof emptyDatabase>>;
  beforeAll(async () => {
    database = await emptyDatabase();
  });
  afterAll(() => database?.drop());

  it('keeps its UUID users, their identities and sessions, and keeps making UUIDs', async () => {
    const { db } = database.handle;
    await migrateBeforeTextIds(database.handle);
    const old = (await db.execute(sql`
      WITH u AS (INSERT INTO users (email, status) VALUES ('old@example.com', 'confirmed') RETURNING id),
      i AS (INSERT INTO user_identities (user_id, provider_type, provider_id) SELECT id, 'local-userpass', 'old@example.com' FROM u)
      INSERT INTO refresh_tokens (user_id, token_hash, expires_at) SELECT id, '\\x01', now() + interval '1 day' FROM u
      RETURNING user_id::text AS id`)) as unknown as { rows: { id: string }[] };
    const oldId = old.rows[0]!.id;
    expect(oldId).toMatch(UUID);

    await runMigrations(database.handle);
    expect(await settleUserIdFormat(db, 'objectid')).toBe('uuid');
    const [fresh] = await db.insert(users).values({ email: 'new@example.com', status: 'confirmed' }).returning();
    expect(fresh!.id).toMatch(UUID);
    const kept = (await db.execute(sql`
      SELECT (SELECT count(*)::int FROM user_identities WHERE user_id = ${oldId}) AS identities,
             (SELECT count(*)::int FROM refresh_tokens WHERE user_id = ${oldId}) AS sessions,
             (SELECT data_type FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'id') AS type`)) as unknown as {
      rows: { identities: number; sessions: number; type: string }[];
    };
    expect(kept.rows[0]).toEqual({ identities: 1, sessions: 1, type: 'text' });
  });
});

describe('an imported Atlas user', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      prepare: async (database) => {
        await database.db.execute(sql.raw('CREATE TABLE todo_items (id serial PRIMARY KEY, owner_id text NOT NULL)'));
        await database.db.execute(sql.raw('CREATE TABLE legacy_notes (id serial PRIMARY KEY, author_id uuid NOT NULL)'));
      },
      linkedData: [
        { table: 'todo_items', column: 'owner_id' },
        { table: 'legacy_notes', column: 'author_id' },
      ],
    });
  });
  afterAll(() => t?.close());
  afterEach(forgetRealmUsers);

  it('keeps its 24-hex id through realm-web login, the token, /introspect, the admin API and linked data', async () => {
    const id = '5f1f216e82df4a7979f9da93';
    const email = uniqueEmail('atlas');
    const [result] = await importUserBatch(t.database.db, { type: 'system', name: 'test' }, [
      {
        id,
        email,
        status: 'confirmed',
        createdAt: new Date('2020-07-27T18:49:18.000Z'),
        identities: [{ providerType: 'local-userpass', providerId: email, passwordHash: await hashPassword(PASSWORD) }],
      },
    ]);
    expect(result!.outcome).toBe('created');

    const user = await realmApp(t).logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    expect(user.id).toBe(id);
    const claims = JSON.parse(Buffer.from(user.accessToken!.split('.')[1]!, 'base64url').toString());
    expect(claims.sub).toBe(id);
    expect((await introspect(t, user.accessToken!)).body).toMatchObject({ active: true, sub: id });

    await t.database.db.execute(sql`INSERT INTO todo_items (owner_id) VALUES (${id}), (${id})`);
    const { user: seen } = await gql(t, 'query ($id: ID!) { user(id: $id) { id email activeSessionCount linkedData { table count } } }', { id });
    expect(seen).toEqual({
      id,
      email,
      activeSessionCount: 1,
      linkedData: [
        { table: 'public.todo_items', count: 2 },
        { table: 'public.legacy_notes', count: 0 },
      ],
    });
    const { users: found } = await gql(t, 'query ($s: String!) { users(search: $s) { edges { node { id } } } }', { s: id });
    expect(found.edges.map((e: any) => e.node.id)).toEqual([id]);

    const disabled = await gql(t, 'mutation ($id: ID!) { disableUser(id: $id) { __typename ... on DisableUserSuccess { user { id status } revokedSessionCount } } }', { id });
    expect(disabled.disableUser).toEqual({ __typename: 'DisableUserSuccess', user: { id, status: 'DISABLED' }, revokedSessionCount: 1 });
    expect((await introspect(t, user.accessToken!)).body).toMatchObject({ active: false });

    const { auditEvents } = await gql(t, 'query ($id: ID!) { auditEvents(userId: $id) { edges { node { action userId } } } }', { id });
    expect(auditEvents.edges.map((e: any) => e.node)).toContainEqual({ action: 'disableUser', userId: id });

    const deleted = await gql(t, 'mutation ($id: ID!) { deleteUser(id: $id, purgeLinkedData: true) { __typename ... on DeleteUserSuccess { deletedUserId linkedData { table count } } } }', { id });
    expect(deleted.deleteUser).toEqual({
      __typename: 'DeleteUserSuccess',
      deletedUserId: id,
      linkedData: [
        { table: 'public.todo_items', count: 2 },
        { table: 'public.legacy_notes', count: 0 },
      ],
    });
  });
});
