// The benchmark's database: N users seeded in a handful of set-based statements, kept between runs
// under a name that says its size, and put back to its seeded state before and after each run.
import pg from 'pg';
import { openDatabase } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';

/** Bumped whenever the seeded data changes shape, so an old database is seeded anew. */
const SEED_VERSION = 1;

export interface SeedInfo {
  url: string;
  name: string;
  users: number;
  reused: boolean;
  seedSeconds: number | null;
}

export function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The status of user number i (1-based), as seeded: 5% disabled, 15% pending, 80% confirmed,
 * interleaved so that every page and every email prefix sees the same mix.
 */
const seededStatus = (i: string) =>
  `CASE WHEN ${i} % 20 = 0 THEN 'disabled' WHEN ${i} % 20 IN (1, 2, 3) THEN 'pending' ELSE 'confirmed' END::user_status`;

/** The number i of a seeded user, from its email user<i>@example.com. */
const NUMBER_FROM_EMAIL = `substring(email FROM 5 FOR position('@' IN email) - 5)::int`;

/**
 * Creates (or reuses) the database gw_bench_<N>. A database is reused only when a previous seed of
 * the same size and version finished; anything else is dropped and seeded anew.
 */
export async function prepareDatabase(
  adminUrl: string,
  users: number,
  options: { fresh?: boolean; log?: (line: string) => void } = {},
): Promise<SeedInfo> {
  const log = options.log ?? (() => {});
  const name = `gw_bench_${users}`;
  const url = databaseUrl(adminUrl, name);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
    if (exists && !options.fresh && (await seededWith(url)) === `${SEED_VERSION}:${users}`) {
      log(`reusing the seeded database ${name}`);
      await migrate(url);
      return { url, name, users, reused: true, seedSeconds: null };
    }
    if (exists) await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  await migrate(url);
  log(`seeding ${users.toLocaleString('en-US')} users into ${name} …`);
  const started = performance.now();
  await seed(url, users, log);
  const seedSeconds = (performance.now() - started) / 1000;
  log(`seeded in ${seedSeconds.toFixed(1)} s`);
  return { url, name, users, reused: false, seedSeconds };
}

async function migrate(url: string) {
  const handle = await openDatabase({ kind: 'postgres', url }, { statementTimeoutMs: 3_600_000 });
  try {
    await runMigrations(handle);
  } finally {
    await handle.close();
  }
}

async function seededWith(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT CASE WHEN to_regclass('bench.seed') IS NULL THEN NULL
              ELSE (SELECT version || ':' || users FROM bench.seed WHERE complete) END AS seeded`,
    );
    return rows[0]?.seeded ?? null;
  } catch {
    return null;
  } finally {
    await client.end();
  }
}

/**
 * Users user<i>@example.com, created 30 s apart (newest last), each with an email/password identity
 * (no password hash: nobody logs in by password here); 1 to 3 live sessions (2 on average) for each
 * confirmed user. Secondary indexes are dropped during the load and built again afterwards, and
 * foreign-key checks are skipped (the data is consistent by construction): a million users then
 * take seconds, not minutes.
 */
async function seed(url: string, users: number, log: (line: string) => void) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const step = async (label: string, run: () => Promise<unknown>) => {
    const started = performance.now();
    await run();
    log(`  ${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  };
  try {
    await client.query(`SET maintenance_work_mem = '256MB'`);
    await client.query(`SET synchronous_commit = off`);
    await client.query('BEGIN');
    await client.query('CREATE SCHEMA bench');
    await client.query('CREATE TABLE bench.seed (version int NOT NULL, users int NOT NULL, complete boolean NOT NULL)');
    await client.query('INSERT INTO bench.seed VALUES ($1, $2, false)', [SEED_VERSION, users]);
    const { rows: indexes } = await client.query<{ name: string; definition: string }>(
      `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
       WHERE t.relname IN ('users', 'user_identities', 'refresh_tokens') AND t.relnamespace = 'public'::regnamespace
         AND NOT i.indisprimary
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
    );
    for (const index of indexes) await client.query(`DROP INDEX ${index.name}`);
    // Primary keys that no foreign key depends on are built in one pass afterwards, too.
    const { rows: keys } = await client.query<{ tableName: string; name: string; definition: string }>(
      `SELECT c.conrelid::regclass::text AS "tableName", c.conname AS name, pg_get_constraintdef(c.oid) AS definition
       FROM pg_constraint c
       WHERE c.contype = 'p' AND c.conrelid IN ('user_identities'::regclass, 'refresh_tokens'::regclass)
         AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)`,
    );
    for (const key of keys) await client.query(`ALTER TABLE ${key.tableName} DROP CONSTRAINT "${key.name}"`);
    // Skips the foreign-key triggers of this session's inserts.
    await client.query(`SET LOCAL session_replication_role = replica`);
    await step('users', () => client.query(
      `INSERT INTO users (id, email, status, created_at, last_authenticated_at, disabled_at)
       SELECT gen_random_uuid(), 'user' || i || '@example.com', ${seededStatus('i')},
              timestamptz '2024-01-01 00:00:00+00' + i * interval '30 seconds',
              CASE WHEN i % 20 > 3 THEN timestamptz '2024-01-01 00:00:00+00' + i * interval '30 seconds' + interval '1 hour' END,
              CASE WHEN i % 20 = 0 THEN timestamptz '2025-06-01 00:00:00+00' END
       FROM generate_series(1, $1::int) AS i`,
      [users],
    ));
    await step('identities', () => client.query(
      `INSERT INTO user_identities (user_id, provider_type, provider_id, created_at)
       SELECT id, 'local-userpass', email, created_at FROM users`,
    ));
    await step('sessions', () => client.query(
      `INSERT INTO refresh_tokens (user_id, token_hash, device_id, created_at, expires_at)
       SELECT u.id, sha256(convert_to(u.id::text || ':' || g, 'UTF8')), 'device-' || g,
              now() - g * interval '1 hour', now() + interval '60 days'
       FROM users u CROSS JOIN LATERAL generate_series(1, 1 + abs(hashtext(u.email)) % 3) AS g
       WHERE u.status = 'confirmed'`,
    ));
    await client.query(`SET LOCAL session_replication_role = DEFAULT`);
    await step('indexes', async () => {
      for (const key of keys) await client.query(`ALTER TABLE ${key.tableName} ADD CONSTRAINT "${key.name}" ${key.definition}`);
      for (const index of indexes) await client.query(index.definition);
    });
    await client.query('UPDATE bench.seed SET complete = true');
    await client.query('COMMIT');
    await step('vacuum', () => client.query('VACUUM (ANALYZE) users, user_identities, refresh_tokens'));
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
}

/**
 * Puts the database back to its seeded state after actions ran on it (or a run was interrupted):
 * statuses as seeded, every session live again (the seed has no revoked ones), no session added by a
 * login, no audit events.
 * Costs a scan of users and refresh_tokens: a few seconds at a million users.
 */
export async function resetDatabase(url: string): Promise<{ users: number; sessions: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    const users = await client.query(
      `UPDATE users u SET status = s.status, disabled_at = CASE WHEN s.status = 'disabled' THEN timestamptz '2025-06-01 00:00:00+00' END
       FROM (SELECT id, ${seededStatus(NUMBER_FROM_EMAIL)} AS status FROM users) s
       WHERE u.id = s.id AND u.status <> s.status`,
    );
    const sessions = await client.query(
      `UPDATE refresh_tokens SET revoked_at = NULL, revoke_reason = NULL WHERE revoked_at IS NOT NULL`,
    );
    // Sessions the benchmark's logins made (S8): the seeded ones and S7's are all "device-…".
    const added = await client.query(`DELETE FROM refresh_tokens WHERE device_id IS NULL OR device_id NOT LIKE 'device-%'`);
    await client.query('TRUNCATE audit_events');
    await client.query('COMMIT');
    if ((users.rowCount ?? 0) + (sessions.rowCount ?? 0) + (added.rowCount ?? 0) > 0) {
      await client.query('VACUUM (ANALYZE) users, refresh_tokens');
    }
    return { users: users.rowCount ?? 0, sessions: sessions.rowCount ?? 0 };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
}

/**
 * What PostGraphile needs to serve the gateway's queries: activeSessionCount as a computed column
 * (users_active_session_count → User.activeSessionCount) and the email-prefix search as a custom query
 * (search_users → Query.searchUsers). Both are plain SQL functions PostgreSQL inlines into the query.
 */
export async function createPostGraphileFunctions(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`
      CREATE OR REPLACE FUNCTION users_active_session_count(u users) RETURNS int LANGUAGE sql STABLE AS $$
        SELECT count(*)::int FROM refresh_tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL AND t.expires_at > now()
      $$;
      CREATE OR REPLACE FUNCTION search_users(prefix text) RETURNS SETOF users LANGUAGE sql STABLE AS $$
        SELECT * FROM users
        WHERE lower(email) LIKE replace(replace(replace(lower(prefix), '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'
        ORDER BY created_at DESC, id DESC
      $$;`);
  } finally {
    await client.end();
  }
}
