import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { gql } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../src/db/client.js';
import { openDatabase } from '../src/db/client.js';
import { auditEvents, users } from '../src/db/schema.js';
import {
  checkLinkedData,
  LinkedDataError,
  loadLinkedDataFile,
  parseDeclarations,
  readDeclarationsFile,
  type ParsedDeclaration,
} from '../src/linked-data/index.js';
import { postGraphQL, startTestApp, type TestApp } from './helpers/app.js';
import { createMigratedDataDir, onPostgres } from './helpers/database.js';
import { startGatewayProcess } from './helpers/process.js';
import { liveSessionCount, seedSessions, seedUsers } from './helpers/seed.js';

// The app's own tables, as an app would have them: todo_items (uuid owner_id, unqualified) and
// app.todo_notes (text author_id, in a schema of its own), plus things that must be refused.
const APP_TABLES = [
  'CREATE TABLE todo_items (id serial PRIMARY KEY, owner_id uuid NOT NULL, title text NOT NULL)',
  'CREATE INDEX todo_items_owner_idx ON todo_items (owner_id)',
  'CREATE SCHEMA app',
  'CREATE TABLE app.todo_notes (id serial PRIMARY KEY, author_id text, body text NOT NULL)',
  'CREATE VIEW todo_view AS SELECT * FROM todo_items',
  'CREATE TABLE "Mixed" (id serial PRIMARY KEY, "OwnerId" uuid)',
];

async function exec(ex: Executor, statements: string[]) {
  for (const statement of statements) await ex.execute(sql.raw(statement));
}

const DECLARED = [
  { table: 'todo_items', column: 'owner_id' },
  { table: 'app.todo_notes', column: 'author_id' },
];

let statements: string[] = [];
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    database: { onQuery: (query) => statements.push(query) },
    prepare: (database) => exec(database.db, APP_TABLES),
    linkedData: DECLARED,
  });
});
afterAll(() => t?.close());

const db = () => t.database.db;

async function addTodos(userId: string, n: number) {
  for (let i = 0; i < n; i++) await db().execute(sql`INSERT INTO todo_items (owner_id, title) VALUES (${userId}, ${`todo ${i}`})`);
}
async function addNotes(userId: string, n: number) {
  for (let i = 0; i < n; i++) await db().execute(sql`INSERT INTO app.todo_notes (author_id, body) VALUES (${userId}, ${`note ${i}`})`);
}
async function countRows(table: 'todo_items' | 'app.todo_notes', userId: string): Promise<number> {
  const column = table === 'todo_items' ? 'owner_id' : 'author_id';
  const result = (await db().execute(
    sql`SELECT count(*)::int AS n FROM ${sql.raw(table)} WHERE ${sql.raw(column)}::text = ${userId}`,
  )) as unknown as { rows: { n: number }[] };
  return result.rows[0]!.n;
}
async function userExists(id: string) {
  return (await db().select({ id: users.id }).from(users).where(eq(users.id, id))).length === 1;
}
async function deleteEvents(userId: string) {
  return db()
    .select({ outcome: auditEvents.outcome, details: auditEvents.details })
    .from(auditEvents)
    .where(and(eq(auditEvents.userId, userId), eq(auditEvents.action, 'deleteUser')))
    .orderBy(auditEvents.at);
}

const counts = (todos: number, notes: number) => [
  { table: 'public.todo_items', column: 'owner_id', count: todos },
  { table: 'app.todo_notes', column: 'author_id', count: notes },
];

const DELETE = gql`
  mutation ($id: ID!, $purge: Boolean) {
    deleteUser(id: $id, purgeLinkedData: $purge) {
      __typename
      ... on DeleteUserSuccess { deletedUserId revokedSessionCount linkedDataPurged linkedData { table column count } }
      ... on LinkedDataPurgeError { table column }
      ... on Error { message }
    }
  }
`;
const PREVIEW = gql`
  query ($id: ID!) {
    previewDeleteUser(id: $id) {
      __typename
      ... on DeletePreview { user { id email } activeSessionCount linkedData { table column count } }
      ... on Error { message }
    }
  }
`;

describe('LINKED_DATA_FILE: the shape of the file', () => {
  const bad = (value: unknown) => () => parseDeclarations(value, 'LINKED_DATA_FILE (/etc/linked.json)');

  it('refuses anything but an array of { table, column } with plain names, naming the file and the entry', () => {
    expect(bad({ table: 'todo_items' })).toThrow(/LINKED_DATA_FILE \(\/etc\/linked\.json\) must hold a JSON array/);
    expect(bad([{ table: 'todo_items', column: 'owner_id' }, 'todo_items'])).toThrow(
      /LINKED_DATA_FILE \(\/etc\/linked\.json\), entry 2 "todo_items": each entry must be an object/,
    );
    expect(bad([{ table: 'todo_items' }])).toThrow(/entry 1 \{"table":"todo_items"\}: "column" must be a non-empty string/);
    expect(bad([{ table: 'todo_items', column: 'owner_id', cascade: true }])).toThrow(/unknown key "cascade"/);
    expect(bad([{ table: 'a.b.c', column: 'owner_id' }])).toThrow(/table "a.b.c" has more than one "."/);
    expect(bad([{ table: 'todo items', column: 'owner_id' }])).toThrow(/table "todo items" is not a plain SQL identifier/);
    expect(bad([{ table: 'todo_items', column: 'x'.repeat(64) }])).toThrow(/at most 63 bytes/);
    expect(bad([])).not.toThrow();
  });

  it('refuses a column name with SQL in it before the database sees it', async () => {
    for (const column of [
      'owner_id; DROP TABLE todo_items; --',
      'owner_id" OR "1"="1',
      'owner_id) OR (1=1',
      "owner_id' --",
    ]) {
      expect(bad([{ table: 'todo_items', column }])).toThrow(LinkedDataError);
      expect(bad([{ table: 'todo_items', column }])).toThrow(/entry 1 .*: column ".*" is not a plain SQL identifier/);
    }
    // Even a declaration that skipped the shape check is only ever compared with the catalog as a
    // parameter: it is refused as a column that does not exist, and nothing was executed.
    const smuggled: ParsedDeclaration = {
      entry: 1,
      declared: { table: 'todo_items', column: 'owner_id; DROP TABLE todo_items' },
      schema: null,
      table: 'todo_items',
      column: 'owner_id; DROP TABLE todo_items',
    };
    await expect(checkLinkedData(db(), [smuggled], 'test')).rejects.toThrow(
      /column "owner_id; DROP TABLE todo_items" does not exist in "public.todo_items"/,
    );
    expect(await countRows('todo_items', '00000000-0000-4000-8000-000000000000')).toBe(0);
  });

  it('reads the file, and says so when it cannot be read or is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'linked-data-'));
    try {
      const file = join(dir, 'linked.json');
      expect(() => readDeclarationsFile(file)).toThrow(new RegExp(`LINKED_DATA_FILE \\(${file}\\) cannot be read: ENOENT`));
      writeFileSync(file, '[{ "table": "todo_items", column: "owner_id" }]');
      expect(() => readDeclarationsFile(file)).toThrow(/is not valid JSON/);
      writeFileSync(file, JSON.stringify(DECLARED));
      expect(readDeclarationsFile(file).map((d) => [d.schema, d.table, d.column])).toEqual([
        [null, 'todo_items', 'owner_id'],
        ['app', 'todo_notes', 'author_id'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('LINKED_DATA_FILE: the check against the live catalog', () => {
  const check = (entries: unknown[]) => checkLinkedData(db(), parseDeclarations(entries, 'LINKED_DATA_FILE (x.json)'), 'LINKED_DATA_FILE (x.json)');

  it('resolves tables along the search_path or by schema, with the names and types the database has', async () => {
    const checked = await check(DECLARED);
    expect(checked.map(({ schema, table, column, columnType, indexed, name }) => ({ schema, table, column, columnType, indexed, name }))).toEqual([
      { schema: 'public', table: 'todo_items', column: 'owner_id', columnType: 'uuid', indexed: true, name: 'public.todo_items' },
      { schema: 'app', table: 'todo_notes', column: 'author_id', columnType: 'text', indexed: false, name: 'app.todo_notes' },
    ]);
    // Names that need quotes in SQL are fine when they are the catalog's.
    expect((await check([{ table: 'Mixed', column: 'OwnerId' }]))[0]).toMatchObject({ table: 'Mixed', column: 'OwnerId' });
  });

  it.each([
    [
      'a missing table',
      [DECLARED[0], { table: 'todo_itemz', column: 'owner_id' }],
      /^LINKED_DATA_FILE \(x\.json\), entry 2 \{"table":"todo_itemz","column":"owner_id"\}: table "todo_itemz" does not exist in the search_path \(public\)\.$/,
    ],
    ['a missing schema', [{ table: 'nope.todo_items', column: 'owner_id' }], /entry 1 .*: table "nope.todo_items" does not exist in schema "nope"/],
    ['the wrong case', [{ table: 'Todo_Items', column: 'owner_id' }], /does not exist .*did you mean "public.todo_items"\?/],
    ['a missing column', [{ table: 'todo_items', column: 'user_id' }], /column "user_id" does not exist in "public.todo_items"; its uuid and text columns are "owner_id", "title"/],
    ['a column of the wrong type', [{ table: 'todo_items', column: 'id' }], /column "id" of "public.todo_items" has type integer; a column that points at a user must be uuid or text/],
    ['a view', [{ table: 'todo_view', column: 'owner_id' }], /"public.todo_view" is a view, not a table/],
    ["the gateway's own table", [{ table: 'refresh_tokens', column: 'user_id' }], /"public.refresh_tokens" is one of the gateway's own tables/],
    ['a system table', [{ table: 'pg_catalog.pg_class', column: 'relname' }], /is a system table/],
    ['the same column twice', [DECLARED[0], { table: 'public.todo_items', column: 'owner_id' }], /entry 2 .*: it names the same column as entry 1/],
  ])('stops at %s with a message naming the entry and the problem', async (_name, entries, message) => {
    const error = await check(entries).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(LinkedDataError);
    expect((error as Error).message).toMatch(message);
  });

  it('loads the file the server is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'linked-data-'));
    try {
      const file = join(dir, 'linked.json');
      writeFileSync(file, JSON.stringify([{ table: 'todo_items', column: 'owner_id' }, { table: 'gone', column: 'owner_id' }]));
      await expect(loadLinkedDataFile(db(), file)).rejects.toThrow(
        `LINKED_DATA_FILE (${file}), entry 2 {"table":"gone","column":"owner_id"}: table "gone" does not exist`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('User.linkedData and previewDeleteUser', () => {
  it("counts each user's rows per declared table, for a whole page in one statement", async () => {
    const seeded = await seedUsers(db(), 60, { emailPrefix: 'page' });
    await addTodos(seeded[0]!.id, 3);
    await addNotes(seeded[0]!.id, 1);
    await addNotes(seeded[1]!.id, 2);
    const PAGE = gql`
      query ($first: Int) { users(search: "page", first: $first) { edges { node { id linkedData { table column count } } } } }
    `;
    const measure = async (first: number) => {
      await t.client.request(PAGE, { first });
      statements = [];
      const r = await t.client.request<any>(PAGE, { first });
      return { r, count: statements.length, linked: statements.filter((s) => s.includes('UNION ALL') && s.includes('todo_items')).length };
    };
    const small = await measure(5);
    const large = await measure(60);
    expect(large.r.users.edges).toHaveLength(60);
    expect(large.count).toBe(small.count);
    expect(large.linked).toBe(1);
    const byId = new Map(large.r.users.edges.map((e: any) => [e.node.id, e.node.linkedData]));
    expect(byId.get(seeded[0]!.id)).toEqual(counts(3, 1));
    expect(byId.get(seeded[1]!.id)).toEqual(counts(0, 2));
    expect(byId.get(seeded[2]!.id)).toEqual(counts(0, 0));
  });

  it('previews a deletion without changing anything', async () => {
    const [u] = await seedUsers(db(), 1);
    await seedSessions(db(), u!.id, { live: 2, revoked: 1 });
    await addTodos(u!.id, 2);
    await addNotes(u!.id, 4);
    const r = await t.client.request<any>(PREVIEW, { id: u!.id });
    expect(r.previewDeleteUser).toEqual({
      __typename: 'DeletePreview',
      user: { id: u!.id, email: u!.email },
      activeSessionCount: 2,
      linkedData: counts(2, 4),
    });
    expect(await userExists(u!.id)).toBe(true);
    expect(await liveSessionCount(db(), u!.id)).toBe(2);
    expect([await countRows('todo_items', u!.id), await countRows('app.todo_notes', u!.id)]).toEqual([2, 4]);
    expect(await deleteEvents(u!.id)).toEqual([]);

    const unknown = '00000000-0000-4000-8000-00000000abcd';
    expect((await t.client.request<any>(PREVIEW, { id: unknown })).previewDeleteUser).toMatchObject({
      __typename: 'UserNotFoundError',
    });
    const malformed = await postGraphQL(t, { query: PREVIEW, variables: { id: 'no pe' } });
    expect(malformed.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});

describe('deleteUser and the linked data', () => {
  it('by default leaves the rows and reports how many were left', async () => {
    const [u, other] = await seedUsers(db(), 2);
    await addTodos(u!.id, 2);
    await addNotes(u!.id, 3);
    await addTodos(other!.id, 1);
    const r = await t.client.request<any>(DELETE, { id: u!.id });
    expect(r.deleteUser).toEqual({
      __typename: 'DeleteUserSuccess',
      deletedUserId: u!.id,
      revokedSessionCount: 0,
      linkedDataPurged: false,
      linkedData: counts(2, 3),
    });
    expect(await userExists(u!.id)).toBe(false);
    expect([await countRows('todo_items', u!.id), await countRows('app.todo_notes', u!.id)]).toEqual([2, 3]);
    expect(await deleteEvents(u!.id)).toEqual([
      { outcome: 'success', details: { revokedSessionCount: 0, linkedDataPurged: false, linkedData: counts(2, 3) } },
    ]);
  });

  it("with purgeLinkedData removes the user and exactly that user's rows, nobody else's", async () => {
    const [u, other] = await seedUsers(db(), 2);
    await seedSessions(db(), u!.id, { live: 1 });
    await addTodos(u!.id, 4);
    await addNotes(u!.id, 2);
    await addTodos(other!.id, 2);
    await addNotes(other!.id, 5);
    const before = async () => [await countRows('todo_items', other!.id), await countRows('app.todo_notes', other!.id)];
    const othersBefore = await before();

    const r = await t.client.request<any>(DELETE, { id: u!.id, purge: true });
    expect(r.deleteUser).toEqual({
      __typename: 'DeleteUserSuccess',
      deletedUserId: u!.id,
      revokedSessionCount: 1,
      linkedDataPurged: true,
      linkedData: counts(4, 2),
    });
    expect(await userExists(u!.id)).toBe(false);
    expect([await countRows('todo_items', u!.id), await countRows('app.todo_notes', u!.id)]).toEqual([0, 0]);
    expect(othersBefore).toEqual([2, 5]);
    expect(await before()).toEqual(othersBefore);
    expect(await userExists(other!.id)).toBe(true);
    expect(await deleteEvents(u!.id)).toEqual([
      { outcome: 'success', details: { revokedSessionCount: 1, linkedDataPurged: true, linkedData: counts(4, 2) } },
    ]);
  });

  it('is all or nothing: a purge that fails halfway leaves the user and every row in place', async () => {
    const [u] = await seedUsers(db(), 1);
    await seedSessions(db(), u!.id, { live: 2 });
    await addTodos(u!.id, 2);
    await addNotes(u!.id, 5);
    // The app's own rule: the 3rd note deleted in one transaction raises. todo_items (declared
    // first) are already deleted by then, inside the same transaction.
    await exec(db(), [
      `CREATE FUNCTION app.refuse_third_delete() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE n int := coalesce(nullif(current_setting('app.deleted_notes', true), ''), '0')::int + 1;
       BEGIN
         PERFORM set_config('app.deleted_notes', n::text, true);
         IF n >= 3 THEN RAISE EXCEPTION 'notes are kept for a year (refused at row %)', n; END IF;
         RETURN OLD;
       END $$`,
      'CREATE TRIGGER refuse_third_delete BEFORE DELETE ON app.todo_notes FOR EACH ROW EXECUTE FUNCTION app.refuse_third_delete()',
    ]);
    let r: any;
    try {
      r = await t.client.request<any>(DELETE, { id: u!.id, purge: true });
    } finally {
      await exec(db(), ['DROP TRIGGER refuse_third_delete ON app.todo_notes', 'DROP FUNCTION app.refuse_third_delete()']);
    }
    expect(r.deleteUser).toMatchObject({ __typename: 'LinkedDataPurgeError', table: 'app.todo_notes', column: 'author_id' });
    expect(r.deleteUser.message).toMatch(/^Purging app\.todo_notes\.author_id failed, so nothing was deleted .*notes are kept for a year \(refused at row 3\) \(SQLSTATE P0001\)\.$/);
    expect(await userExists(u!.id)).toBe(true);
    expect(await liveSessionCount(db(), u!.id)).toBe(2);
    expect([await countRows('todo_items', u!.id), await countRows('app.todo_notes', u!.id)]).toEqual([2, 5]);
    expect(await deleteEvents(u!.id)).toEqual([
      { outcome: 'refused', details: { code: 'LINKED_DATA_PURGE_FAILED', message: r.deleteUser.message } },
    ]);
  });

  it('lets only owner keys purge', async () => {
    const [u] = await seedUsers(db(), 1);
    await addTodos(u!.id, 2);
    for (const role of ['operator', 'viewer'] as const) {
      const key = await t.createKey(role, `linked-${role}`);
      const res = await postGraphQL(t, { query: DELETE, variables: { id: u!.id, purge: true } }, { authorization: `Bearer ${key}` });
      expect(res.status).toBe(200);
      expect(res.body.data).toBeNull();
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.errors[0].extensions.code).toBe('FORBIDDEN');
      expect(res.body.errors[0].message).toMatch(role === 'operator' ? /owner/ : /owner|viewer/);
    }
    expect(await userExists(u!.id)).toBe(true);
    expect(await countRows('todo_items', u!.id)).toBe(2);
    const refused = await deleteEvents(u!.id);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((e) => e.outcome === 'refused' && (e.details as any).code === 'FORBIDDEN')).toBe(true);
  });
});

describe('the server process with LINKED_DATA_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'linked-data-process-'));
  const cleanups = [dir];
  afterAll(() => {
    for (const folder of cleanups) rmSync(folder, { recursive: true, force: true });
  });
  const adminKey = 'linked-data-test-owner-key';

  it('refuses to start while a declared table is missing, and starts once it exists', async () => {
    const file = join(dir, 'linked.json');
    writeFileSync(file, JSON.stringify([{ table: 'app.tasks', column: 'assignee' }, { table: 'todo_items', column: 'owner_id' }]));
    // On PostgreSQL, this file's own database (it has the schema app, but no app.tasks); embedded, a
    // data folder of its own, migrated (from the run's template), with none of the app's tables.
    const dataDir = onPostgres ? null : await createMigratedDataDir('linked-data-process-db-');
    if (dataDir) cleanups.push(dataDir);
    const env = { LINKED_DATA_FILE: file, ADMIN_API_KEY: adminKey, ...(onPostgres ? { DATABASE_URL: t.database.url! } : { DATA_DIR: dataDir! }) };

    const refused = await startGatewayProcess(env).catch((err: Error) => err);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toMatch(/gateway exited with 1/);
    expect((refused as Error).message).toContain(
      `configuration error: LINKED_DATA_FILE (${file}), entry 1 {"table":"app.tasks","column":"assignee"}: table "app.tasks" does not exist in schema "app".`,
    );
    expect((refused as Error).message).not.toMatch(/GraphiQL|listening/);

    // Make the table exist (embedded: in the folder the refused start left behind) and start again.
    const setup = onPostgres ? t.database : await openDatabase({ kind: 'embedded', dataDir: dataDir! });
    try {
      if (!onPostgres) await exec(setup.db, APP_TABLES.slice(0, 3));
      await exec(setup.db, ['CREATE TABLE app.tasks (id serial PRIMARY KEY, assignee uuid)']);
    } finally {
      if (!onPostgres) await setup.close();
    }
    const gateway = await startGatewayProcess(env);
    try {
      const res = await fetch(`${gateway.baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ query: 'mutation { createUser(email: "linked@example.com", password: "secret1") { ... on CreateUserSuccess { user { linkedData { table count } } } } }' }),
      });
      const body = (await res.json()) as any;
      expect(body.data.createUser.user.linkedData).toEqual([
        { table: 'app.tasks', count: 0 },
        { table: 'public.todo_items', count: 0 },
      ]);
      // app.tasks.assignee has no index: the start says so.
      expect(gateway.output()).toMatch(/no index starts with app\.tasks\.assignee/);
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
  }, 120_000);
});
