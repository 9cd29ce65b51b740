// The sign-in API driven by the real realm-web SDK, with an operator acting over GraphQL: an
// operator's disable, delete or session revocation ends every token of the user at once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { auditEvents, mailOutbox, refreshTokens } from '../src/db/schema.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import {
  PASSWORD,
  Realm,
  USER_FIELDS,
  call,
  confirmationFromOutbox,
  forgetRealmUsers,
  forgetUsers,
  gql,
  profile,
  realmApp,
  refresh,
  registerConfirmed,
  uniqueEmail,
  userById,
} from './helpers/realm.js';

let t: TestApp;
let app: Realm.App;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());
afterEach(forgetRealmUsers);

const usersQuery = `query ($status: UserStatus, $search: String) {
  users(status: $status, search: $search) { totalCount edges { node { ${USER_FIELDS} } } }
}`;

async function listed(status: string | null, search: string): Promise<any[]> {
  const { users } = await gql(t, usersQuery, { status, search });
  return users.edges.map((e: any) => e.node);
}

async function logIn(email: string): Promise<Realm.User> {
  return app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
}

describe('signing up through realm-web', () => {
  it('registers a pending user that the operator sees, cannot disable, and can delete', async () => {
    app = realmApp(t);
    const email = uniqueEmail('pending');
    await app.emailPasswordAuth.registerUser({ email, password: PASSWORD });

    const [pending] = await listed('PENDING', email);
    expect(pending).toMatchObject({ email, status: 'PENDING', lastAuthenticatedAt: null, activeSessionCount: 0 });
    expect(await listed('CONFIRMED', email)).toEqual([]);

    // A pending user cannot log in yet, with an error that says why.
    await expect(logIn(email)).rejects.toMatchObject({
      statusCode: 401,
      errorCode: 'ConfirmationRequired',
      error: 'confirmation required',
    });

    const { disableUser } = await gql(
      t,
      `mutation ($id: ID!) { disableUser(id: $id) { __typename ... on PendingUserError { id message } } }`,
      { id: pending.id },
    );
    expect(disableUser).toMatchObject({ __typename: 'PendingUserError', id: pending.id });

    const { deleteUser } = await gql(
      t,
      `mutation ($id: ID!) { deleteUser(id: $id) { __typename ... on DeleteUserSuccess { deletedUserId } } }`,
      { id: pending.id },
    );
    expect(deleteUser).toEqual({ __typename: 'DeleteUserSuccess', deletedUserId: pending.id });
    expect(await listed(null, email)).toEqual([]);
    // Its confirmation link is gone with it.
    await expect(app.emailPasswordAuth.confirmUser(await confirmationFromOutbox(t, email))).rejects.toMatchObject({
      statusCode: 400,
      errorCode: 'UserpassTokenInvalid',
    });
  });

  it('refuses a taken email (409 AccountNameInUse, case-insensitively) and a short password (400)', async () => {
    app = realmApp(t);
    const email = uniqueEmail('taken');
    await app.emailPasswordAuth.registerUser({ email, password: PASSWORD });
    await expect(
      app.emailPasswordAuth.registerUser({ email: email.toUpperCase(), password: PASSWORD }),
    ).rejects.toMatchObject({ statusCode: 409, errorCode: 'AccountNameInUse', error: 'name already in use' });
    await expect(
      app.emailPasswordAuth.registerUser({ email: uniqueEmail(), password: '123' }),
    ).rejects.toMatchObject({ statusCode: 400, errorCode: 'BadRequest' });
    await expect(
      app.emailPasswordAuth.registerUser({ email: 'not-an-email', password: PASSWORD }),
    ).rejects.toMatchObject({ statusCode: 400, errorCode: 'BadRequest' });
  });

  it('confirms with the mailed token once; a bad, reused or resent-over token is refused', async () => {
    app = realmApp(t);
    const email = uniqueEmail('confirm');
    await app.emailPasswordAuth.registerUser({ email, password: PASSWORD });
    const first = await confirmationFromOutbox(t, email);

    await expect(
      app.emailPasswordAuth.confirmUser({ token: `${first.token}x`, tokenId: first.tokenId }),
    ).rejects.toMatchObject({ statusCode: 400, errorCode: 'UserpassTokenInvalid' });
    await expect(
      app.emailPasswordAuth.confirmUser({ token: first.token, tokenId: 'not-a-token-id' }),
    ).rejects.toMatchObject({ statusCode: 400, errorCode: 'UserpassTokenInvalid' });

    // confirm/send mails a new link; the first one still works until it is used.
    await app.emailPasswordAuth.resendConfirmationEmail({ email });
    const second = await confirmationFromOutbox(t, email);
    expect(second.tokenId).not.toBe(first.tokenId);
    await app.emailPasswordAuth.confirmUser(first);

    const [user] = await listed('CONFIRMED', email);
    expect(user.status).toBe('CONFIRMED');
    // Used, and the other outstanding link retired with it.
    await expect(app.emailPasswordAuth.confirmUser(first)).rejects.toMatchObject({ errorCode: 'UserpassTokenInvalid' });
    await expect(app.emailPasswordAuth.confirmUser(second)).rejects.toMatchObject({ errorCode: 'UserpassTokenInvalid' });
    await expect(app.emailPasswordAuth.resendConfirmationEmail({ email })).rejects.toMatchObject({
      statusCode: 409,
      errorCode: 'UserAlreadyConfirmed',
    });
    await expect(app.emailPasswordAuth.resendConfirmationEmail({ email: uniqueEmail('nobody') })).rejects.toMatchObject({
      statusCode: 404,
      errorCode: 'UserNotFound',
    });

    const mails = await t.database.db.select().from(mailOutbox).where(eq(mailOutbox.toEmail, email));
    expect(mails).toHaveLength(2);
    expect(mails[0]).toMatchObject({ kind: 'confirm', userId: user.id, subject: 'Confirm your email address' });
    expect(mails[0]!.link).toMatch(new RegExp(`^${t.baseUrl}/confirm\\?token=[\\w-]{43}&tokenId=[0-9a-f-]{36}$`));
  });
});

describe("revoking a realm-web user's sessions", () => {
  it('ends every token of the user at once; the SDK ends up logged out; logging in again works', async () => {
    app = realmApp(t);
    const email = await registerConfirmed(t, app);
    const user = await logIn(email);

    expect(user.state).toBe('active');
    expect(user.providerType).toBe('local-userpass');
    expect(user.profile.email).toBe(email);
    expect(user.identities).toEqual([{ id: email, providerType: 'local-userpass' }]);
    expect(user.customData).toEqual({});
    expect(user.deviceId).toMatch(/^[0-9a-f]{24}$/);
    await user.refreshProfile();
    await user.refreshAccessToken();
    const oldAccess = user.accessToken!;
    const oldRefresh = user.refreshToken!;
    expect((await profile(t, oldAccess)).status).toBe(200);

    const { revokeUserSessions } = await gql(
      t,
      `mutation ($id: ID!) { revokeUserSessions(id: $id) { ... on RevokeUserSessionsSuccess { revokedSessionCount } } }`,
      { id: user.id },
    );
    expect(revokeUserSessions.revokedSessionCount).toBe(1);

    expect(await profile(t, oldAccess)).toMatchObject({
      status: 401,
      body: { error_code: 'InvalidSession', error: 'invalid session: session revoked' },
    });
    await expect(user.refreshAccessToken()).rejects.toMatchObject({ statusCode: 401, errorCode: 'InvalidSession' });
    expect(user.state).toBe('logged-out');
    expect(user.accessToken).toBeNull();
    expect(app.currentUser).toBeNull();
    expect((await refresh(t, oldRefresh)).status).toBe(401);

    const again = await logIn(email);
    expect(again.id).toBe(user.id);
    expect(again.state).toBe('active');
    await again.refreshProfile();
    expect((await profile(t, again.accessToken!)).status).toBe(200);
    expect((await profile(t, oldAccess)).status).toBe(401);
    expect((await userById(t, user.id)).activeSessionCount).toBe(1);
  });
});

describe('disabling a realm-web user, and enabling it again', () => {
  it('ends every session, refuses login while disabled, and enabling brings none of the old sessions back', async () => {
    app = realmApp(t);
    const email = await registerConfirmed(t, app);
    // Two sessions, as from two devices: the SDK keeps one, the other is kept here.
    const first = await logIn(email);
    const firstTokens = { access: first.accessToken!, refresh: first.refreshToken! };
    const user = await logIn(email);
    expect(user.refreshToken).not.toBe(firstTokens.refresh);
    expect((await userById(t, user.id)).activeSessionCount).toBe(2);

    const { disableUser } = await gql(
      t,
      `mutation ($id: ID!) { disableUser(id: $id) { ... on DisableUserSuccess { revokedSessionCount user { status } } } }`,
      { id: user.id },
    );
    expect(disableUser).toEqual({ revokedSessionCount: 2, user: { status: 'DISABLED' } });

    const oldAccess = [firstTokens.access, user.accessToken!];
    const oldRefresh = [firstTokens.refresh, user.refreshToken!];
    for (const token of oldAccess) expect((await profile(t, token)).status).toBe(401);
    for (const token of oldRefresh) expect((await refresh(t, token)).body.error_code).toBe('InvalidSession');

    // The SDK's own path: the profile gets a 401, its refresh another, and the user is logged out.
    await expect(user.refreshProfile()).rejects.toMatchObject({ statusCode: 401, errorCode: 'InvalidSession' });
    expect(user.state).toBe('logged-out');

    await expect(logIn(email)).rejects.toMatchObject({ statusCode: 401, errorCode: 'UserDisabled', error: 'user disabled' });

    await gql(t, `mutation ($id: ID!) { enableUser(id: $id) { __typename } }`, { id: user.id });
    for (const token of oldAccess) expect((await profile(t, token)).status).toBe(401);
    for (const token of oldRefresh) expect((await refresh(t, token)).status).toBe(401);
    expect((await userById(t, user.id)).activeSessionCount).toBe(0);

    const back = await logIn(email);
    expect(back.state).toBe('active');
    await back.refreshAccessToken();
    expect((await profile(t, back.accessToken!)).status).toBe(200);
    expect(await userById(t, user.id)).toMatchObject({ status: 'CONFIRMED', activeSessionCount: 1 });
  });
});

describe('deleting a realm-web user', () => {
  it('ends every token, refuses login, and the user is in no list any more', async () => {
    app = realmApp(t);
    const email = await registerConfirmed(t, app);
    const first = await logIn(email);
    const firstTokens = { access: first.accessToken!, refresh: first.refreshToken! };
    const user = await logIn(email);
    const id = user.id;

    await gql(t, `mutation ($id: ID!) { deleteUser(id: $id) { __typename } }`, { id });

    for (const token of [firstTokens.access, user.accessToken!]) {
      expect(await profile(t, token)).toMatchObject({ status: 401, body: { error_code: 'InvalidSession' } });
    }
    for (const token of [firstTokens.refresh, user.refreshToken!]) {
      expect(await refresh(t, token)).toMatchObject({
        status: 401,
        body: { error_code: 'InvalidSession', error: 'invalid session: failed to find refresh token' },
      });
    }
    await expect(user.refreshAccessToken()).rejects.toMatchObject({ errorCode: 'InvalidSession' });
    expect(user.state).toBe('logged-out');
    // Logging out of a session that no longer exists is not an error to the SDK.
    await expect(first.logOut()).resolves.toBeUndefined();

    await expect(logIn(email)).rejects.toMatchObject({ statusCode: 401, errorCode: 'InvalidPassword' });
    for (const status of [null, 'CONFIRMED', 'PENDING', 'DISABLED']) {
      expect(await listed(status, email)).toEqual([]);
      expect(await listed(status, id)).toEqual([]);
    }
    expect(await userById(t, id)).toBeNull();
    const rows = await t.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, id));
    expect(rows).toEqual([]);
  });
});

describe('the users list follows logins and logouts', () => {
  it('moves lastAuthenticatedAt and activeSessionCount', async () => {
    app = realmApp(t);
    const email = await registerConfirmed(t, app);
    const [before] = await listed('CONFIRMED', email);
    expect(before).toMatchObject({ lastAuthenticatedAt: null, activeSessionCount: 0 });

    const first = await logIn(email);
    const firstRefresh = first.refreshToken!;
    const [afterOne] = await listed('CONFIRMED', email);
    expect(afterOne.activeSessionCount).toBe(1);
    expect(Date.parse(afterOne.lastAuthenticatedAt)).toBeGreaterThan(Date.now() - 60_000);

    // A fixed pause, not a wait for a state: the clock must move so the second login's instant is later.
    await new Promise((r) => setTimeout(r, 20));
    const second = await logIn(email);
    const [afterTwo] = await listed('CONFIRMED', email);
    expect(afterTwo.activeSessionCount).toBe(2);
    expect(Date.parse(afterTwo.lastAuthenticatedAt)).toBeGreaterThan(Date.parse(afterOne.lastAuthenticatedAt));

    // A refresh is not an authentication.
    await second.refreshAccessToken();
    expect((await userById(t, second.id)).lastAuthenticatedAt).toBe(afterTwo.lastAuthenticatedAt);

    await second.logOut();
    expect(second.state).toBe('logged-out');
    expect((await userById(t, second.id)).activeSessionCount).toBe(1);
    expect((await call(t, 'DELETE', '/api/client/v2.0/auth/session', { bearer: firstRefresh })).status).toBe(204);
    expect(await userById(t, second.id)).toMatchObject({
      activeSessionCount: 0,
      lastAuthenticatedAt: afterTwo.lastAuthenticatedAt,
    });
    const reasons = await t.database.db
      .select({ reason: refreshTokens.revokeReason })
      .from(refreshTokens)
      .where(eq(refreshTokens.userId, second.id));
    expect(reasons.map((r) => r.reason)).toEqual(['logout', 'logout']);

    const actions = await t.database.db
      .select({ action: auditEvents.action, outcome: auditEvents.outcome })
      .from(auditEvents)
      .where(eq(auditEvents.userId, second.id))
      .orderBy(auditEvents.at);
    expect(actions.map((a) => a.action)).toEqual(
      expect.arrayContaining(['register', 'confirmUser', 'login', 'logout']),
    );
  });

  it('records failed logins', async () => {
    app = realmApp(t);
    const email = await registerConfirmed(t, app);
    await expect(app.logIn(Realm.Credentials.emailPassword(email, 'wrong password'))).rejects.toMatchObject({
      statusCode: 401,
      errorCode: 'InvalidPassword',
      error: 'invalid username/password',
    });
    await expect(app.logIn(Realm.Credentials.emailPassword(uniqueEmail('nobody'), PASSWORD))).rejects.toMatchObject({
      statusCode: 401,
      errorCode: 'InvalidPassword',
    });
    const failed = await t.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'loginFailed'));
    expect(failed.some((e) => e.details?.reason === 'wrong password')).toBe(true);
    expect(failed.some((e) => e.details?.reason === 'unknown email' && e.userId === null)).toBe(true);
    expect(app.currentUser).toBeNull();
  });
});

describe('anonymous users', () => {
  it('logs in a new confirmed user without email, listed with its anon-user identity', async () => {
    app = realmApp(t);
    const user = await app.logIn(Realm.Credentials.anonymous(false));
    expect(user.providerType).toBe('anon-user');
    expect(user.profile).toEqual({});
    expect(user.identities).toEqual([{ id: user.id, providerType: 'anon-user' }]);
    const listedUser = await userById(t, user.id);
    expect(listedUser).toMatchObject({ email: null, status: 'CONFIRMED', activeSessionCount: 1 });
    await user.refreshAccessToken();

    // The SDK sends its stored device id back; the new session keeps it.
    const other = await app.logIn(Realm.Credentials.anonymous(false));
    expect(other.id).not.toBe(user.id);
    expect(other.deviceId).toBe(user.deviceId);

    await user.logOut();
    expect((await userById(t, user.id)).activeSessionCount).toBe(0);
  });
});

describe('location and app id', () => {
  it('tells the SDK where the API is; an unknown app id is a 404', async () => {
    const location = await call(t, 'GET', '/api/client/v2.0/app/app-users-gateway/location');
    expect(location).toMatchObject({
      status: 200,
      body: { hostname: t.baseUrl, ws_hostname: t.baseUrl.replace('http', 'ws'), deployment_model: 'GLOBAL' },
    });
    const unknown = realmApp(t, 'some-other-app');
    await expect(unknown.logIn(Realm.Credentials.anonymous(false))).rejects.toMatchObject({
      statusCode: 404,
      errorCode: 'AppNotFound',
    });
  });

  it('answers PUBLIC_URL as the hostname, and AUTO_CONFIRM signs users up confirmed', async () => {
    const other = await startTestApp({
      auth: { appId: 'autoconfirm-app', publicUrl: 'https://users.example.com', autoConfirm: true },
    });
    try {
      const location = await call(other, 'GET', '/api/client/v2.0/app/autoconfirm-app/location');
      expect(location.body.hostname).toBe('https://users.example.com');
      expect((await call(other, 'GET', '/api/client/v2.0/app/app-users-gateway/location')).status).toBe(404);

      app = new Realm.App({ id: 'autoconfirm-app', baseUrl: other.baseUrl, skipLocationRequest: true });
      const email = uniqueEmail('auto');
      await app.emailPasswordAuth.registerUser({ email, password: PASSWORD });
      const user = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
      expect(user.state).toBe('active');
      expect(await other.database.db.select().from(mailOutbox)).toEqual([]);
      await forgetUsers(app);
    } finally {
      await other.close();
    }
  });
});

describe('confirmation from GraphQL', () => {
  const confirm = `mutation ($id: ID!) { confirmUser(id: $id) {
    __typename ... on ConfirmUserSuccess { user { id status } } ... on UserNotFoundError { id message } } }`;
  const resend = `mutation ($id: ID!) { resendConfirmation(id: $id) {
    __typename ... on ResendConfirmationSuccess { user { id status } } ... on UserNotFoundError { id }
    ... on UserNotPendingError { id status message } } }`;

  it('resends the mail, confirms the user (retiring mailed links), and reports what cannot be done', async () => {
    app = realmApp(t);
    const email = uniqueEmail('operator');
    await app.emailPasswordAuth.registerUser({ email, password: PASSWORD });
    const [pending] = await listed('PENDING', email);
    const mailed = await confirmationFromOutbox(t, email);

    const { resendConfirmation } = await gql(t, resend, { id: pending.id });
    expect(resendConfirmation).toEqual({ __typename: 'ResendConfirmationSuccess', user: { id: pending.id, status: 'PENDING' } });
    const resent = await confirmationFromOutbox(t, email);
    expect(resent.tokenId).not.toBe(mailed.tokenId);

    const { confirmUser } = await gql(t, confirm, { id: pending.id });
    expect(confirmUser).toEqual({ __typename: 'ConfirmUserSuccess', user: { id: pending.id, status: 'CONFIRMED' } });
    await expect(app.emailPasswordAuth.confirmUser(resent)).rejects.toMatchObject({ errorCode: 'UserpassTokenInvalid' });
    const user = await logIn(email);
    expect(user.state).toBe('active');

    // Idempotent; and nothing to resend to a confirmed or a disabled user.
    expect((await gql(t, confirm, { id: pending.id })).confirmUser.user.status).toBe('CONFIRMED');
    expect((await gql(t, resend, { id: pending.id })).resendConfirmation).toMatchObject({
      __typename: 'UserNotPendingError',
      status: 'CONFIRMED',
    });
    await gql(t, `mutation ($id: ID!) { disableUser(id: $id) { __typename } }`, { id: pending.id });
    expect((await gql(t, confirm, { id: pending.id })).confirmUser.user.status).toBe('DISABLED');
    expect((await gql(t, resend, { id: pending.id })).resendConfirmation).toMatchObject({
      __typename: 'UserNotPendingError',
      status: 'DISABLED',
    });

    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await gql(t, confirm, { id: missing })).confirmUser).toMatchObject({ __typename: 'UserNotFoundError', id: missing });
    expect((await gql(t, resend, { id: missing })).resendConfirmation).toMatchObject({ __typename: 'UserNotFoundError' });
    await expect(gql(t, confirm, { id: 'no pe' })).rejects.toMatchObject({
      response: { errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] },
    });
  });
});
