import { gql } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { users } from '../src/db/schema.js';
import { findUsers } from '../src/users/service.js';
import { postGraphQL, startTestApp, type TestApp } from './helpers/app.js';
import { onPostgres } from './helpers/database.js';
import { seedSessions, seedUsers, type SeededUser } from './helpers/seed.js';

let t: TestApp;
let confirmed: SeededUser[];
let pending: SeededUser[];
let disabled: SeededUser[];

beforeAll(async () => {
  t = await startTestApp();
  // 120 confirmed users, of which 20 share one created_at to exercise the id tie-break.
  const tie = new Date(Date.now() - 50_000);
  confirmed = await seedUsers(t.database.db, 120, {
    emailPrefix: 'Conf',
    createdAt: (i) => (i >= 40 && i < 60 ? tie : new Date(Date.now() - i * 1000)),
  });
  pending = await seedUsers(t.database.db, 7, { status: 'pending', emailPrefix: 'pend' });
  disabled = await seedUsers(t.database.db, 3, { status: 'disabled', emailPrefix: 'dis' });
});
afterAll(() => t?.close());

const USERS = gql`
  query Users($status: UserStatus, $search: String, $first: Int, $after: String) {
    users(status: $status, search: $search, first: $first, after: $after) {
      totalCount
      edges { cursor node { id email status createdAt } }
      pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
    }
  }
`;

type UsersPage = {
  users: {
    totalCount: number;
    edges: { cursor: string; node: { id: string; email: string; status: string; createdAt: string } }[];
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null };
  };
};

function newestFirst(a: SeededUser, b: SeededUser) {
  return b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

describe('users', () => {
  it('lists each status with its count, 50 by default, newest first', async () => {
    const page = await t.client.request<UsersPage>(USERS, { status: 'CONFIRMED' });
    expect(page.users.totalCount).toBe(120);
    expect(page.users.edges).toHaveLength(50);
    expect(page.users.pageInfo.hasNextPage).toBe(true);
    expect(page.users.pageInfo.hasPreviousPage).toBe(false);
    const expected = [...confirmed].sort(newestFirst).slice(0, 50).map((u) => u.id);
    expect(page.users.edges.map((e) => e.node.id)).toEqual(expected);
    expect(new Set(page.users.edges.map((e) => e.node.status))).toEqual(new Set(['CONFIRMED']));

    const pend = await t.client.request<UsersPage>(USERS, { status: 'PENDING' });
    expect(pend.users.totalCount).toBe(7);
    expect(pend.users.edges.map((e) => e.node.id).sort()).toEqual(pending.map((u) => u.id).sort());
    const dis = await t.client.request<UsersPage>(USERS, { status: 'DISABLED' });
    expect(dis.users.edges.map((e) => e.node.id).sort()).toEqual(disabled.map((u) => u.id).sort());
    const all = await t.client.request<UsersPage>(USERS, {});
    expect(all.users.totalCount).toBe(130);
  });

  it('walks every page with keyset cursors: no user twice, none missed, ties broken by id', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const page: UsersPage = await t.client.request<UsersPage>(USERS, { status: 'CONFIRMED', first: 17, after });
      seen.push(...page.users.edges.map((e) => e.node.id));
      if (pages > 0) expect(page.users.pageInfo.hasPreviousPage).toBe(true);
      if (!page.users.pageInfo.hasNextPage) break;
      after = page.users.pageInfo.endCursor;
    }
    expect(seen).toEqual([...confirmed].sort(newestFirst).map((u) => u.id));
  });

  it('a cursor stays valid when users are added before it', async () => {
    const first = await t.client.request<UsersPage>(USERS, { status: 'DISABLED', first: 1 });
    await seedUsers(t.database.db, 2, { status: 'disabled', emailPrefix: 'late', createdAt: () => new Date() });
    const next = await t.client.request<UsersPage>(USERS, {
      status: 'DISABLED',
      first: 10,
      after: first.users.pageInfo.endCursor,
    });
    expect(next.users.edges.map((e) => e.node.id)).toEqual(
      [...disabled].sort(newestFirst).slice(1).map((u) => u.id),
    );
  });

  it('searches by case-insensitive email prefix and by exact id', async () => {
    const byPrefix = await t.client.request<UsersPage>(USERS, { search: 'CONF1' });
    // Conf1, Conf10..19, Conf100..119
    expect(byPrefix.users.totalCount).toBe(1 + 10 + 20);
    expect(byPrefix.users.edges.every((e) => e.node.email.toLowerCase().startsWith('conf1'))).toBe(true);

    const target = pending[3]!;
    const byId = await t.client.request<UsersPage>(USERS, { search: target.id.toUpperCase() });
    expect(byId.users.edges.map((e) => e.node.id)).toEqual([target.id]);

    const withStatus = await t.client.request<UsersPage>(USERS, { search: target.id, status: 'CONFIRMED' });
    expect(withStatus.users.totalCount).toBe(0);
  });

  it('treats LIKE wildcards and SQL in search as plain text', async () => {
    for (const search of ['%', '_', '\\', "' OR 1=1 --", 'conf%']) {
      const page = await t.client.request<UsersPage>(USERS, { search });
      expect(page.users.totalCount, search).toBe(0);
    }
  });

  it('caps first at 500 and rejects bad cursors with BAD_USER_INPUT', async () => {
    const ok = await postGraphQL(t, { query: USERS, variables: { first: 500 } });
    expect(ok.body.data.users.edges.length).toBeGreaterThan(100);
    for (const variables of [{ first: 501 }, { first: -1 }, { after: 'not-a-cursor' }, { after: 'x'.repeat(5000) }]) {
      const res = await postGraphQL(t, { query: USERS, variables });
      expect(res.status).toBe(200);
      expect(res.body.data).toBeNull();
      expect(res.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts|stack/i);
    }
  });

  it('finds one user by id, null for an unknown id, BAD_USER_INPUT for a malformed one', async () => {
    const u = confirmed[0]!;
    const query = gql`query ($id: ID!) { user(id: $id) { id email status } }`;
    expect(await t.client.request(query, { id: u.id })).toEqual({
      user: { id: u.id, email: u.email, status: 'CONFIRMED' },
    });
    expect(await t.client.request(query, { id: '00000000-0000-4000-8000-000000000000' })).toEqual({ user: null });
    const bad = await postGraphQL(t, { query, variables: { id: "1' OR '1'='1" } });
    expect(bad.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });
});

describe('sessions of a user', () => {
  it('counts and lists only live sessions, newest first, paged', async () => {
    const u = confirmed[5]!;
    await seedSessions(t.database.db, u.id, { live: 7, revoked: 3, expired: 2 });
    const query = gql`
      query ($id: ID!, $after: String) {
        user(id: $id) {
          activeSessionCount
          identities { providerType id }
          sessions(first: 4, after: $after) {
            edges { node { id deviceId createdAt expiresAt lastUsedAt } }
            pageInfo { hasNextPage endCursor }
          }
        }
      }
    `;
    type R = { user: { activeSessionCount: number; identities: unknown[]; sessions: { edges: { node: { deviceId: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } };
    const first = await t.client.request<R>(query, { id: u.id });
    expect(first.user.activeSessionCount).toBe(7);
    expect(first.user.identities).toEqual([{ providerType: 'local-userpass', id: u.email!.toLowerCase() }]);
    expect(first.user.sessions.edges.map((e) => e.node.deviceId)).toEqual([
      'device-live-0',
      'device-live-1',
      'device-live-2',
      'device-live-3',
    ]);
    expect(first.user.sessions.pageInfo.hasNextPage).toBe(true);
    const second = await t.client.request<R>(query, { id: u.id, after: first.user.sessions.pageInfo.endCursor });
    expect(second.user.sessions.edges.map((e) => e.node.deviceId)).toEqual([
      'device-live-4',
      'device-live-5',
      'device-live-6',
    ]);
    expect(second.user.sessions.pageInfo.hasNextPage).toBe(false);
  });
});

describe('a page of users as the service returns it', () => {
  it("maps each field as drizzle does (on PostgreSQL, the raw path's read-only rows)", async () => {
    const id = randomUUID();
    const customData = { plan: 'pro', nested: { list: [1, 'two', null, { deep: true }] }, 'with "quotes"': 'é😀' };
    await t.database.db.insert(users).values({
      id,
      email: `mapped.${id}@example.com`,
      status: 'disabled',
      createdAt: new Date('2026-01-02T03:04:05.678Z'),
      lastAuthenticatedAt: new Date('2026-02-03T04:05:06.789Z'),
      disabledAt: new Date('2026-03-04T05:06:07.891Z'),
      customData,
    });
    const [drizzleRow] = await t.database.db.select().from(users).where(eq(users.id, id));
    for (const withActiveSessionCount of [false, true]) {
      const page = await findUsers(t.database.db, { status: 'disabled' }, 50, null, { withActiveSessionCount });
      const row = page.nodes.find((r) => r.id === id)!;
      expect(row).toBeDefined();
      // On PostgreSQL the page comes from rawList: rows of its own class, fields read by name.
      if (onPostgres) expect(Object.getPrototypeOf(row)).not.toBe(Object.prototype);
      for (const key of Object.keys(drizzleRow!) as (keyof typeof drizzleRow & string)[]) {
        expect(row[key as keyof typeof row], key).toEqual(drizzleRow![key]);
      }
      expect(row.customData).toEqual(customData);
      expect(row.disabledAt!.getTime()).toBe(Date.parse('2026-03-04T05:06:07.891Z'));
      expect(row.activeSessionCount).toBe(withActiveSessionCount ? 0 : undefined);
      // The same value on every read, and all of it in its JSON.
      expect(row.customData).toBe(row.customData);
      expect(row.disabledAt).toBe(row.disabledAt);
      expect(row.lastAuthenticatedAt).toBe(row.lastAuthenticatedAt);
      expect(JSON.parse(JSON.stringify(row))).toEqual(JSON.parse(JSON.stringify({ ...drizzleRow, ...(withActiveSessionCount ? { activeSessionCount: 0 } : {}) })));
    }
  });
});

