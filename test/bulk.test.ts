import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { gql } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, refreshTokens, userIdentities, users, webhookEvents } from '../src/db/schema.js';
import { USERS_PER_SLICE } from '../src/users/plans.js';
import { graphql, postGraphQL, startTestApp, type TestApp } from './helpers/app.js';
import { liveSessionCount, seedSessions, seedUsers } from './helpers/seed.js';

// Every SQL statement the app sends, so a test can see that a bulk action's cost does not grow with its size.
let statements: string[] = [];
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ database: { onQuery: (query) => statements.push(query) } });
});
afterAll(() => t?.close());

const RESULT = `
  requestedCount doneCount notFoundCount pendingCount malformedCount revokedSessionCount
  outcomes { index id status revokedSessionCount message }
`;
const DISABLE = gql`mutation ($ids: [ID!]!) { disableUsers(ids: $ids) { ${RESULT} } }`;
const DELETE = gql`mutation ($ids: [ID!]!) { deleteUsers(ids: $ids) { ${RESULT} } }`;
const REVOKE = gql`mutation ($ids: [ID!]!) { revokeSessionsOfUsers(ids: $ids) { ${RESULT} } }`;


async function statusOf(id: string) {
  const [row] = await t.database.db.select({ status: users.status, disabledAt: users.disabledAt }).from(users).where(eq(users.id, id));
  return row ?? null;
}

async function bulkEvents(action: string, userIds: string[]) {
  return t.database.db
    .select({ userId: auditEvents.userId, outcome: auditEvents.outcome, details: auditEvents.details, actorName: auditEvents.actorName })
    .from(auditEvents)
    .where(and(eq(auditEvents.action, action), inArray(auditEvents.userId, userIds)));
}

/** About `perUser` live sessions for each of many users, in one statement. */
async function seedSessionsOf(userIds: string[], perUser: number) {
  await t.database.db.execute(sql`
    INSERT INTO refresh_tokens (user_id, token_hash, device_id, expires_at)
    SELECT u.id, decode(md5(u.id::text || ':' || g), 'hex'), 'bulk-' || g, now() + interval '1 day'
    FROM unnest(${`{${userIds.join(',')}}`}::text[]) AS u(id), generate_series(1, ${perUser}) AS g`);
}

describe('disableUsers', () => {
  it('disables confirmed users, reports every other id as it is, and never lets one hide the rest', async () => {
    const [a, b] = await seedUsers(t.database.db, 2);
    const [already] = await seedUsers(t.database.db, 1, { status: 'disabled' });
    const [pending] = await seedUsers(t.database.db, 1, { status: 'pending' });
    await seedSessions(t.database.db, a!.id, { live: 3, revoked: 1, expired: 1 });
    await seedSessions(t.database.db, b!.id, { live: 1 });
    const unknown = randomUUID();

    const ids = [a!.id, 'not a uuid', pending!.id, unknown, b!.id.toUpperCase(), already!.id, a!.id];
    const r = (await graphql(t, DISABLE, { ids })).disableUsers;
    expect(r).toMatchObject({
      requestedCount: 6,
      doneCount: 3,
      notFoundCount: 1,
      pendingCount: 1,
      malformedCount: 1,
      revokedSessionCount: 4,
    });
    expect(r.outcomes.map((o: any) => [o.index, o.id, o.status, o.revokedSessionCount])).toEqual([
      [0, a!.id, 'DONE', 3],
      [1, 'not a uuid', 'MALFORMED', 0],
      [2, pending!.id, 'PENDING', 0],
      [3, unknown, 'NOT_FOUND', 0],
      [4, b!.id.toUpperCase(), 'DONE', 1],
      [5, already!.id, 'DONE', 0],
    ]);
    expect(r.outcomes[0].message).toBeNull();
    expect(r.outcomes[1].message).toMatch(/not a valid user id/);
    expect(r.outcomes[2].message).toMatch(/pending/i);
    expect(r.outcomes[3].message).toContain(unknown);

    expect((await statusOf(a!.id))!.status).toBe('disabled');
    expect((await statusOf(a!.id))!.disabledAt).not.toBeNull();
    expect((await statusOf(b!.id))!.status).toBe('disabled');
    expect((await statusOf(pending!.id))!.status).toBe('pending');
    expect(await liveSessionCount(t.database.db, a!.id)).toBe(0);
    expect(await liveSessionCount(t.database.db, b!.id)).toBe(0);
    const reasons = await t.database.db
      .select({ reason: refreshTokens.revokeReason })
      .from(refreshTokens)
      .where(eq(refreshTokens.userId, a!.id));
    expect(reasons.map((x) => x.reason).sort()).toEqual(['logout', null, 'user_disabled', 'user_disabled', 'user_disabled']);

    // One audit event per distinct user id: successes and refusals alike, with the key that acted.
    const events = await bulkEvents('disableUsers', [a!.id, b!.id, already!.id, pending!.id, unknown]);
    const byUser = Object.fromEntries(events.map((e) => [e.userId, e]));
    expect(events).toHaveLength(5);
    expect(byUser[a!.id]).toMatchObject({ outcome: 'success', details: { revokedSessionCount: 3 }, actorName: 'test-owner' });
    expect(byUser[already!.id]).toMatchObject({ outcome: 'success', details: { revokedSessionCount: 0 } });
    expect(byUser[pending!.id]).toMatchObject({ outcome: 'refused', details: { code: 'PENDING_USER' } });
    expect(byUser[unknown]).toMatchObject({ outcome: 'refused', details: { code: 'USER_NOT_FOUND' } });
  });

  it('lists only the outcomes asked for', async () => {
    const [a] = await seedUsers(t.database.db, 1);
    const r = await t.client.request<any>(
      gql`mutation ($ids: [ID!]!) { disableUsers(ids: $ids) { doneCount outcomes(status: [NOT_FOUND, MALFORMED]) { id status } } }`,
      { ids: [a!.id, 'x!', randomUUID()] },
    );
    expect(r.disableUsers.doneCount).toBe(1);
    expect(r.disableUsers.outcomes.map((o: any) => o.status)).toEqual(['MALFORMED', 'NOT_FOUND']);
  });

  it('takes an empty list and changes nothing', async () => {
    expect((await graphql(t, DISABLE, { ids: [] })).disableUsers).toMatchObject({ requestedCount: 0, doneCount: 0, outcomes: [] });
  });

  it('refuses more than 10,000 ids whole, with BAD_USER_INPUT, before changing anything', async () => {
    const [a] = await seedUsers(t.database.db, 1);
    await seedSessions(t.database.db, a!.id, { live: 1 });
    const ids = [a!.id, ...Array.from({ length: 10_000 }, () => randomUUID())];
    const res = await postGraphQL(t, { query: DISABLE, variables: { ids } });
    expect(res.status).toBe(200);
    expect(res.body.data).toBeNull();
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0].message).toMatch(/At most 10,000 ids per call; got 10,001/);
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'ids' });
    expect((await statusOf(a!.id))!.status).toBe('confirmed');
    expect(await liveSessionCount(t.database.db, a!.id)).toBe(1);
  });

  it('is all or nothing: a fault on one user rolls back every user', async () => {
    const seeded = await seedUsers(t.database.db, 5);
    const victim = seeded[3]!;
    for (const u of seeded) await seedSessions(t.database.db, u.id, { live: 1 });
    await t.database.db.execute(sql.raw(`
      CREATE FUNCTION fail_bulk_revoke() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected fault'; END $$`));
    await t.database.db.execute(sql.raw(`
      CREATE TRIGGER fail_bulk_revoke BEFORE UPDATE ON refresh_tokens
        FOR EACH ROW WHEN (NEW.user_id = '${victim.id}') EXECUTE FUNCTION fail_bulk_revoke()`));
    try {
      const res = await postGraphQL(t, { query: DISABLE, variables: { ids: seeded.map((u) => u.id) } });
      expect(res.body.errors[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    } finally {
      await t.database.db.execute(sql.raw('DROP TRIGGER fail_bulk_revoke ON refresh_tokens'));
      await t.database.db.execute(sql.raw('DROP FUNCTION fail_bulk_revoke()'));
    }
    for (const u of seeded) {
      expect((await statusOf(u.id))!.status).toBe('confirmed');
      expect(await liveSessionCount(t.database.db, u.id)).toBe(1);
    }
    expect(await bulkEvents('disableUsers', seeded.map((u) => u.id))).toEqual([]);
  });

  it('is all or nothing across its slices: a fault in the last audit slice rolls back the earlier ones', async () => {
    const seeded = await seedUsers(t.database.db, 2 * USERS_PER_SLICE + 1);
    const ids = seeded.map((u) => u.id);
    const victim = ids.at(-1)!;
    await seedSessionsOf(ids, 1);
    await t.database.db.execute(sql.raw(`
      CREATE FUNCTION fail_bulk_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected fault'; END $$`));
    await t.database.db.execute(sql.raw(`
      CREATE TRIGGER fail_bulk_audit BEFORE INSERT ON audit_events
        FOR EACH ROW WHEN (NEW.user_id = '${victim}' AND NEW.action = 'disableUsers') EXECUTE FUNCTION fail_bulk_audit()`));
    try {
      const res = await postGraphQL(t, { query: DISABLE, variables: { ids } });
      expect(res.body.errors[0]).toMatchObject({ extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    } finally {
      await t.database.db.execute(sql.raw('DROP TRIGGER fail_bulk_audit ON audit_events'));
      await t.database.db.execute(sql.raw('DROP FUNCTION fail_bulk_audit()'));
    }
    const [changed] = await t.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(users)
      .where(and(inArray(users.id, ids), eq(users.status, 'disabled')));
    expect(changed!.n).toBe(0);
    const [revoked] = await t.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(refreshTokens)
      .where(and(inArray(refreshTokens.userId, ids), sql`${refreshTokens.revokedAt} IS NOT NULL`));
    expect(revoked!.n).toBe(0);
    const [events] = await t.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(webhookEvents)
      .where(inArray(webhookEvents.userId, ids));
    expect(events!.n).toBe(0);
    expect(await bulkEvents('disableUsers', ids)).toEqual([]);
  });

  it('runs overlapping bulk actions side by side without deadlocks', async () => {
    const seeded = await seedUsers(t.database.db, 200);
    const ids = seeded.map((u) => u.id);
    await seedSessionsOf(ids, 2);
    const shuffled = [...ids].sort(() => Math.random() - 0.5);
    const results = await Promise.all([
      graphql(t, DISABLE, { ids }),
      graphql(t, REVOKE, { ids: shuffled }),
      graphql(t, DISABLE, { ids: [...ids].reverse() }),
      graphql(t, REVOKE, { ids: shuffled.slice(0, 100) }),
    ]);
    expect(results[0].disableUsers.doneCount).toBe(200);
    expect(results[2].disableUsers.doneCount).toBe(200);
    // Every session was revoked exactly once, by whichever action got to the user first.
    const total =
      results[0].disableUsers.revokedSessionCount +
      results[1].revokeSessionsOfUsers.revokedSessionCount +
      results[2].disableUsers.revokedSessionCount +
      results[3].revokeSessionsOfUsers.revokedSessionCount;
    expect(total).toBe(400);
  });

  it('costs a few SQL statements, plus one webhook and one audit statement per slice of users', async () => {
    const count = async (n: number) => {
      const seeded = await seedUsers(t.database.db, n);
      await seedSessionsOf(seeded.map((u) => u.id), 1);
      statements = [];
      const r = await graphql(t, DISABLE, { ids: seeded.map((u) => u.id) });
      expect(r.disableUsers.doneCount).toBe(n);
      // Not counted: the admin key check, and BEGIN/COMMIT (which only node-postgres reports).
      return statements.filter((s) => !/admin_keys|^\s*(begin|commit)\b/i.test(s)).length;
    };
    // lock, revoke, update, then per slice: webhook events (with their deliveries), audit events
    expect(await count(10)).toBe(5);
    expect(await count(USERS_PER_SLICE)).toBe(5);
    expect(await count(2 * USERS_PER_SLICE + 1)).toBe(3 + 2 * 3);
  });

  it(
    // How long it takes is the benchmark's S6 (bar: under 5 s at a million users), not a test's: a
    // timing here failed under a loaded machine while the statements (counted above) were the same.
    'disables 10,000 users and revokes their 20,000 sessions in one transaction',
    async () => {
      const seeded = await seedUsers(t.database.db, 10_000, { emailPrefix: 'tenk' });
      const ids = seeded.map((u) => u.id);
      await seedSessionsOf(ids, 2);

      const r = (await graphql(t, DISABLE, { ids })).disableUsers;
      expect(r).toMatchObject({ requestedCount: 10_000, doneCount: 10_000, revokedSessionCount: 20_000 });

      // One transaction: every change carries the same transaction timestamp (now() is fixed per transaction).
      const stamps = (await t.database.db.execute(sql`
        SELECT count(*)::int AS n,
               count(DISTINCT u.disabled_at)::int AS disabled_stamps,
               (SELECT count(DISTINCT revoked_at)::int FROM refresh_tokens WHERE user_id = ANY(${`{${ids.join(',')}}`}::text[])) AS revoked_stamps,
               (SELECT count(DISTINCT at)::int FROM audit_events WHERE action = 'disableUsers' AND user_id = ANY(${`{${ids.join(',')}}`}::text[])) AS audit_stamps,
               (SELECT count(*)::int FROM audit_events WHERE action = 'disableUsers' AND user_id = ANY(${`{${ids.join(',')}}`}::text[])) AS audit_events,
               bool_and(u.disabled_at = (SELECT min(at) FROM audit_events WHERE action = 'disableUsers' AND user_id = ANY(${`{${ids.join(',')}}`}::text[]))) AS same
        FROM users u WHERE u.id = ANY(${`{${ids.join(',')}}`}::text[]) AND u.status = 'disabled'`)) as unknown as {
        rows: { n: number; disabled_stamps: number; revoked_stamps: number; audit_stamps: number; audit_events: number; same: boolean }[];
      };
      expect(stamps.rows[0]).toEqual({
        n: 10_000,
        disabled_stamps: 1,
        revoked_stamps: 1,
        audit_stamps: 1,
        audit_events: 10_000,
        same: true,
      });
    },
    120_000,
  );
});

describe('deleteUsers', () => {
  it('deletes pending and confirmed users with identities and sessions, and reports unknown ids', async () => {
    const [a] = await seedUsers(t.database.db, 1);
    const [pending] = await seedUsers(t.database.db, 1, { status: 'pending' });
    await seedSessions(t.database.db, a!.id, { live: 2, revoked: 1 });
    const unknown = randomUUID();
    const r = (await graphql(t, DELETE, { ids: [a!.id, pending!.id, unknown] })).deleteUsers;
    expect(r).toMatchObject({ requestedCount: 3, doneCount: 2, notFoundCount: 1, pendingCount: 0, revokedSessionCount: 2 });
    expect(r.outcomes.map((o: any) => o.status)).toEqual(['DONE', 'DONE', 'NOT_FOUND']);
    for (const id of [a!.id, pending!.id]) {
      expect(await statusOf(id)).toBeNull();
      expect(await t.database.db.select().from(userIdentities).where(eq(userIdentities.userId, id))).toEqual([]);
      expect(await t.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, id))).toEqual([]);
    }
    // The history outlives the users.
    const events = await bulkEvents('deleteUsers', [a!.id, pending!.id, unknown]);
    expect(events.map((e) => e.outcome).sort()).toEqual(['refused', 'success', 'success']);

    // Deleting again: not found.
    expect((await graphql(t, DELETE, { ids: [a!.id] })).deleteUsers.notFoundCount).toBe(1);
  });
});

describe('revokeSessionsOfUsers', () => {
  it('revokes every live session and leaves each status as it was', async () => {
    const [a, b] = await seedUsers(t.database.db, 2);
    await seedSessions(t.database.db, a!.id, { live: 2, expired: 1 });
    await seedSessions(t.database.db, b!.id, { live: 1 });
    const r = (await graphql(t, REVOKE, { ids: [a!.id, b!.id, 'x!'] })).revokeSessionsOfUsers;
    expect(r).toMatchObject({ doneCount: 2, malformedCount: 1, revokedSessionCount: 3 });
    expect(r.outcomes.map((o: any) => o.revokedSessionCount)).toEqual([2, 1, 0]);
    expect((await statusOf(a!.id))!.status).toBe('confirmed');
    expect(await liveSessionCount(t.database.db, a!.id)).toBe(0);
    const [reason] = await t.database.db
      .selectDistinct({ reason: refreshTokens.revokeReason })
      .from(refreshTokens)
      .where(and(eq(refreshTokens.userId, b!.id)));
    expect(reason!.reason).toBe('admin_revoked');
  });
});

describe('roles', () => {
  it('lets operators disable and revoke in bulk, and only owners delete', async () => {
    const [a, b] = await seedUsers(t.database.db, 2);
    const viewer = await t.createKey('viewer');
    const operator = await t.createKey('operator');
    for (const [key, query] of [
      [viewer, DISABLE],
      [viewer, REVOKE],
      [operator, DELETE],
    ] as const) {
      await expect(graphql(t, query, { ids: [a!.id] }, { key })).rejects.toMatchObject({
        response: { errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })] },
      });
    }
    expect((await statusOf(a!.id))!.status).toBe('confirmed');
    expect((await graphql(t, REVOKE, { ids: [a!.id] }, { key: operator })).revokeSessionsOfUsers.doneCount).toBe(1);
    expect((await graphql(t, DISABLE, { ids: [a!.id] }, { key: operator })).disableUsers.doneCount).toBe(1);
    expect((await graphql(t, DELETE, { ids: [b!.id] })).deleteUsers.doneCount).toBe(1);
  });
});
