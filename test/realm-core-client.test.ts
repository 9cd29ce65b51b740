// The gateway driven by realm-core v14.14.0's own app client (the C++ code under realm-js 12, Swift,
// Kotlin, Dart and .NET), through ../shared/realm-core-client: register, confirm, log in, restart
// on the same metadata, refresh, link, reset, delete, log out; and what the client reports after an
// operator disables, deletes or logs out its user. Skipped, with the reason printed, where the binary
// is absent; under CI (CI=true) a missing or broken binary fails the run.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, refreshTokens, users } from '../src/db/schema.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DEFAULT_APP_ID, gql, linkFromOutbox, uniqueEmail } from './helpers/realm.js';
import { REALM_CORE_CLIENT, realmCoreClientPresent } from './helpers/realm-core.js';

const CLIENT = REALM_CORE_CLIENT;
const present = realmCoreClientPresent('test/realm-core-client.test.ts');

const PASSWORD = 'a good password';
const NEW_PASSWORD = 'a better password';

interface Step {
  step: string;
  ok: boolean;
  error?: { code: string; message: string; server_error: string | null; http_status: number | null; client_side?: boolean };
  [detail: string]: any;
}

let t: TestApp;
const dirs: string[] = [];

/** One run of the client (one app launch): its steps' JSON lines, the `init` line left out. */
function run(dir: string | null, ...commands: string[]): Promise<Step[]> {
  const args = ['--base-url', t.baseUrl, '--app-id', DEFAULT_APP_ID, '--timeout-ms', '20000'];
  if (dir) args.push('--metadata', 'file', '--base-dir', dir);
  return new Promise((done, fail) => {
    execFile(CLIENT, [...args, ...commands], { timeout: 90_000 }, (err, stdout, stderr) => {
      const lines = stdout.split('\n').filter((line) => line.startsWith('{'));
      // A non-zero exit only says a step failed, which a test may expect; no output at all is a broken client.
      if (lines.length === 0) return fail(new Error(`realm-core-client printed nothing: ${err?.message ?? ''}\n${stderr}`));
      const steps = lines.map((line) => JSON.parse(line) as Step);
      if (steps[0]?.step !== 'init' || !steps[0].ok) return fail(new Error(`realm-core-client did not start: ${lines[0]}\n${stderr}`));
      done(steps.slice(1));
    });
  });
}

/** A base directory of its own: the app's persisted users, as on one device. */
async function device(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'realm-core-client-'));
  dirs.push(dir);
  return dir;
}

function ok(step: Step | undefined): Step {
  expect(step?.error, `${step?.step} failed: ${JSON.stringify(step?.error)}`).toBeUndefined();
  expect(step!.ok).toBe(true);
  return step!;
}

/** Registers through the client and confirms with the mailed link, in one run on `dir`. */
async function registerConfirmed(dir: string, email: string): Promise<void> {
  ok((await run(dir, 'register', email, PASSWORD))[0]);
  const { token, tokenId } = await linkFromOutbox(t, email, 'confirm');
  ok((await run(dir, 'confirm', token, tokenId))[0]);
}

async function logInEmail(dir: string, email: string, password = PASSWORD): Promise<string> {
  const [login] = await run(dir, 'login-email', email, password);
  return ok(login).user_id;
}

const userQuery = `query ($id: ID!) { user(id: $id) { id email status activeSessionCount } }`;

describe.skipIf(!present)('realm-core 14.14 app client against the gateway', () => {
  beforeAll(async () => {
    t = await startTestApp();
    // The binary itself: it starts, and talks to the gateway at all.
    const [state] = await run(null, 'state');
    ok(state);
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('registers, confirms, logs in, keeps its user across a restart, refreshes, reads the profile and logs out', async () => {
    const dir = await device();
    const email = uniqueEmail('core');
    const [register, early] = await run(dir, 'register', email, PASSWORD, 'login-email', email, PASSWORD);
    ok(register);
    // Pending: the error core builds from our JSON body.
    expect(early).toMatchObject({ ok: false, error: { server_error: 'ConfirmationRequired', http_status: 401 } });
    const { token, tokenId } = await linkFromOutbox(t, email, 'confirm');
    ok((await run(dir, 'confirm', token, tokenId))[0]);

    const [login] = await run(dir, 'login-email', email, PASSWORD);
    ok(login);
    // Both tokens are JWTs core accepted and stored (app_metadata.cpp drops a user whose tokens are not).
    expect(login).toMatchObject({ state: 'LoggedIn', wire: { access_token_parts: 3, refresh_token_parts: 3 }, tokens: { refresh_token_parts: 3 } });
    const userId: string = login.user_id;

    // A second launch on the same metadata: the user is still there, logged in, and works.
    const [state, profile, refreshed] = await run(dir, 'state', 'profile', 'refresh');
    expect(ok(state)).toMatchObject({ current_user: userId, current_user_state: 'LoggedIn' });
    expect(ok(profile)).toMatchObject({
      user_id: userId,
      is_anonymous: false,
      identities: [{ id: email.toLowerCase(), provider_type: 'local-userpass' }],
      profile_data: { email },
    });
    // (Within the login's second the new access token can equal the old one: same claims, same HS256.)
    expect(ok(refreshed)).toMatchObject({ state: 'LoggedIn' });

    // The refresh reached the session; only a hash of the refresh token is stored.
    const rows = await t.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, userId));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.lastUsedAt).not.toBeNull();
    expect(rows[0]!.tokenHash).toHaveLength(32);

    const [logout] = await run(dir, 'logout');
    expect(ok(logout)).toMatchObject({ state: 'LoggedOut' });
    const [session] = await t.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, userId));
    expect(session).toMatchObject({ revokeReason: 'logout' });
    // A third launch: still logged out, and a refresh is refused by core itself.
    const [after, refreshAfter] = await run(dir, 'state', 'refresh');
    expect(ok(after)).toMatchObject({ all_users: [{ user_id: userId, state: 'LoggedOut' }] });
    expect(refreshAfter).toMatchObject({ ok: false });
  });

  it('logs in anonymously, then links a registered email: same user id, both identities, the empty account gone', async () => {
    const dir = await device();
    const [anon] = await run(dir, 'login-anon');
    const anonId: string = ok(anon).user_id;
    const email = uniqueEmail('link');
    await registerConfirmed(dir, email);
    const [absorbed] = await t.database.db.select().from(users).where(eq(users.email, email));

    const [linked, profile] = await run(dir, 'link-email', email, PASSWORD, 'profile');
    expect(ok(linked)).toMatchObject({ user_id_before: anonId, user_id_after: anonId, same_user: true, is_anonymous: false });
    expect(linked.wire).toMatchObject({ user_id: anonId, access_token_sub: anonId });
    expect(ok(profile).identities).toEqual([
      { id: anonId, provider_type: 'anon-user' },
      { id: email.toLowerCase(), provider_type: 'local-userpass' },
    ]);
    // What the operator sees: one user, the anonymous one's id, with the email; the registered one is gone.
    expect((await gql(t, userQuery, { id: anonId })).user).toMatchObject({ id: anonId, email, status: 'CONFIRMED', activeSessionCount: 1 });
    expect((await gql(t, userQuery, { id: absorbed!.id })).user).toBeNull();
    const [event] = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'linkIdentity'), eq(auditEvents.userId, anonId)));
    expect(event).toMatchObject({ outcome: 'success', details: { absorbedUserId: absorbed!.id } });

    // On another device, the email logs in to the same user.
    expect(await logInEmail(await device(), email)).toBe(anonId);
  });

  it('refuses to link an identity whose user has logged in, and changes nothing', async () => {
    const owner = await device();
    const email = uniqueEmail('taken');
    await registerConfirmed(owner, email);
    const ownerId = await logInEmail(owner, email);

    const dir = await device();
    const [anon] = await run(dir, 'login-anon');
    const anonId: string = ok(anon).user_id;
    const [link] = await run(dir, 'link-email', email, PASSWORD);
    expect(link).toMatchObject({ ok: false, error: { server_error: 'AccountNameInUse', http_status: 409 } });
    expect((await gql(t, userQuery, { id: anonId })).user).toMatchObject({ email: null, activeSessionCount: 1 });
    expect((await gql(t, userQuery, { id: ownerId })).user).toMatchObject({ email, activeSessionCount: 1 });
    // The anonymous user is still signed in and works.
    ok((await run(dir, 'refresh'))[0]);
  });

  it('resets a password from the mailed link: every session ends, the old password stops working', async () => {
    const dir = await device();
    const email = uniqueEmail('reset');
    await registerConfirmed(dir, email);
    const userId = await logInEmail(dir, email);

    // The same answer for an address without an account.
    const [sent, unknown] = await run(dir, 'reset-send', email, 'reset-send', uniqueEmail('nobody'));
    ok(sent);
    ok(unknown);
    const { token, tokenId, link } = await linkFromOutbox(t, email, 'password_reset');
    expect(link.startsWith(`${t.baseUrl}/`)).toBe(true);
    expect(new URL(link).searchParams.get('token')).toBe(token);

    const [reset, reused] = await run(dir, 'reset', NEW_PASSWORD, token, tokenId, 'reset', 'another password', token, tokenId);
    ok(reset);
    expect(reused).toMatchObject({ ok: false, error: { server_error: 'UserpassTokenInvalid', http_status: 400 } });

    // The session from before the reset is over: core's refresh is refused.
    const [refreshed] = await run(dir, 'refresh');
    expect(refreshed).toMatchObject({ ok: false, error: { code: 'InvalidSession', server_error: 'InvalidSession', http_status: 401 } });
    const [session] = await t.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, userId));
    expect(session).toMatchObject({ revokeReason: 'password_reset' });

    const [old, fresh] = await run(await device(), 'login-email', email, PASSWORD, 'login-email', email, NEW_PASSWORD);
    expect(old).toMatchObject({ ok: false, error: { server_error: 'InvalidPassword', http_status: 401 } });
    expect(ok(fresh).user_id).toBe(userId);
  });

  it('deletes its own account: the client removes the user, the operator no longer sees it, the deletion is audited', async () => {
    const dir = await device();
    const email = uniqueEmail('delete');
    await registerConfirmed(dir, email);
    const userId = await logInEmail(dir, email);
    const [deleted, state] = await run(dir, 'delete-user', 'state');
    expect(ok(deleted)).toMatchObject({ state: 'Removed' });
    expect(ok(state).all_users).toEqual([]);
    expect((await gql(t, userQuery, { id: userId })).user).toBeNull();
    const [event] = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'deleteUser'), eq(auditEvents.userId, userId)));
    expect(event).toMatchObject({ outcome: 'success', actorKeyId: null, details: { revokedSessionCount: 1 } });
    const [again] = await run(dir, 'login-email', email, PASSWORD);
    expect(again).toMatchObject({ ok: false, error: { server_error: 'InvalidPassword' } });
  });

  describe('what the client reports after the operator acts', () => {
    async function loggedInUser(prefix: string): Promise<{ dir: string; email: string; userId: string }> {
      const dir = await device();
      const email = uniqueEmail(prefix);
      await registerConfirmed(dir, email);
      return { dir, email, userId: await logInEmail(dir, email) };
    }

    it('revokeUserSessions: the next refresh is InvalidSession, a new login works', async () => {
      const { dir, email, userId } = await loggedInUser('revoked');
      await gql(t, `mutation ($id: ID!) { revokeUserSessions(id: $id) { __typename } }`, { id: userId });
      const [refreshed, login] = await run(dir, 'refresh', 'login-email', email, PASSWORD);
      expect(refreshed).toMatchObject({ ok: false, error: { code: 'InvalidSession', http_status: 401 } });
      expect(ok(login).user_id).toBe(userId);
    });

    it('disableUser: refresh is InvalidSession, login is UserDisabled, deleting the account is refused', async () => {
      const { dir, email, userId } = await loggedInUser('disabled');
      await gql(t, `mutation ($id: ID!) { disableUser(id: $id) { __typename } }`, { id: userId });
      const [refreshed, remove, login] = await run(dir, 'refresh', 'delete-user', 'login-email', email, PASSWORD);
      expect(refreshed).toMatchObject({ ok: false, error: { code: 'InvalidSession', message: expect.stringContaining('user disabled') } });
      expect(remove).toMatchObject({ ok: false, error: { http_status: 401 } });
      expect(login).toMatchObject({ ok: false, error: { code: 'UserDisabled', server_error: 'UserDisabled', http_status: 401 } });
      expect((await gql(t, userQuery, { id: userId })).user).toMatchObject({ status: 'DISABLED' });
    });

    it('deleteUser: refresh is InvalidSession, the email no longer logs in; logging out leaves the client logged out', async () => {
      const { dir, email, userId } = await loggedInUser('deleted');
      await gql(t, `mutation ($id: ID!) { deleteUser(id: $id) { __typename } }`, { id: userId });
      const [refreshed, login, logout, state] = await run(dir, 'refresh', 'login-email', email, PASSWORD, 'logout', 'state');
      expect(refreshed).toMatchObject({ ok: false, error: { code: 'InvalidSession', http_status: 401 } });
      expect(login).toMatchObject({ ok: false, error: { server_error: 'InvalidPassword' } });
      // Core logs the user out locally first, then reports what the server said of a session it no longer has.
      expect(logout).toMatchObject({ ok: false, state: 'LoggedOut', error: { code: 'InvalidSession', http_status: 401 } });
      expect(ok(state).all_users).toEqual([{ user_id: userId, state: 'LoggedOut' }]);
    });
  });

  it('reads every error of the gateway: routes not served answer JSON core turns into a named error', async () => {
    const dir = await device();
    const email = uniqueEmail('unserved');
    await registerConfirmed(dir, email);
    await logInEmail(dir, email);
    // User API keys are not served: a JSON 404 with an error code, not an HTML page.
    const [list] = await run(dir, 'api-key-list');
    expect(list).toMatchObject({ ok: false, error: { server_error: 'NotFound', http_status: 404 } });
    const [apiKeyLogin] = await run(dir, 'login-api-key', 'x'.repeat(64));
    expect(apiKeyLogin).toMatchObject({ ok: false, error: { code: 'AuthProviderNotFound', server_error: 'AuthProviderNotFound', http_status: 404 } });
  });
});
