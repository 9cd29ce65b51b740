import { desc, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAuthSettings } from '../src/config.js';
import { auditEvents } from '../src/db/schema.js';
import { postGraphQL, startTestApp, type TestApp } from './helpers/app.js';
import { seedSessions, seedUsers } from './helpers/seed.js';

let t: TestApp;
let keyId: string;
beforeAll(async () => {
  t = await startTestApp();
  const me = await t.client.request<{ currentAdminKey: { id: string } }>('{ currentAdminKey { id } }');
  keyId = me.currentAdminKey.id;
});
afterAll(() => t?.close());

interface EventNode {
  id: string;
  at: string;
  action: string;
  outcome: string;
  userId: string | null;
  requestId: string | null;
  details: Record<string, unknown> | null;
  actor: { id: string; name: string; role: string } | null;
}
interface EventPage {
  auditEvents: { edges: { cursor: string; node: EventNode }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

const EVENTS = `query ($userId: ID, $action: String, $first: Int, $after: String) {
  auditEvents(userId: $userId, action: $action, first: $first, after: $after) {
    edges { cursor node { id at action outcome userId requestId details actor { id name role } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

async function events(variables: Record<string, unknown> = {}): Promise<EventNode[]> {
  const page = await t.client.request<EventPage>(EVENTS, { first: 500, ...variables });
  return page.auditEvents.edges.map((e) => e.node);
}

async function mutate(query: string, requestId: string) {
  const res = await postGraphQL(t, { query }, { authorization: `Bearer ${t.adminKey}`, 'x-request-id': requestId });
  expect(res.headers.get('x-request-id')).toBe(requestId);
  return res.body;
}

describe('the audit trail', () => {
  it('records each admin action with the key, the user, the outcome and the request id', async () => {
    const [user] = await seedUsers(t.database.db, 1);
    await seedSessions(t.database.db, user!.id, { live: 2 });
    await mutate(`mutation { disableUser(id: "${user!.id}") { __typename } }`, 'req-disable-1');
    await mutate(`mutation { enableUser(id: "${user!.id}") { __typename } }`, 'req-enable-1');
    await mutate(`mutation { revokeUserSessions(id: "${user!.id}") { __typename } }`, 'req-revoke-1');

    const trail = await events({ userId: user!.id });
    expect(trail.map((e) => [e.action, e.outcome, e.requestId])).toEqual([
      ['revokeUserSessions', 'success', 'req-revoke-1'],
      ['enableUser', 'success', 'req-enable-1'],
      ['disableUser', 'success', 'req-disable-1'],
    ]);
    for (const e of trail) {
      expect(e.userId).toBe(user!.id);
      expect(e.actor).toEqual({ id: keyId, name: 'test-owner', role: 'OWNER' });
    }
    expect(trail[2]!.details).toEqual({ revokedSessionCount: 2 });
  });

  it('records a refusal as refused, with nothing changed and no success', async () => {
    const [pending] = await seedUsers(t.database.db, 1, { status: 'pending' });
    const body = await mutate(`mutation { disableUser(id: "${pending!.id}") { __typename } }`, 'req-refused-1');
    expect(body.data.disableUser.__typename).toBe('PendingUserError');
    const trail = await events({ userId: pending!.id });
    expect(trail).toHaveLength(1);
    expect(trail[0]).toMatchObject({ action: 'disableUser', outcome: 'refused', requestId: 'req-refused-1' });
    expect(trail[0]!.details).toMatchObject({ code: 'PENDING_USER' });
    const user = await t.client.request<{ user: { status: string } }>(`{ user(id: "${pending!.id}") { status } }`);
    expect(user.user.status).toBe('PENDING');
  });

  it('leaves no success behind when an action fails inside its transaction, and masks the failure', async () => {
    const [user] = await seedUsers(t.database.db, 1);
    await seedSessions(t.database.db, user!.id, { live: 1 });
    // A fault in the middle of disableUser: the session revocation fails after the status changed.
    await t.database.db.execute(sql.raw(`
      CREATE FUNCTION audit_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'secret internal detail %', NEW.id; END $$`));
    await t.database.db.execute(
      sql.raw('CREATE TRIGGER audit_test_fail BEFORE UPDATE ON refresh_tokens FOR EACH ROW EXECUTE FUNCTION audit_test_fail()'),
    );
    try {
      const body = await mutate(`mutation { disableUser(id: "${user!.id}") { __typename } }`, 'req-fails-1');
      expect(body.data).toBeNull();
      expect(body.errors).toEqual([
        {
          message: 'Unexpected error.',
          locations: expect.any(Array),
          path: ['disableUser'],
          extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'req-fails-1' },
        },
      ]);
      expect(JSON.stringify(body)).not.toMatch(/secret internal detail|plpgsql|refresh_tokens|at .*\.(ts|js)/);
    } finally {
      await t.database.db.execute(sql.raw('DROP TRIGGER audit_test_fail ON refresh_tokens'));
      await t.database.db.execute(sql.raw('DROP FUNCTION audit_test_fail()'));
    }
    const after = await t.client.request<{ user: { status: string; activeSessionCount: number } }>(
      `{ user(id: "${user!.id}") { status activeSessionCount } }`,
    );
    expect(after.user).toEqual({ status: 'CONFIRMED', activeSessionCount: 1 });
    expect((await events({ userId: user!.id })).filter((e) => e.outcome === 'success')).toEqual([]);
  });

  it('keeps the history of a deleted user', async () => {
    const [user] = await seedUsers(t.database.db, 1);
    await mutate(`mutation { disableUser(id: "${user!.id}") { __typename } }`, 'req-del-1');
    await mutate(`mutation { deleteUser(id: "${user!.id}") { __typename } }`, 'req-del-2');
    const gone = await t.client.request<{ user: null }>(`{ user(id: "${user!.id}") { id } }`);
    expect(gone.user).toBeNull();
    expect((await events({ userId: user!.id })).map((e) => e.action)).toEqual(['deleteUser', 'disableUser']);
  });

  it('records the client events: register, login, loginFailed, logout', async () => {
    const base = `${t.baseUrl}/api/client/v2.0/app/${defaultAuthSettings.appId}/auth/providers/local-userpass`;
    const post = (path: string, body: unknown) =>
      fetch(`${base}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await t.client.request('mutation { createUser(email: "client@example.com", password: "secret-1") { __typename } }');
    expect((await post('login', { username: 'client@example.com', password: 'wrong-1' })).status).toBe(401);
    const login = await post('login', { username: 'client@example.com', password: 'secret-1' });
    expect(login.status).toBe(200);
    const { refresh_token: refresh, user_id: userId } = (await login.json()) as { refresh_token: string; user_id: string };
    const logout = await fetch(`${t.baseUrl}/api/client/v2.0/auth/session`, { method: 'DELETE', headers: { authorization: `Bearer ${refresh}` } });
    expect(logout.status).toBe(204);
    expect((await post('register', { email: 'new@example.com', password: 'secret-2' })).status).toBe(201);

    const trail = await events({ userId });
    const actions = trail.map((e) => e.action);
    // Newest first: logout, login, the failed login, the creation.
    expect(actions.indexOf('logout')).toBeLessThan(actions.indexOf('login'));
    expect(actions.indexOf('login')).toBeLessThan(actions.indexOf('loginFailed'));
    expect(actions.at(-1)).toBe('createUser');
    expect(trail.find((e) => e.action === 'login')!.actor).toBeNull();
    expect((await events({ action: 'register' })).length).toBeGreaterThanOrEqual(1);
  });

  it('filters by action and by user together', async () => {
    const [a, b] = await seedUsers(t.database.db, 2);
    for (const u of [a!, b!]) {
      await mutate(`mutation { disableUser(id: "${u.id}") { __typename } }`, `req-f-${u.id.slice(0, 4)}`);
      await mutate(`mutation { enableUser(id: "${u.id}") { __typename } }`, `req-g-${u.id.slice(0, 4)}`);
    }
    const both = await events({ userId: a!.id, action: 'enableUser' });
    expect(both.map((e) => [e.userId, e.action])).toEqual([[a!.id, 'enableUser']]);
    const enables = await events({ action: 'enableUser' });
    expect(enables.every((e) => e.action === 'enableUser')).toBe(true);
    expect(enables.map((e) => e.userId)).toEqual(expect.arrayContaining([a!.id, b!.id]));
    expect(await events({ action: 'noSuchAction' })).toEqual([]);
  });

  it('pages newest first with keyset cursors, ties broken by id, and matches the table', async () => {
    // Many events in the same millisecond: ties must still page without gaps or repeats.
    const at = new Date();
    await t.database.db.insert(auditEvents).values(
      Array.from({ length: 30 }, (_, i) => ({ at, action: 'tieTest', outcome: 'success' as const, details: { i } })),
    );
    const expected = (await t.database.db.select({ id: auditEvents.id }).from(auditEvents).orderBy(desc(auditEvents.at), desc(auditEvents.id))).map(
      (r) => r.id,
    );
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page: EventPage = await t.client.request<EventPage>(EVENTS, { first: 7, after });
      seen.push(...page.auditEvents.edges.map((e) => e.node.id));
      if (!page.auditEvents.pageInfo.hasNextPage) break;
      after = page.auditEvents.pageInfo.endCursor;
    }
    expect(seen).toEqual(expected);
    const ats = (await events()).map((e) => Date.parse(e.at));
    expect([...ats].sort((x, y) => y - x)).toEqual(ats);
  });

  it('answers bad arguments with BAD_USER_INPUT naming the argument', async () => {
    for (const [variables, field] of [
      [{ userId: 'not a uuid' }, 'userId'],
      [{ action: 'x'.repeat(65) }, 'action'],
      [{ first: 501 }, 'first'],
      [{ first: -1 }, 'first'],
      [{ after: 'bm90LWEtY3Vyc29y' }, 'after'],
    ] as const) {
      const res = await postGraphQL(t, { query: EVENTS, variables });
      expect(res.body.data).toBeNull();
      expect(res.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });
});
