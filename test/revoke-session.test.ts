// revokeSession(id): an operator logs a user out of one device. One user, logged in on two devices
// (two realm-web apps, each with its own storage, as a laptop and a phone would be); revoking the
// phone's session ends its access and refresh tokens at once, on a second instance too, while the
// laptop keeps working. The native client (realm-core 14.14) is used for what it reports at login.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { startRevocationFeed, type RevocationFeed } from '../src/changefeed/feed.js';
import { openDatabase, type DatabaseHandle } from '../src/db/client.js';
import { auditEvents, refreshTokens } from '../src/db/schema.js';
import { createLogger } from '../src/logger.js';
import { graphql, postGraphQL, startTestApp, type TestApp } from './helpers/app.js';
import { onPostgres } from './helpers/database.js';
import { projectRoot } from './helpers/process.js';
import { PASSWORD, Realm, call, forgetRealmUsers, introspect, profile, refresh, registerConfirmed } from './helpers/realm.js';
import { pollUntil } from './helpers/wait.js';

const NATIVE_CLIENT = join(projectRoot, '..', 'shared', 'realm-core-client', 'bin', 'realm-core-client');
const APP = '/api/client/v2.0/app/app-users-gateway';

let t: TestApp;
// Generous limits: the test machine is shared, and a loaded one starts PGlite slowly.
beforeAll(async () => {
  t = await startTestApp();
}, 240_000);
afterAll(() => t?.close());
afterEach(forgetRealmUsers);

/** A realm-web app with a storage of its own: one device (its own device id, its own user tokens). */
function device(): Realm.App {
  const MemoryStorage = Realm.getEnvironment().defaultStorage.constructor as new () => any;
  return new Realm.App({ id: 'app-users-gateway', baseUrl: t.baseUrl, storage: new MemoryStorage() });
}

const SESSION_FIELDS = 'id deviceId sdk sdkVersion platform platformVersion deviceName appVersion device createdAt lastUsedAt expiresAt revokedAt revokeAction { mutation requiredRole allowed reason }';

async function sessionsOf(userId: string, key = t.adminKey): Promise<any[]> {
  const { user } = await graphql(t, `query ($id: ID!) { user(id: $id) { sessions { edges { node { ${SESSION_FIELDS} } } } } }`, { id: userId }, { key });
  return user.sessions.edges.map((e: any) => e.node);
}

const REVOKE = `mutation ($id: ID!) {
  revokeSession(id: $id) {
    __typename
    ... on RevokeSessionSuccess { session { id deviceId revokedAt } user { id activeSessionCount } }
    ... on SessionNotFoundError { id message }
  }
}`;

const revoke = async (id: string, key = t.adminKey) => (await graphql(t, REVOKE, { id }, { key })).revokeSession;

/** A user logged in on a laptop and then a phone, both realm-web. */
async function twoDevices() {
  const laptopApp = device();
  const phoneApp = device();
  const email = await registerConfirmed(t, laptopApp);
  const laptop = await laptopApp.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
  const phone = await phoneApp.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
  expect(phone.id).toBe(laptop.id);
  expect(phone.deviceId).not.toBe(laptop.deviceId);
  const [phoneSession, laptopSession] = await sessionsOf(laptop.id);
  expect(phoneSession.deviceId).toBe(phone.deviceId);
  expect(laptopSession.deviceId).toBe(laptop.deviceId);
  return { email, laptop, phone, laptopSession, phoneSession };
}

describe('revokeSession', { timeout: 120_000 }, () => {
  it('lists each device with what its SDK reported, newest first, revocable by this key', async () => {
    const { laptop, phoneSession, laptopSession } = await twoDevices();
    for (const s of [phoneSession, laptopSession]) {
      // realm-web 2.0.1's DeviceInformation: sdkVersion, platform and platformVersion (node here), no sdk name.
      expect(s).toMatchObject({
        sdk: null,
        sdkVersion: '2.0.1',
        platform: 'node',
        platformVersion: process.versions.node,
        deviceName: null,
        device: `SDK 2.0.1 on node ${process.versions.node}`,
        revokedAt: null,
        revokeAction: { mutation: 'revokeSession', requiredRole: 'OPERATOR', allowed: true, reason: null },
      });
    }
    expect(Date.parse(phoneSession.createdAt)).toBeGreaterThanOrEqual(Date.parse(laptopSession.createdAt));
    expect(laptop.deviceId).toBe(laptopSession.deviceId);
  });

  it("kills the phone's access and refresh tokens at once; the laptop keeps working", async () => {
    const { laptop, phone, phoneSession, laptopSession } = await twoDevices();
    const phoneAccess = phone.accessToken!;
    const phoneRefresh = phone.refreshToken!;
    expect((await profile(t, phoneAccess)).status).toBe(200);
    expect((await introspect(t, phoneAccess)).body.active).toBe(true);

    const result = await revoke(phoneSession.id);
    expect(result).toMatchObject({
      __typename: 'RevokeSessionSuccess',
      session: { id: phoneSession.id, deviceId: phone.deviceId },
      user: { id: laptop.id, activeSessionCount: 1 },
    });
    expect(result.session.revokedAt).not.toBeNull();

    // From the moment the mutation returned: the phone's tokens are refused, raw and through realm-web.
    expect(await profile(t, phoneAccess)).toMatchObject({ status: 401, body: { error_code: 'InvalidSession' } });
    expect((await introspect(t, phoneAccess)).body).toEqual({ active: false });
    expect(await refresh(t, phoneRefresh)).toMatchObject({ status: 401, body: { error_code: 'InvalidSession' } });
    await expect(phone.refreshAccessToken()).rejects.toMatchObject({ statusCode: 401 });

    // The laptop: its access token, a refresh, and realm-web's own calls all work.
    expect((await profile(t, laptop.accessToken!)).status).toBe(200);
    await laptop.refreshAccessToken();
    expect((await profile(t, laptop.accessToken!)).status).toBe(200);
    expect((await laptop.refreshProfile(), laptop.profile)).toBeDefined();
    expect((await sessionsOf(laptop.id)).map((s) => s.id)).toEqual([laptopSession.id]);

    // Audited with the session and the device.
    const [event] = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'revokeSession'), eq(auditEvents.userId, laptop.id)));
    expect(event).toMatchObject({
      outcome: 'success',
      actorName: 'test-owner',
      details: { sessionId: phoneSession.id, deviceId: phoneSession.deviceId, device: phoneSession.device, revokedSessionCount: 1 },
    });
    // The row says who ended it.
    const [row] = await t.database.db.select().from(refreshTokens).where(eq(refreshTokens.id, phoneSession.id));
    expect(row!.revokeReason).toBe('admin_revoked');
  });

  it('again, or on an unknown, expired or logged-out session: SessionNotFoundError; a malformed id: BAD_USER_INPUT', async () => {
    const { email, laptop, phoneSession, laptopSession } = await twoDevices();
    expect((await revoke(phoneSession.id)).__typename).toBe('RevokeSessionSuccess');
    expect(await revoke(phoneSession.id)).toMatchObject({ __typename: 'SessionNotFoundError', id: phoneSession.id });
    expect(await revoke(phoneSession.id.toUpperCase())).toMatchObject({ __typename: 'SessionNotFoundError' });
    expect(await revoke('00000000-0000-4000-8000-000000000000')).toMatchObject({ __typename: 'SessionNotFoundError' });

    // Expired: the refresh token's lifetime is over.
    const expiringApp = device();
    const expiring = await expiringApp.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    const [expiringSession] = await sessionsOf(laptop.id);
    expect(expiringSession.deviceId).toBe(expiring.deviceId);
    await t.database.db.update(refreshTokens).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(refreshTokens.id, expiringSession.id));
    expect(await revoke(expiringSession.id)).toMatchObject({ __typename: 'SessionNotFoundError' });

    // Logged out by the user (DELETE auth/session).
    const outApp = device();
    const out = await outApp.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    const [outSession] = await sessionsOf(laptop.id);
    expect(outSession.deviceId).toBe(out.deviceId);
    await out.logOut();
    expect(await revoke(outSession.id)).toMatchObject({ __typename: 'SessionNotFoundError' });

    for (const bad of ['nope', '', "1' OR '1'='1", 'x'.repeat(10_000), `${laptopSession.id}\u0000`]) {
      const res = await postGraphQL(t, { query: REVOKE, variables: { id: bad } });
      // A NUL is refused before execution (400), as in every other argument; the rest by the mutation.
      expect(res.status, JSON.stringify(bad.slice(0, 40))).toBe(bad.includes('\u0000') ? 400 : 200);
      expect(res.body.errors[0].extensions.code, JSON.stringify(bad.slice(0, 40))).toBe('BAD_USER_INPUT');
      expect(res.body.data ?? null).toBeNull();
    }
    // None of it touched the laptop.
    expect((await sessionsOf(laptop.id)).map((s) => s.id)).toEqual([laptopSession.id]);
    expect((await profile(t, laptop.accessToken!)).status).toBe(200);
  });

  it('is refused to a viewer key, which sees why; nothing changes', async () => {
    const { laptop, phone, phoneSession } = await twoDevices();
    const viewer = await t.createKey('viewer', 'session-viewer');
    const res = await postGraphQL(t, { query: REVOKE, variables: { id: phoneSession.id } }, { authorization: `Bearer ${viewer}` });
    expect(res.status).toBe(200);
    expect(res.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(res.body.data).toBeNull();

    const sessions = await sessionsOf(laptop.id, viewer);
    expect(sessions).toHaveLength(2);
    for (const s of sessions) {
      expect(s.revokeAction).toEqual({
        mutation: 'revokeSession',
        requiredRole: 'OPERATOR',
        allowed: false,
        reason: 'Needs an operator key; this is a viewer key.',
      });
    }
    expect((await profile(t, phone.accessToken!)).status).toBe(200);
    expect((await refresh(t, phone.refreshToken!)).status).toBe(201);
    // The refusal is in the audit trail, naming the session (not as a user id).
    const [refused] = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'revokeSession'), eq(auditEvents.outcome, 'refused'), eq(auditEvents.actorName, 'session-viewer')));
    expect(refused).toMatchObject({ userId: null, details: { code: 'FORBIDDEN', sessionId: phoneSession.id, role: 'viewer' } });
  });

  it('ten concurrent revocations of one session: one succeeds, nine find it gone', async () => {
    const { laptop, phoneSession } = await twoDevices();
    const results = await Promise.all(Array.from({ length: 10 }, () => revoke(phoneSession.id)));
    const kinds = results.map((r) => r.__typename).sort();
    expect(kinds.filter((k) => k === 'RevokeSessionSuccess')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'SessionNotFoundError')).toHaveLength(9);
    const successes = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'revokeSession'), eq(auditEvents.userId, laptop.id), eq(auditEvents.outcome, 'success')));
    expect(successes).toHaveLength(1);
  });

  it('racing the device\'s own refreshes, never leaves it a working token', async () => {
    const { laptop, phone, phoneSession } = await twoDevices();
    const refreshToken = phone.refreshToken!;
    const refreshes = Array.from({ length: 8 }, () => refresh(t, refreshToken));
    const revoked = revoke(phoneSession.id);
    const answers = await Promise.all(refreshes);
    expect((await revoked).__typename).toBe('RevokeSessionSuccess');
    // Whatever each refresh got before the revocation committed no longer works after it.
    for (const a of answers) {
      if (a.status === 201) expect((await profile(t, a.body.access_token)).status).toBe(401);
      else expect(a.body.error_code).toBe('InvalidSession');
    }
    expect((await profile(t, laptop.accessToken!)).status).toBe(200);
  });

  it('one of 12 sessions of a user, while all of them refresh: only that one ends', async () => {
    const app = device();
    const email = await registerConfirmed(t, app);
    // One after another: concurrent logins of one account count against its failed-login limit
    // until each password is checked (src/limits), which is not what is under test here.
    const tokens: { access_token: string; refresh_token: string; user_id: string }[] = [];
    for (let i = 0; i < 12; i++) {
      const login = await call(t, 'POST', `${APP}/auth/providers/local-userpass/login`, { body: { username: email, password: PASSWORD } });
      expect(login.status).toBe(200);
      tokens.push(login.body);
    }
    const userId = tokens[0]!.user_id;
    const sessions = await sessionsOf(userId);
    expect(sessions).toHaveLength(12);
    const target = sessions[7];
    const [result] = await Promise.all([revoke(target.id), ...tokens.map((tk) => refresh(t, tk.refresh_token))]);
    expect(result.__typename).toBe('RevokeSessionSuccess');
    const statuses = await Promise.all(tokens.map((tk) => profile(t, tk.access_token).then((r) => r.status)));
    expect(statuses.filter((s) => s === 401)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(11);
    // The one refused is the revoked one: the 5th from the oldest login (sessions are newest first).
    expect(statuses[4]).toBe(401);
    expect((await sessionsOf(userId)).map((s) => s.id)).not.toContain(target.id);
  });

  it('keeps only printable, short device fields a client reports; crafted ones are dropped and the login goes on', async () => {
    const crafted = {
      deviceId: { $where: 'sleep(1000)' },
      sdk: 'evil\u0000sdk',
      sdkVersion: 'x'.repeat(65),
      platform: { toString: 'chrome' },
      platformVersion: ['1'],
      deviceName: 'my phone\u202egnp.exe',
      appVersion: '  3.1.4  ',
    };
    const app = device();
    const email = await registerConfirmed(t, app);
    const res = await call(t, 'POST', `${APP}/auth/providers/local-userpass/login`, {
      body: { username: email, password: PASSWORD, options: { device: crafted } },
    });
    expect(res.status).toBe(200);
    const [session] = await sessionsOf(res.body.user_id);
    expect(session).toMatchObject({
      deviceId: res.body.device_id,
      sdk: null,
      sdkVersion: null,
      platform: null,
      platformVersion: null,
      deviceName: null,
      appVersion: '3.1.4',
      device: '(app 3.1.4)',
    });
    expect(res.body.device_id).toMatch(/^[0-9a-f]{24}$/);
    for (const options of [null, 'junk', [1, 2], { device: 'junk' }, { device: [] }]) {
      const r = await call(t, 'POST', `${APP}/auth/providers/local-userpass/login`, { body: { username: email, password: PASSWORD, options } });
      expect(r.status).toBe(200);
    }
  });
});

describe.skipIf(!existsSync(NATIVE_CLIENT))('the native client (realm-core 14.14)', { timeout: 120_000 }, () => {
  /** Runs the native client with its HTTP trace; the login's tokens are read from the trace. */
  function native(args: string[]): Promise<{ lines: any[]; trace: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'i19-native-'));
    return new Promise((resolve) => {
      execFile(
        NATIVE_CLIENT,
        ['--base-url', t.baseUrl, '--app-id', 'app-users-gateway', '--base-dir', dir, '--trace-http', ...args],
        { timeout: 60_000 },
        (_err, stdout, stderr) => {
          rmSync(dir, { recursive: true, force: true });
          resolve({ lines: stdout.trim().split('\n').map((l) => JSON.parse(l)), trace: stderr });
        },
      );
    });
  }

  it("records the device fields realm-core sends at login, and revoking that session ends its tokens, not realm-web's", async () => {
    const webApp = device();
    const email = await registerConfirmed(t, webApp);
    const web = await webApp.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    const { lines, trace } = await native(['login-email', email, PASSWORD]);
    // The server's answer to the native login (whatever realm-core then makes of it on this branch).
    const login = lines.find((l) => l.step === 'login-email');
    expect(login.wire.http_status).toBe(200);
    const answer = JSON.parse(/-> 200 \(application\/json\) (\{"access_token".*\})$/m.exec(trace)![1]!);

    const [nativeSession, webSession] = await sessionsOf(web.id);
    expect(webSession.deviceId).toBe(web.deviceId);
    // App::attach_auth_options of realm-core 14.14, as the client configures it.
    expect(nativeSession).toMatchObject({
      deviceId: answer.device_id,
      sdk: 'realm-core-client',
      sdkVersion: '14.14.0',
      platformVersion: 'Linux',
      deviceName: 'realm-core-client',
      appVersion: null,
    });
    expect(nativeSession.platform).toBeTruthy();
    expect(nativeSession.device).toContain('realm-core-client: realm-core-client 14.14.0 on ');

    expect((await revoke(nativeSession.id)).__typename).toBe('RevokeSessionSuccess');
    expect((await profile(t, answer.access_token)).status).toBe(401);
    expect((await refresh(t, answer.refresh_token)).status).toBe(401);
    expect((await profile(t, web.accessToken!)).status).toBe(200);
    await web.refreshAccessToken();
  });
});

describe.skipIf(!onPostgres)('with a second instance on the same PostgreSQL database', { timeout: 120_000 }, () => {
  let b: { baseUrl: string; database: DatabaseHandle; feed: RevocationFeed; server: Server; statements: string[] };

  beforeAll(async () => {
    const statements: string[] = [];
    const logger = createLogger();
    const database = await openDatabase({ kind: 'postgres', url: t.database.url! }, { onQuery: (q) => statements.push(q) });
    const feed = startRevocationFeed(database, logger);
    const server = createServer(createApp({ database, logger, production: true, revocations: feed }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    expect(await pollUntil(() => feed.live, 10_000)).toBe(true);
    b = { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, database, feed, server, statements };
  }, 120_000);

  afterAll(async () => {
    b?.server.closeAllConnections();
    await new Promise<void>((resolve) => (b ? b.server.close(() => resolve()) : resolve()));
    await b?.feed.close();
    await b?.database.close();
  });

  const activeOnB = async (token: string) => {
    const res = await fetch(`${b.baseUrl}/introspect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { active: boolean }).active;
  };

  it("B refuses the revoked phone's tokens within 100 ms of A's answer, from its cache, and keeps the laptop's", async () => {
    const { laptop, phone, phoneSession } = await twoDevices();
    // Both sessions in B's cache: checking again costs B no statement.
    for (const token of [phone.accessToken!, laptop.accessToken!]) expect(await activeOnB(token)).toBe(true);
    const before = b.statements.length;
    expect(await activeOnB(phone.accessToken!)).toBe(true);
    expect(b.statements.slice(before)).toEqual([]);

    expect((await revoke(phoneSession.id)).__typename).toBe('RevokeSessionSuccess');
    const revokedAt = performance.now();
    expect(await pollUntil(async () => !(await activeOnB(phone.accessToken!)), 2_000, 2)).toBe(true);
    const ms = performance.now() - revokedAt;
    console.log(`B refused the revoked session's access token ${ms.toFixed(1)} ms after A's revokeSession returned`);
    expect(ms).toBeLessThan(100);
    const refreshOnB = await fetch(`${b.baseUrl}/api/client/v2.0/auth/session`, {
      method: 'POST',
      headers: { authorization: `Bearer ${phone.refreshToken}` },
    });
    expect(refreshOnB.status).toBe(401);
    expect(await activeOnB(laptop.accessToken!)).toBe(true);
  });
});
