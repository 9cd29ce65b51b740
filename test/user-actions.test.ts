import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { gql } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, refreshTokens, userIdentities, users } from '../src/db/schema.js';
import { graphql, postGraphQL, startTestApp, type TestApp } from './helpers/app.js';
import { liveSessionCount, seedSessions, seedUsers } from './helpers/seed.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

const DISABLE = gql`
  mutation ($id: ID!) {
    disableUser(id: $id) {
      __typename
      ... on DisableUserSuccess { revokedSessionCount user { id status disabledAt activeSessionCount } }
      ... on Error { message }
      ... on UserNotFoundError { id }
      ... on PendingUserError { id }
    }
  }
`;
const ENABLE = gql`
  mutation ($id: ID!) {
    enableUser(id: $id) {
      __typename
      ... on EnableUserSuccess { user { id status disabledAt activeSessionCount } }
      ... on Error { message }
    }
  }
`;
const DELETE = gql`
  mutation ($id: ID!) {
    deleteUser(id: $id) {
      __typename
      ... on DeleteUserSuccess { deletedUserId revokedSessionCount }
      ... on Error { message }
    }
  }
`;
const REVOKE = gql`
  mutation ($id: ID!) {
    revokeUserSessions(id: $id) {
      __typename
      ... on RevokeUserSessionsSuccess { revokedSessionCount user { id status activeSessionCount } }
      ... on Error { message }
    }
  }
`;
const CREATE = gql`
  mutation ($email: String!, $password: String!) {
    createUser(email: $email, password: $password) {
      __typename
      ... on CreateUserSuccess { user { id email status identities { providerType id } } }
      ... on EmailTakenError { email message }
      ... on InvalidInputError { field message }
    }
  }
`;

const UNKNOWN = '00000000-0000-4000-8000-00000000abcd';

async function events(userId: string) {
  return t.database.db
    .select({ action: auditEvents.action, outcome: auditEvents.outcome, actorName: auditEvents.actorName })
    .from(auditEvents)
    .where(eq(auditEvents.userId, userId))
    .orderBy(auditEvents.at);
}

describe('createUser', () => {
  it('creates a confirmed email/password user with a hashed password', async () => {
    const r = await graphql(t, CREATE, { email: 'New.Person@Example.com', password: 'hunter22' });
    expect(r.createUser.__typename).toBe('CreateUserSuccess');
    expect(r.createUser.user).toMatchObject({
      email: 'New.Person@Example.com',
      status: 'CONFIRMED',
      identities: [{ providerType: 'local-userpass', id: 'new.person@example.com' }],
    });
    const [identity] = await t.database.db
      .select()
      .from(userIdentities)
      .where(eq(userIdentities.userId, r.createUser.user.id));
    expect(identity!.passwordHash).toMatch(/^\$argon2id\$/);
    expect(identity!.passwordHash).not.toContain('hunter22');
  });

  it('refuses a taken email, compared case-insensitively, even when two race', async () => {
    const taken = await graphql(t, CREATE, { email: 'NEW.PERSON@example.COM', password: 'hunter22' });
    expect(taken.createUser).toMatchObject({ __typename: 'EmailTakenError', email: 'NEW.PERSON@example.COM' });

    const racers = await Promise.all(
      Array.from({ length: 5 }, () => graphql(t, CREATE, { email: 'race@example.com', password: 'secret1' })),
    );
    const kinds = racers.map((r) => r.createUser.__typename).sort();
    expect(kinds).toEqual(['CreateUserSuccess', 'EmailTakenError', 'EmailTakenError', 'EmailTakenError', 'EmailTakenError']);
  });

  it('reports malformed emails and short passwords as InvalidInputError', async () => {
    expect((await graphql(t, CREATE, { email: 'not-an-email', password: 'secret1' })).createUser).toMatchObject({
      __typename: 'InvalidInputError',
      field: 'email',
    });
    expect((await graphql(t, CREATE, { email: 'ok@example.com', password: '12345' })).createUser).toMatchObject({
      __typename: 'InvalidInputError',
      field: 'password',
    });
  });
});

describe('disableUser', () => {
  it('disables a confirmed user and revokes every live session in one go', async () => {
    const [u] = await seedUsers(t.database.db, 1);
    await seedSessions(t.database.db, u!.id, { live: 3, revoked: 1, expired: 1 });
    const r = await graphql(t, DISABLE, { id: u!.id });
    expect(r.disableUser).toMatchObject({
      __typename: 'DisableUserSuccess',
      revokedSessionCount: 3,
      user: { id: u!.id, status: 'DISABLED', activeSessionCount: 0 },
    });
    expect(r.disableUser.user.disabledAt).not.toBeNull();
    const reasons = await t.database.db
      .select({ reason: refreshTokens.revokeReason })
      .from(refreshTokens)
      .where(eq(refreshTokens.userId, u!.id));
    expect(reasons.map((x) => x.reason).sort()).toEqual(['logout', null, 'user_disabled', 'user_disabled', 'user_disabled']);

    // Idempotent: disabling again succeeds and revokes nothing.
    expect((await graphql(t, DISABLE, { id: u!.id })).disableUser).toMatchObject({ revokedSessionCount: 0 });
    expect(await events(u!.id)).toEqual([
      { action: 'disableUser', outcome: 'success', actorName: 'test-owner' },
      { action: 'disableUser', outcome: 'success', actorName: 'test-owner' },
    ]);
  });

  it('refuses pending users: they cannot be disabled, only deleted', async () => {
    const [p] = await seedUsers(t.database.db, 1, { status: 'pending' });
    const r = await graphql(t, DISABLE, { id: p!.id });
    expect(r.disableUser).toMatchObject({ __typename: 'PendingUserError', id: p!.id });
    expect(r.disableUser.message).toMatch(/pending/i);
    const [row] = await t.database.db.select().from(users).where(eq(users.id, p!.id));
    expect(row!.status).toBe('pending');
    expect(await events(p!.id)).toEqual([{ action: 'disableUser', outcome: 'refused', actorName: 'test-owner' }]);
    expect((await graphql(t, DELETE, { id: p!.id })).deleteUser).toMatchObject({ __typename: 'DeleteUserSuccess' });
  });

  it('answers UserNotFoundError for an unknown id and BAD_USER_INPUT for a malformed one', async () => {
    expect((await graphql(t, DISABLE, { id: UNKNOWN })).disableUser).toMatchObject({
      __typename: 'UserNotFoundError',
      id: UNKNOWN,
    });
    for (const id of ['no pe', '', "'; DROP TABLE users; --", '12.3', 'x'.repeat(129)]) {
      const res = await postGraphQL(t, { query: DISABLE, variables: { id } });
      expect(res.status).toBe(200);
      expect(res.body.data).toBeNull();
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
      expect(JSON.stringify(res.body)).not.toMatch(/stack|\.ts:\d+/);
    }
  });

  it('is all or nothing: a failure while revoking sessions leaves the user confirmed', async () => {
    const [u] = await seedUsers(t.database.db, 1);
    await seedSessions(t.database.db, u!.id, { live: 2 });
    await t.database.db.execute(sql.raw(`
      CREATE FUNCTION fail_revoke() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected fault'; END $$`));
    await t.database.db.execute(sql.raw(`
      CREATE TRIGGER fail_revoke BEFORE UPDATE ON refresh_tokens
        FOR EACH ROW WHEN (NEW.user_id = '${u!.id}') EXECUTE FUNCTION fail_revoke()`));
    try {
      const res = await postGraphQL(t, { query: DISABLE, variables: { id: u!.id } });
      expect(res.body.errors[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      expect(JSON.stringify(res.body)).not.toContain('injected fault');
    } finally {
      await t.database.db.execute(sql.raw('DROP TRIGGER fail_revoke ON refresh_tokens'));
      await t.database.db.execute(sql.raw('DROP FUNCTION fail_revoke()'));
    }
    const [row] = await t.database.db.select().from(users).where(eq(users.id, u!.id));
    expect(row!.status).toBe('confirmed');
    expect(await liveSessionCount(t.database.db, u!.id)).toBe(2);
    expect(await events(u!.id)).toEqual([]);
  });

  it('counts each session once when the same user is disabled many times at once', async () => {
    const [u] = await seedUsers(t.database.db, 1);
    await seedSessions(t.database.db, u!.id, { live: 25 });
    const results = await Promise.all(Array.from({ length: 8 }, () => graphql(t, DISABLE, { id: u!.id })));
    const total = results.reduce((sum, r) => sum + r.disableUser.revokedSessionCount, 0);
    expect(total).toBe(25);
  });
});

describe('enableUser', () => {
  it('brings a disabled user back to confirmed without bringing back any session', async () => {
    const [u] = await seedUsers(t.database.db, 1);
    await seedSessions(t.database.db, u!.id, { live: 2 });
    await graphql(t, DISABLE, { id: u!.id });
    const r = await graphql(t, ENABLE, { id: u!.id });
    expect(r.enableUser).toMatchObject({
      __typename: 'EnableUserSuccess',
      user: { status: 'CONFIRMED', disabledAt: null, activeSessionCount: 0 },
    });
    // Enabling a confirmed user is a no-op that succeeds.
    expect((await graphql(t, ENABLE, { id: u!.id })).enableUser.__typename).toBe('EnableUserSuccess');
  });

  it('refuses pending users and unknown ids', async () => {
    const [p] = await seedUsers(t.database.db, 1, { status: 'pending' });
    expect((await graphql(t, ENABLE, { id: p!.id })).enableUser.__typename).toBe('PendingUserError');
    expect((await graphql(t, ENABLE, { id: UNKNOWN })).enableUser.__typename).toBe('UserNotFoundError');
  });
});

describe('deleteUser', () => {
  it("removes the user, identities and sessions, but leaves the app's own rows that point at it", async () => {
    await t.database.db.execute(
      sql.raw('CREATE TABLE todo_items (id serial PRIMARY KEY, owner_id uuid NOT NULL, title text NOT NULL)'),
    );
    const [u, other] = await seedUsers(t.database.db, 2);
    await seedSessions(t.database.db, u!.id, { live: 2, revoked: 1 });
    await t.database.db.execute(
      sql`INSERT INTO todo_items (owner_id, title) VALUES (${u!.id}, 'buy milk'), (${u!.id}, 'call mom'), (${other!.id}, 'other')`,
    );

    const r = await graphql(t, DELETE, { id: u!.id });
    expect(r.deleteUser).toEqual({ __typename: 'DeleteUserSuccess', deletedUserId: u!.id, revokedSessionCount: 2 });

    expect(await t.database.db.select().from(users).where(eq(users.id, u!.id))).toEqual([]);
    expect(await t.database.db.select().from(userIdentities).where(eq(userIdentities.userId, u!.id))).toEqual([]);
    expect(await t.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, u!.id))).toEqual([]);
    expect(await t.client.request(gql`query ($id: ID!) { user(id: $id) { id } }`, { id: u!.id })).toEqual({ user: null });
    const todos = (await t.database.db.execute(
      sql`SELECT title FROM todo_items WHERE owner_id = ${u!.id} ORDER BY title`,
    )) as unknown as { rows: { title: string }[] };
    expect(todos.rows.map((x) => x.title)).toEqual(['buy milk', 'call mom']);
    // The history outlives the user.
    expect(await events(u!.id)).toEqual([{ action: 'deleteUser', outcome: 'success', actorName: 'test-owner' }]);

    expect((await graphql(t, DELETE, { id: u!.id })).deleteUser.__typename).toBe('UserNotFoundError');
  });
});

describe('revokeUserSessions', () => {
  it('revokes every live session and keeps the user confirmed', async () => {
    const [u] = await seedUsers(t.database.db, 1);
    await seedSessions(t.database.db, u!.id, { live: 4, expired: 2 });
    const r = await graphql(t, REVOKE, { id: u!.id });
    expect(r.revokeUserSessions).toMatchObject({
      __typename: 'RevokeUserSessionsSuccess',
      revokedSessionCount: 4,
      user: { status: 'CONFIRMED', activeSessionCount: 0 },
    });
    expect((await graphql(t, REVOKE, { id: u!.id })).revokeUserSessions.revokedSessionCount).toBe(0);
    expect((await graphql(t, REVOKE, { id: randomUUID() })).revokeUserSessions.__typename).toBe('UserNotFoundError');
  });
});
