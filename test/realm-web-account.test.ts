// The account flows through the real realm-web SDK: linking an anonymous user to an email
// (User.linkCredentials), password reset, deletion by the user (App.deleteUser); and what a hostile
// client tries against them: racing links, links without a live session, tokens used in each
// other's place, and answers made outside the routes (413, unknown routes) that must stay JSON.
import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, mailOutbox, refreshTokens, users } from '../src/db/schema.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import {
  DEFAULT_APP_ID,
  PASSWORD,
  Realm,
  call,
  forgetRealmUsers,
  gql,
  introspect,
  linkFromOutbox,
  profile,
  realmApp,
  refresh,
  registerConfirmed,
  uniqueEmail,
  userById,
} from './helpers/realm.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());
afterEach(forgetRealmUsers);

const APP = `/api/client/v2.0/app/${DEFAULT_APP_ID}`;
const loginPath = `${APP}/auth/providers/local-userpass/login`;

/** A session made without the SDK: its tokens as the wire carries them. */
async function rawLogin(email: string, password = PASSWORD) {
  const res = await call(t, 'POST', loginPath, { body: { username: email, password } });
  expect(res.status).toBe(200);
  return res.body as { access_token: string; refresh_token: string; user_id: string };
}
async function rawAnonymous() {
  const res = await call(t, 'POST', `${APP}/auth/providers/anon-user/login`, { body: {} });
  expect(res.status).toBe(200);
  return res.body as { access_token: string; refresh_token: string; user_id: string };
}
/** Registered and confirmed without the SDK. */
async function registered(): Promise<string> {
  const email = uniqueEmail('acct');
  expect((await call(t, 'POST', `${APP}/auth/providers/local-userpass/register`, { body: { email, password: PASSWORD } })).status).toBe(201);
  const { token, tokenId } = await linkFromOutbox(t, email, 'confirm');
  expect((await call(t, 'POST', `${APP}/auth/providers/local-userpass/confirm`, { body: { token, tokenId } })).status).toBe(204);
  return email;
}

describe('linking through realm-web', () => {
  it('links an email to the anonymous user: same id, both identities, the access token keeps working', async () => {
    const app = realmApp(t);
    const anon = await app.logIn(Realm.Credentials.anonymous(false));
    const email = await registerConfirmed(t, app);
    await anon.linkCredentials(Realm.Credentials.emailPassword(email, PASSWORD));
    expect(anon.identities.map((i) => i.providerType).sort()).toEqual(['anon-user', 'local-userpass']);
    expect(anon.profile.email).toBe(email);
    expect((await profile(t, anon.accessToken!)).status).toBe(200);
    await anon.refreshAccessToken();
    expect(await userById(t, anon.id)).toMatchObject({ email, status: 'CONFIRMED', activeSessionCount: 1 });
    // No stray session and no second user: the email's account was absorbed.
    expect(await t.database.db.select().from(users).where(eq(users.email, email))).toHaveLength(1);
    expect(await t.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, anon.id))).toHaveLength(1);
  });

  it('refuses a wrong password, a pending email, a missing or revoked session, with nothing changed', async () => {
    const { access_token, user_id } = await rawAnonymous();
    const email = await registered();
    const wrong = await call(t, 'POST', `${loginPath}?link=true`, { bearer: access_token, body: { username: email, password: 'wrong password' } });
    expect(wrong).toMatchObject({ status: 401, contentType: 'application/json', body: { error_code: 'InvalidPassword' } });

    const pending = uniqueEmail('pending');
    await call(t, 'POST', `${APP}/auth/providers/local-userpass/register`, { body: { email: pending, password: PASSWORD } });
    const unconfirmed = await call(t, 'POST', `${loginPath}?link=true`, { bearer: access_token, body: { username: pending, password: PASSWORD } });
    expect(unconfirmed).toMatchObject({ status: 401, body: { error_code: 'ConfirmationRequired' } });
    const refusals = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'linkIdentity'), eq(auditEvents.userId, user_id)));
    expect(refusals).toEqual([expect.objectContaining({ outcome: 'refused', details: expect.objectContaining({ code: 'CONFIRMATION_REQUIRED' }) })]);

    const noToken = await call(t, 'POST', `${loginPath}?link=true`, { body: { username: email, password: PASSWORD } });
    expect(noToken).toMatchObject({ status: 401, body: { error_code: 'InvalidSession' } });

    await gql(t, `mutation ($id: ID!) { revokeUserSessions(id: $id) { __typename } }`, { id: user_id });
    const revoked = await call(t, 'POST', `${loginPath}?link=true`, { bearer: access_token, body: { username: email, password: PASSWORD } });
    expect(revoked).toMatchObject({ status: 401, body: { error_code: 'InvalidSession' } });
    expect(await userById(t, user_id)).toMatchObject({ email: null });
    // The email's own account is untouched and still logs in, as itself.
    expect((await rawLogin(email)).user_id).not.toBe(user_id);
  });

  it('a refresh token is no access token for linking, and anonymous credentials cannot be linked', async () => {
    const { refresh_token } = await rawAnonymous();
    const email = await registered();
    const res = await call(t, 'POST', `${loginPath}?link=true`, { bearer: refresh_token, body: { username: email, password: PASSWORD } });
    expect(res).toMatchObject({ status: 401, body: { error_code: 'InvalidSession' } });
    const { access_token } = await rawAnonymous();
    const anon = await call(t, 'POST', `${APP}/auth/providers/anon-user/login?link=true`, { bearer: access_token, body: {} });
    expect(anon).toMatchObject({ status: 400, body: { error_code: 'BadRequest' } });
  });

  it('many anonymous users racing to link one email: exactly one gets it', async () => {
    const email = await registered();
    const anons = await Promise.all(Array.from({ length: 6 }, () => rawAnonymous()));
    const results = await Promise.all(
      anons.map((a) => call(t, 'POST', `${loginPath}?link=true`, { bearer: a.access_token, body: { username: email, password: PASSWORD } })),
    );
    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) {
      expect(r.contentType).toBe('application/json');
      // The losers find the identity moved to a user who has logged in (or already theirs is gone).
      expect(r.body.error_code).toMatch(/^(AccountNameInUse|InvalidPassword)$/);
    }
    const owners = await t.database.db.select().from(users).where(eq(users.email, email));
    expect(owners).toEqual([expect.objectContaining({ id: winners[0]!.body.user_id })]);
    const linkEvents = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'linkIdentity'), eq(auditEvents.outcome, 'success'), eq(auditEvents.userId, winners[0]!.body.user_id)));
    expect(linkEvents).toHaveLength(1);
  });
});

describe('password reset through realm-web', () => {
  it('mails a link, resets once, and revokes every session of the user', async () => {
    const app = realmApp(t);
    const email = await registerConfirmed(t, app);
    const user = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    const other = await rawLogin(email);

    await app.emailPasswordAuth.sendResetPasswordEmail({ email });
    // The same answer for an address nobody has.
    await app.emailPasswordAuth.sendResetPasswordEmail({ email: uniqueEmail('nobody') });
    const { token, tokenId, link } = await linkFromOutbox(t, email, 'password_reset');
    expect(link).toMatch(new RegExp(`^${t.baseUrl}/reset-password\\?token=[\\w-]{43}&tokenId=[0-9a-f-]{36}$`));
    const [mail] = await t.database.db.select().from(mailOutbox).where(and(eq(mailOutbox.toEmail, email), eq(mailOutbox.kind, 'password_reset')));
    expect(mail).toMatchObject({ userId: user.id, subject: 'Reset your password' });

    await expect(app.emailPasswordAuth.resetPassword({ password: 'new password!', token: `${token}x`, tokenId })).rejects.toMatchObject({
      statusCode: 400,
      errorCode: 'UserpassTokenInvalid',
    });
    await app.emailPasswordAuth.resetPassword({ password: 'new password!', token, tokenId });
    await expect(app.emailPasswordAuth.resetPassword({ password: 'another one!', token, tokenId })).rejects.toMatchObject({
      errorCode: 'UserpassTokenInvalid',
    });
    // Both sessions are over, at once.
    expect((await refresh(t, other.refresh_token)).status).toBe(401);
    expect((await profile(t, other.access_token)).status).toBe(401);
    expect((await profile(t, user.accessToken!)).status).toBe(401);
    await expect(app.logIn(Realm.Credentials.emailPassword(email, PASSWORD))).rejects.toMatchObject({ errorCode: 'InvalidPassword' });
    expect((await app.logIn(Realm.Credentials.emailPassword(email, 'new password!'))).id).toBe(user.id);
  });

  it('the operator sends a reset link to a confirmed user; anonymous and unknown users get a typed error', async () => {
    const app = realmApp(t);
    const email = await registerConfirmed(t, app);
    const { user_id } = await rawLogin(email);
    const mutation = `mutation ($id: ID!) { sendPasswordReset(id: $id) { __typename ... on SendPasswordResetSuccess { user { id email } } ... on Error { message } } }`;
    expect((await gql(t, mutation, { id: user_id })).sendPasswordReset).toEqual({ __typename: 'SendPasswordResetSuccess', user: { id: user_id, email } });
    const { token, tokenId } = await linkFromOutbox(t, email, 'password_reset');
    await app.emailPasswordAuth.resetPassword({ password: 'set by link', token, tokenId });

    const anon = await rawAnonymous();
    expect((await gql(t, mutation, { id: anon.user_id })).sendPasswordReset).toMatchObject({ __typename: 'PasswordResetUnavailableError' });
    expect((await gql(t, mutation, { id: '00000000-0000-4000-8000-000000000000' })).sendPasswordReset).toMatchObject({
      __typename: 'UserNotFoundError',
    });
  });
});

describe('deleting the account through realm-web', () => {
  it('App.deleteUser deletes the user as deleteUser does: every token dead, audited with the user as actor', async () => {
    const app = realmApp(t);
    const email = await registerConfirmed(t, app);
    const user = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    const other = await rawLogin(email);
    await app.deleteUser(user);
    expect(await userById(t, user.id)).toBeNull();
    expect((await refresh(t, other.refresh_token)).status).toBe(401);
    expect((await introspect(t, other.access_token)).body).toEqual({ active: false });
    const [event] = await t.database.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'deleteUser'), eq(auditEvents.userId, user.id)));
    expect(event).toMatchObject({ outcome: 'success', actorKeyId: null, details: { revokedSessionCount: 2 } });
  });

  it('refuses without an access token, with a refresh token, and with GET', async () => {
    const email = await registered();
    const session = await rawLogin(email);
    expect(await call(t, 'DELETE', '/api/client/v2.0/auth/delete')).toMatchObject({ status: 401, body: { error_code: 'InvalidSession' } });
    expect(await call(t, 'DELETE', '/api/client/v2.0/auth/delete', { bearer: session.refresh_token })).toMatchObject({ status: 401 });
    expect(await call(t, 'GET', '/api/client/v2.0/auth/delete', { bearer: session.access_token })).toMatchObject({ status: 405 });
    expect(await userById(t, session.user_id)).toMatchObject({ email });
  });
});

describe('tokens and errors as the SDKs read them', () => {
  it('refresh tokens are JWTs that are never access tokens, and access tokens are never refresh tokens', async () => {
    const email = await registered();
    const { access_token, refresh_token } = await rawLogin(email);
    const [, payload] = refresh_token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    expect(claims).toMatchObject({ typ: 'refresh', aud: `${DEFAULT_APP_ID}#refresh`, exp: expect.any(Number), iat: expect.any(Number) });
    expect(Buffer.from(claims.jti, 'base64url')).toHaveLength(32);
    expect((await introspect(t, refresh_token)).body).toEqual({ active: false });
    expect((await profile(t, refresh_token)).status).toBe(401);
    expect((await refresh(t, access_token)).status).toBe(401);
    expect((await call(t, 'DELETE', '/api/client/v2.0/auth/session', { bearer: access_token })).status).toBe(401);
    expect((await refresh(t, refresh_token)).status).toBe(201);
  });

  it('answers every error as exactly application/json with CORS, including 413 and routes not served', async () => {
    const big = await fetch(`${t.baseUrl}${loginPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2 * 1024 * 1024) });
    expect(big.status).toBe(413);
    expect(big.headers.get('content-type')).toBe('application/json');
    expect(big.headers.get('access-control-allow-origin')).toBe('*');
    expect(await big.json()).toMatchObject({ error_code: 'PayloadTooLarge' });

    for (const [path, code] of [
      [`${APP}/functions/call`, 'FunctionNotFound'],
      [`${APP}/auth/providers/custom-token/login`, 'AuthProviderNotFound'],
      [`${APP}/auth/providers/local-userpass/reset/call`, 'NotCallable'],
      [`${APP}/push/providers/gcm/registration`, 'ServiceNotFound'],
      ['/api/client/v2.0/auth/api_keys', 'NotFound'],
    ]) {
      const res = await call(t, 'POST', path!, { body: {} });
      expect(res, path).toMatchObject({ status: 404, contentType: 'application/json', body: { error_code: code } });
    }
  });

  it('answers 429 and a database fault (500/503) as exactly application/json with CORS too', async () => {
    // A gateway of its own, so its limits and its closed database touch no other test.
    const own = await startTestApp({ app: { limits: { anonLoginPerAddress: { limit: 1, windowMs: 60_000 } } } });
    try {
      const anonPath = `/api/client/v2.0/app/${DEFAULT_APP_ID}/auth/providers/anon-user/login`;
      const post = () => fetch(`${own.baseUrl}${anonPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect((await post()).status).toBe(200);
      const limited = await post();
      expect(limited.status).toBe(429);
      expect(limited.headers.get('content-type')).toBe('application/json');
      expect(limited.headers.get('access-control-allow-origin')).toBe('*');
      expect(await limited.json()).toMatchObject({ error_code: 'TooManyRequests' });

      await own.database.close();
      const fault = await fetch(`${own.baseUrl}${loginPath}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'someone@example.com', password: PASSWORD }),
      });
      expect([500, 503]).toContain(fault.status);
      expect(fault.headers.get('content-type')).toBe('application/json');
      expect(fault.headers.get('access-control-allow-origin')).toBe('*');
      expect((await fault.json()).error_code).toMatch(/^(InternalServerError|ServiceUnavailable)$/);
    } finally {
      await own.close().catch(() => undefined);
    }
  });
});
