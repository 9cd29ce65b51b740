// Token and admin-key checks are answered from per-instance caches that the database keeps exact
// with NOTIFY (src/changefeed/). Two instances on one PostgreSQL database: what one
// revokes, the other refuses within 100 ms, even after its listener connection was killed. On the
// embedded database (one process) the cache is invalidated directly.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { startRevocationFeed, type RevocationFeed } from '../src/changefeed/feed.js';
import { openDatabase, type DatabaseHandle } from '../src/db/client.js';
import { createLogger } from '../src/logger.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { onPostgres } from './helpers/database.js';

const APP = '/api/client/v2.0/app/app-users-gateway';
const LISTENER = 'app-users-gateway (revocation listener)';

async function anonymousLogin(baseUrl: string): Promise<{ token: string; userId: string }> {
  const res = await fetch(`${baseUrl}${APP}/auth/providers/anon-user/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { access_token: string; user_id: string };
  return { token: body.access_token, userId: body.user_id };
}

/** POST /introspect: whether the token still grants access, as the app's back end asks. */
async function active(baseUrl: string, adminKey: string, token: string): Promise<boolean> {
  const res = await fetch(`${baseUrl}/introspect`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { active: boolean }).active;
}

async function revokeSessions(t: TestApp, userId: string) {
  const r = await t.client.request<any>(
    'mutation ($id: ID!) { revokeUserSessions(id: $id) { __typename ... on RevokeUserSessionsSuccess { revokedSessionCount } } }',
    { id: userId },
  );
  expect(r.revokeUserSessions).toEqual({ __typename: 'RevokeUserSessionsSuccess', revokedSessionCount: 1 });
}

/** Milliseconds from now until `check` holds, polling every 2 ms; fails past `limitMs`. */
async function msUntil(check: () => Promise<boolean>, limitMs = 2_000): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > limitMs) throw new Error(`still not true after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - started;
}

describe.skipIf(!onPostgres)('two instances on one PostgreSQL database', () => {
  let a: TestApp;
  let b: {
    baseUrl: string;
    database: DatabaseHandle;
    feed: RevocationFeed;
    server: Server;
    statements: string[];
    /** The backend of B's dedicated listener connection. */
    listenerPid: number;
  };
  let admin: pg.Client;

  const listenerPids = async () =>
    (
      await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 ORDER BY pid`,
        [LISTENER],
      )
    ).rows.map((r) => r.pid);

  beforeAll(async () => {
    a = await startTestApp();
    admin = new pg.Client({ connectionString: a.database.url! });
    await admin.connect();
    await msUntil(async () => (await listenerPids()).length === 1);
    const before = await listenerPids();

    // Instance B: its own pool, its own listener, its own HTTP server; every SQL statement counted
    // (so without the webhook worker, whose polling would be counted too).
    const statements: string[] = [];
    const logger = createLogger();
    const database = await openDatabase({ kind: 'postgres', url: a.database.url! }, { onQuery: (q) => statements.push(q) });
    const feed = startRevocationFeed(database, logger);
    const server = createServer(
      createApp({ database, logger, production: true, revocations: feed, auth: { publicUrl: a.baseUrl }, webhooks: { worker: false } }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await msUntil(async () => feed.live && (await listenerPids()).length === 2);
    const added = (await listenerPids()).filter((pid) => !before.includes(pid));
    expect(added).toHaveLength(1);
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    b = { baseUrl, database, feed, server, statements, listenerPid: added[0]! };
  });

  afterAll(async () => {
    b?.server.closeAllConnections();
    await new Promise<void>((resolve) => (b ? b.server.close(() => resolve()) : resolve()));
    await b?.feed.close();
    await b?.database.close();
    await admin?.end();
    await a?.close();
  });

  /** B's answers come from its cache: checking again costs B no SQL statement at all. */
  async function warmOnB(token: string) {
    expect(await active(b.baseUrl, a.adminKey, token)).toBe(true);
    const before = b.statements.length;
    for (let i = 0; i < 5; i++) expect(await active(b.baseUrl, a.adminKey, token)).toBe(true);
    expect(b.statements.slice(before)).toEqual([]);
  }

  it('a revocation on A is refused by B within 100 ms, and by A at once', async () => {
    const { token, userId } = await anonymousLogin(a.baseUrl);
    await warmOnB(token);
    expect(await active(a.baseUrl, a.adminKey, token)).toBe(true);

    await revokeSessions(a, userId);
    const revokedAt = performance.now();
    // A made the change: its own cache was cleared before the mutation answered.
    expect(await active(a.baseUrl, a.adminKey, token)).toBe(false);
    await msUntil(async () => !(await active(b.baseUrl, a.adminKey, token)));
    const ms = performance.now() - revokedAt;
    console.log(`B refused the revoked token ${ms.toFixed(1)} ms after A's mutation returned`);
    expect(ms).toBeLessThan(100);
  });

  it('disabling and deleting users, one or in bulk, reach B too', async () => {
    const users = await Promise.all(Array.from({ length: 3 }, () => anonymousLogin(a.baseUrl)));
    for (const u of users) await warmOnB(u.token);
    await a.client.request('mutation ($id: ID!) { disableUser(id: $id) { __typename } }', { id: users[0]!.userId });
    await a.client.request('mutation ($ids: [ID!]!) { disableUsers(ids: $ids) { doneCount } }', { ids: [users[1]!.userId] });
    await a.client.request('mutation ($ids: [ID!]!) { deleteUsers(ids: $ids) { doneCount } }', { ids: [users[2]!.userId] });
    const started = performance.now();
    for (const u of users) await msUntil(async () => !(await active(b.baseUrl, a.adminKey, u.token)));
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('an admin key revoked through A stops working on B within 100 ms', async () => {
    const secret = await a.createKey('operator', 'short-lived');
    const probe = () =>
      fetch(`${b.baseUrl}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      }).then((r) => r.status);
    expect(await probe()).toBe(200);
    await a.database.db.execute(sql`UPDATE admin_keys SET revoked_at = now() WHERE name = 'short-lived'`);
    const ms = await msUntil(async () => (await probe()) === 401);
    expect(ms).toBeLessThan(100);
  });

  it('an admin key B checked from memory is refused on B within 100 ms of its revocation through A', async () => {
    const user = await anonymousLogin(a.baseUrl);
    const secret = await a.createKey('viewer', 'introspecting');
    expect(await active(b.baseUrl, secret, user.token)).toBe(true);
    const before = b.statements.length;
    for (let i = 0; i < 5; i++) expect(await active(b.baseUrl, secret, user.token)).toBe(true);
    expect(b.statements.slice(before)).toEqual([]);
    await a.database.db.execute(sql`UPDATE admin_keys SET revoked_at = now() WHERE name = 'introspecting'`);
    const refused = () =>
      fetch(`${b.baseUrl}/introspect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: user.token }),
      }).then((r) => r.status === 401);
    expect(await msUntil(refused)).toBeLessThan(100);
    // And stays refused: the next checks read the database, which has it revoked.
    for (let i = 0; i < 3; i++) expect(await refused()).toBe(true);
  });

  it("after B's listener is killed, B drops its cache, listens again, and revocations still take effect", async () => {
    const first = await anonymousLogin(a.baseUrl);
    const second = await anonymousLogin(a.baseUrl);
    await warmOnB(first.token);
    await warmOnB(second.token);

    const bPid = b.listenerPid;
    await admin.query('SELECT pg_terminate_backend($1)', [bPid]);
    await msUntil(async () => !b.feed.live, 1_000);

    // Cache dropped: B reads the database for the next check.
    const before = b.statements.length;
    expect(await active(b.baseUrl, a.adminKey, first.token)).toBe(true);
    expect(b.statements.length).toBeGreaterThan(before);

    // A revocation while B listens again or not: B refuses the token within 100 ms either way.
    await revokeSessions(a, first.userId);
    const started = performance.now();
    await msUntil(async () => !(await active(b.baseUrl, a.adminKey, first.token)));
    expect(performance.now() - started).toBeLessThan(100);

    // B listens again on a new connection and caches again; revocations keep reaching it.
    await msUntil(async () => b.feed.live && (await listenerPids()).length === 2, 5_000);
    expect(await listenerPids()).not.toContain(bPid);
    await warmOnB(second.token);
    await revokeSessions(a, second.userId);
    const again = performance.now();
    await msUntil(async () => !(await active(b.baseUrl, a.adminKey, second.token)));
    expect(performance.now() - again).toBeLessThan(100);
  });
});

describe.skipIf(onPostgres)('one instance on the embedded database', () => {
  let t: TestApp;
  const statements: string[] = [];
  beforeAll(async () => {
    t = await startTestApp({ database: { onQuery: (q) => statements.push(q) } });
  });
  afterAll(() => t?.close());

  it('answers repeated checks from memory and forgets a revoked session at once', async () => {
    const { token, userId } = await anonymousLogin(t.baseUrl);
    expect(await active(t.baseUrl, t.adminKey, token)).toBe(true);
    const before = statements.length;
    for (let i = 0; i < 5; i++) expect(await active(t.baseUrl, t.adminKey, token)).toBe(true);
    expect(statements.slice(before)).toEqual([]);

    await revokeSessions(t, userId);
    expect(await active(t.baseUrl, t.adminKey, token)).toBe(false);
  });
});
