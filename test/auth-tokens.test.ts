// Access and refresh tokens: what a token must be to be accepted, the
// signing key, verifyAccessToken in-process, /introspect, and a second instance on the same database.
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { createApp } from '../src/app.js';
import { formToken } from '../src/http/client-api.js';
import { InvalidSessionError } from '../src/tokens/errors.js';
import { tokenDigest } from '../src/tokens/signing-keys.js';
import { createTokenKeys, signAccessToken } from '../src/tokens/tokens.js';
import { createAccessTokenVerifier, verifyAccessToken, type AccessTokenVerifier } from '../src/tokens/verify.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { gatewaySecrets, refreshTokens, signingKeys } from '../src/db/schema.js';
import { createLogger } from '../src/logger.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import {
  DEFAULT_APP_ID,
  PASSWORD,
  Realm,
  call,
  forgetRealmUsers,
  forgetUsers,
  gql,
  introspect,
  profile,
  realmApp,
  refresh,
  registerConfirmed,
} from './helpers/realm.js';

let t: TestApp;
let app: Realm.App;
let verifier: AccessTokenVerifier;

beforeAll(async () => {
  t = await startTestApp();
  // As the app's own back end would build it: over the same database, from its own key lookup.
  verifier = createAccessTokenVerifier(t.database.db, { appId: DEFAULT_APP_ID, publicUrl: t.baseUrl, jwtSecret: null });
});
afterAll(() => t?.close());
afterEach(forgetRealmUsers);

async function signedInUser(): Promise<Realm.User> {
  app = realmApp(t);
  const email = await registerConfirmed(t, app);
  return app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The token is refused by each of the three checks: the profile route, /introspect, verifyAccessToken. */
async function expectRefused(token: string, reason?: string): Promise<void> {
  const res = await profile(t, token);
  expect(res.status).toBe(401);
  expect(res.body.error_code).toBe('InvalidSession');
  if (reason) expect(res.body.error).toBe(`invalid session: ${reason}`);
  expect((await introspect(t, token)).body).toEqual({ active: false });
  const error = await verifyAccessToken(token, verifier).catch((e) => e);
  expect(error).toBeInstanceOf(InvalidSessionError);
  if (reason) expect(error.reason).toBe(reason);
}

describe('access tokens: what they carry, and which ones are refused', () => {
  it('carry what realm-web decodes: sub, sid, user_data, baas_device_id, numeric iat and exp, 30 minutes', async () => {
    const user = await signedInUser();
    const token = user.accessToken!;
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', kid: expect.any(String), typ: 'JWT' });
    const claims = decodeJwt(token);
    const [session] = await t.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, user.id));
    expect(claims).toMatchObject({
      sub: user.id,
      sid: session!.id,
      aud: DEFAULT_APP_ID,
      typ: 'access',
      user_data: {},
      baas_device_id: user.deviceId,
    });
    expect(claims.exp! - claims.iat!).toBe(30 * 60);
    expect(Math.abs(claims.iat! - Date.now() / 1000)).toBeLessThan(60);

    const verified = await verifyAccessToken(token, verifier);
    expect(verified).toMatchObject({ userId: user.id, sessionId: session!.id, deviceId: user.deviceId, audience: DEFAULT_APP_ID });
  });

  it('refuses an expired token, though its session is live', async () => {
    const user = await signedInUser();
    const { sid } = decodeJwt(user.accessToken!) as { sid: string };
    const keys = createTokenKeys(t.database.db, { appId: DEFAULT_APP_ID, publicUrl: t.baseUrl, jwtSecret: null });
    const { token } = await signAccessToken(
      keys,
      { sub: user.id, sid, deviceId: user.deviceId!, userData: {} },
      30 * 60,
      Date.now() - 31 * 60 * 1000,
    );
    await expectRefused(token, 'access token expired');
    // The same claims, unexpired, pass: only the expiry was at fault.
    const fresh = await signAccessToken(keys, { sub: user.id, sid, deviceId: user.deviceId!, userData: {} }, 60);
    expect((await profile(t, fresh.token)).status).toBe(200);
  });

  it('refuses a token that expires after it was checked: a token checked before is remembered, never past its exp', async () => {
    const user = await signedInUser();
    const { sid } = decodeJwt(user.accessToken!) as { sid: string };
    const keys = createTokenKeys(t.database.db, { appId: DEFAULT_APP_ID, publicUrl: t.baseUrl, jwtSecret: null });
    // Signed 58 s before the current second began, for 60 s: it expires in 1 to 2 s (never so soon
    // that the checks below could find it expired already).
    const second = Math.floor(Date.now() / 1000) * 1000;
    const { token, claims } = await signAccessToken(keys, { sub: user.id, sid, deviceId: user.deviceId!, userData: {} }, 60, second - 58_000);
    expect(await verifyAccessToken(token, verifier)).toMatchObject({ userId: user.id, sessionId: sid });
    expect(verifier.keys.checkedToken(tokenDigest(token))).toMatchObject({ sub: user.id, sid, exp: claims.exp });
    // Remembered by its hash: only this very text finds it.
    expect(verifier.keys.checkedToken(tokenDigest(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`))).toBeUndefined();
    expect(verifier.keys.checkedToken(tokenDigest(`${token} `))).toBeUndefined();
    expect((await introspect(t, token)).body).toMatchObject({ active: true });
    expect((await introspect(t, token)).body).toMatchObject({ active: true });
    // A reload of the ring (a rotation, a notification) forgets what it checked.
    verifier.keys.invalidate();
    expect(verifier.keys.checkedToken(tokenDigest(token))).toBeUndefined();
    await verifyAccessToken(token, verifier);
    expect(verifier.keys.checkedToken(tokenDigest(token))).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, claims.exp * 1000 - Date.now() + 50));
    expect(verifier.keys.checkedToken(tokenDigest(token))).toBeUndefined();
    await expectRefused(token, 'access token expired');
  });

  it("remembers a checked token's user data as it was signed, frozen", async () => {
    const user = await signedInUser();
    const { sid } = decodeJwt(user.accessToken!) as { sid: string };
    const keys = createTokenKeys(t.database.db, { appId: DEFAULT_APP_ID, publicUrl: t.baseUrl, jwtSecret: null });
    const userData = { name: 'Ann', plan: { tier: 2 } };
    const withData = await signAccessToken(keys, { sub: user.id, sid, deviceId: user.deviceId!, userData }, 60);
    const without = await signAccessToken(keys, { sub: user.id, sid, deviceId: user.deviceId!, userData: {} }, 60);
    for (const [token, expected] of [[withData.token, userData], [without.token, {}]] as const) {
      expect((await verifyAccessToken(token, verifier)).userData).toEqual(expected);
      const remembered = verifier.keys.checkedToken(tokenDigest(token))!;
      expect(remembered.userData).toEqual(expected);
      expect(Object.isFrozen(remembered.userData)).toBe(true);
    }
  });

  it('refuses tampered tokens, alg "none", other algorithms, other keys and other apps', async () => {
    const user = await signedInUser();
    const other = await signedInUser();
    const good = user.accessToken!;
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const claims = decodeJwt(good);

    // Someone else's id, or extra custom data, under the original signature.
    await expectRefused(`${header}.${b64({ ...claims, sub: other.id })}.${signature}`, 'invalid access token');
    await expectRefused(`${header}.${b64({ ...claims, user_data: { role: 'admin' } })}.${signature}`);
    await expectRefused(`${header}.${b64({ ...claims, exp: claims.exp! + 86_400 })}.${signature}`);
    const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
    await expectRefused(`${header}.${payload}.${flipped}`);

    // Unsigned tokens, in the forms attackers try.
    const noneHeader = b64({ alg: 'none', typ: 'JWT' });
    await expectRefused(`${noneHeader}.${payload}.`, 'invalid access token');
    await expectRefused(`${noneHeader}.${payload}`);
    await expectRefused(`${b64({ alg: 'None' })}.${payload}.`);

    // The deployment's current key (EdDSA, a new deployment's default), as the gateway holds it.
    const { kid, key } = await createTokenKeys(t.database.db, { appId: DEFAULT_APP_ID, publicUrl: t.baseUrl }).signingKey();
    const sign = (alg: string, signingKey: Parameters<SignJWT['sign']>[0], extra: Record<string, unknown> = {}) =>
      new SignJWT({ ...claims, ...extra }).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(signingKey);
    // The real key is accepted when everything else is right; HS256 under its kid is not.
    expect((await profile(t, await sign('EdDSA', key))).status).toBe(200);
    await expectRefused(await sign('HS256', new TextEncoder().encode('some other key, long enough for HS256!')));
    await expectRefused(await sign('EdDSA', key, { aud: 'another-app' }));
    await expectRefused(await sign('EdDSA', key, { typ: 'refresh' }));
    await expectRefused(await sign('EdDSA', key, { sid: '00000000-0000-4000-8000-000000000000' }), 'session not found');

    for (const junk of ['', 'null', 'not.a.jwt', good.slice(0, -1), `${good}.x`, user.refreshToken!]) {
      if (junk) await expectRefused(junk);
    }
    expect((await profile(t, good)).status).toBe(200);
  });

  it('refuses an access token whose session was logged out or has expired', async () => {
    const user = await signedInUser();
    const access = user.accessToken!;
    const { sid } = decodeJwt(access) as { sid: string };
    await t.database.db
      .update(refreshTokens)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(refreshTokens.id, sid));
    await expectRefused(access, 'session expired');
    expect(await refresh(t, user.refreshToken!)).toMatchObject({ status: 401, body: { error_code: 'InvalidSession' } });

    const second = await app.logIn(Realm.Credentials.emailPassword(user.profile.email!, PASSWORD));
    const secondAccess = second.accessToken!;
    await second.logOut();
    await expectRefused(secondAccess, 'session revoked');
  });
});

describe('refresh tokens', () => {
  it('are JWTs holding 256 random bits, stored only as their SHA-256, and live 60 days', async () => {
    const user = await signedInUser();
    const token = user.refreshToken!;
    // A JWT, as realm-core requires (jwt.cpp), whose `jti` is the 256 random bits.
    const [, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    expect(claims).toMatchObject({ typ: 'refresh', sub: user.id });
    expect(Buffer.from(claims.jti, 'base64url')).toHaveLength(32);
    const rows = await t.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, user.id));
    expect(rows).toHaveLength(1);
    expect(Buffer.from(rows[0]!.tokenHash).equals(createHash('sha256').update(token).digest())).toBe(true);
    const days = (rows[0]!.expiresAt.getTime() - rows[0]!.createdAt.getTime()) / 86_400_000;
    expect(days).toBeCloseTo(60, 3);
    const dump = JSON.stringify(
      (await t.database.db.execute(sql`SELECT * FROM refresh_tokens`)) as unknown as { rows: unknown[] },
    );
    expect(dump).not.toContain(token);

    const refreshed = await refresh(t, token);
    expect(refreshed.status).toBe(201);
    expect(Object.keys(refreshed.body)).toEqual(['access_token']);
    expect((await profile(t, refreshed.body.access_token)).status).toBe(200);
    const [used] = await t.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, user.id));
    expect(used!.lastUsedAt).not.toBeNull();

    // An access token is no refresh token.
    expect(await refresh(t, user.accessToken!)).toMatchObject({
      status: 401,
      body: { error_code: 'InvalidSession', error: 'invalid session: failed to find refresh token' },
    });
  });
});

describe('the signing key', () => {
  it('is generated once and kept in the database, so every instance signs and verifies alike', async () => {
    const user = await signedInUser();
    const rows = await t.database.db.select().from(signingKeys);
    expect(rows.map((r) => [r.algorithm, r.retiredAt])).toEqual([['EdDSA', null]]);
    // The refresh tokens' key is another one, never published (src/tokens/refresh-tokens.ts).
    const secrets = await t.database.db.select().from(gatewaySecrets);
    expect(secrets.map((r) => r.name)).toEqual(['refresh_token_signing_key']);

    // A second instance of the gateway over the same database.
    const second = createApp({ database: t.database, logger: createLogger(), auth: { publicUrl: t.baseUrl } });
    const profileAt = (instance: typeof second, token: string) =>
      instance.fetch(
        new Request(`${t.baseUrl}/api/client/v2.0/auth/profile`, { headers: { authorization: `Bearer ${token}` } }),
      );
    expect((await profileAt(second, user.accessToken!)).status).toBe(200);
    const session = await second.fetch(
      new Request(`${t.baseUrl}/api/client/v2.0/auth/session`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.refreshToken}` },
      }),
    );
    const { access_token: fromSecond } = (await session.json()) as { access_token: string };
    expect((await profile(t, fromSecond)).status).toBe(200);
    expect((await t.database.db.select().from(signingKeys)).length).toBe(1);
    expect((await t.database.db.select().from(gatewaySecrets)).length).toBe(1);

    // Revoked through the first instance: refused by the second from the moment the mutation returns.
    await gql(t, `mutation ($id: ID!) { revokeUserSessions(id: $id) { __typename } }`, { id: user.id });
    expect((await profileAt(second, user.accessToken!)).status).toBe(401);
    expect((await profileAt(second, fromSecond)).status).toBe(401);
  });

  it('comes from JWT_SECRET when one is configured', async () => {
    const secret = 'a configured secret of at least thirty-two characters';
    const other = await startTestApp({ auth: { appId: 'secret-app', jwtSecret: secret } });
    try {
      app = new Realm.App({ id: 'secret-app', baseUrl: other.baseUrl });
      const user = await app.logIn(Realm.Credentials.anonymous(false));
      const { jwtVerify } = await import('jose');
      const { payload } = await jwtVerify(user.accessToken!, new TextEncoder().encode(secret), { audience: 'secret-app' });
      expect(payload.sub).toBe(user.id);
      // No access-token key is generated; only the refresh tokens' own key, never JWT_SECRET.
      expect((await other.database.db.select().from(gatewaySecrets)).map((r) => r.name)).toEqual(['refresh_token_signing_key']);
      // Not valid at a gateway with another key.
      expect((await profile(t, user.accessToken!)).status).toBe(401);
      await forgetUsers(app);
    } finally {
      await other.close();
    }
  }, 120_000);
});

describe('the token routes on the direct path', () => {
  it('GET …/auth/profile and POST …/auth/session answer with the sign-in API\'s headers, request id and errors', async () => {
    const user = await signedInUser();
    const send = (method: string, path: string, headers: Record<string, string>) =>
      new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }>((resolve, reject) => {
        const req = httpRequest(`${t.baseUrl}/api/client/v2.0/${path}`, { method, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : null });
          });
        });
        req.on('error', reject);
        req.end();
      });
    const apiHeaders = { 'content-type': 'application/json', 'cache-control': 'no-store', 'access-control-allow-origin': '*' };

    const me = await send('GET', 'auth/profile', { authorization: `Bearer ${user.accessToken}`, 'x-request-id': 'trace-profile-1' });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user_id: user.id, domain_id: DEFAULT_APP_ID, type: 'normal' });
    expect(me.headers).toMatchObject({ ...apiHeaders, 'x-request-id': 'trace-profile-1', 'access-control-allow-methods': expect.stringContaining('DELETE') });
    expect(me.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(me.body))));

    const refreshed = await send('POST', 'auth/session', { authorization: `Bearer ${user.refreshToken}` });
    expect(refreshed.status).toBe(201);
    expect(refreshed.headers).toMatchObject(apiHeaders);
    expect(decodeJwt(refreshed.body.access_token).sub).toBe(user.id);
    expect((await profile(t, refreshed.body.access_token)).status).toBe(200);

    // Refusals: no token, the wrong kind of token; each with the API's headers and error body.
    for (const [method, path, headers] of [
      ['GET', 'auth/profile', {}],
      ['GET', 'auth/profile', { authorization: `Bearer ${user.refreshToken}` }],
      ['POST', 'auth/session', { authorization: `Bearer ${user.accessToken}` }],
      ['POST', 'auth/session', { authorization: 'Basic abc' }],
    ] as const) {
      const refused = await send(method, path, headers);
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ error_code: 'InvalidSession', error: expect.stringContaining('invalid session') });
      expect(refused.headers).toMatchObject({ 'content-type': 'application/json', 'access-control-allow-origin': '*', 'x-request-id': expect.any(String) });
    }
  });
});

describe('POST /introspect', () => {
  it('answers on Node directly with the headers, request id, limits and errors of the other routes', async () => {
    const user = await signedInUser();
    const send = (headers: Record<string, string>, body: string, path = '/introspect') =>
      new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
        const req = httpRequest(`${t.baseUrl}${path}`, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const json = { 'content-type': 'application/json' };
    const key = { authorization: `Bearer ${t.adminKey}` };

    const ok = await send({ ...json, ...key, 'x-request-id': 'trace-introspect-1' }, JSON.stringify({ token: user.accessToken }));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ active: true, sub: user.id });
    expect(ok.headers).toMatchObject({
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'content-length': String(Buffer.byteLength(ok.body)),
      'x-request-id': 'trace-introspect-1',
    });
    expect(ok.headers['transfer-encoding']).toBeUndefined();
    expect(ok.headers.connection).not.toBe('close');
    // A query string changes nothing; a form body works; an insane request id is replaced.
    const form = await send({ 'content-type': 'application/x-www-form-urlencoded', ...key, 'x-request-id': 'bad id!' }, `token=${user.accessToken}`, '/introspect?x=1');
    expect(JSON.parse(form.body)).toMatchObject({ active: true });
    expect(form.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse((await send({ ...json, ...key }, JSON.stringify({ token: 'nope' }))).body)).toEqual({ active: false });

    // No admin key: refused without reading the body, and the connection closed after the answer.
    const refused = await send(json, JSON.stringify({ token: user.accessToken }));
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'invalid_client' });
    expect(refused.headers).toMatchObject({ 'www-authenticate': expect.stringContaining('Bearer'), connection: 'close' });
    // Bodies: not JSON, a JSON array (on the direct path), over the sign-in limit (left to the Fetch-API path).
    for (const body of ['{not json', '[1]', JSON.stringify({ token: 'x'.repeat(64 * 1024) })]) {
      const bad = await send({ ...json, ...key }, body);
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.body)).toMatchObject({ error: 'invalid_request' });
    }
  });

  it("reads a form body's token as URLSearchParams does", () => {
    const bodies = ['token=abc.def-_', 'token=', 'token=a&token=b', 'x=1&token=a', 'token=a%2Eb', 'token=a+b', 'token=a=b', 'token=a;b', 'tokens=a', 'TOKEN=a', '', '&token=a', 'token=%zz', 'token=a#b'];
    for (const body of bodies) expect(formToken(body), body).toBe(new URLSearchParams(body).get('token'));
  });

  it('needs an admin key', async () => {
    const user = await signedInUser();
    for (const bearer of [undefined, 'agk_wrong', user.accessToken!]) {
      const res = await call(t, 'POST', '/introspect', { bearer, body: { token: user.accessToken } });
      expect(res.status).toBe(401);
      expect(res.body.active).toBeUndefined();
    }
  });

  it('answers in the shape of RFC 7662, to a form or a JSON body', async () => {
    const user = await signedInUser();
    const token = user.accessToken!;
    const claims = decodeJwt(token);
    const expected = {
      active: true,
      sub: user.id,
      sid: claims.sid,
      exp: claims.exp,
      iat: claims.iat,
      aud: DEFAULT_APP_ID,
      client_id: DEFAULT_APP_ID,
      token_type: 'Bearer',
      device_id: user.deviceId,
    };
    expect(await introspect(t, token)).toMatchObject({ status: 200, body: expected });
    const form = await call(t, 'POST', '/introspect', {
      bearer: t.adminKey,
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form).toMatchObject({ status: 200, body: expected });
    // A viewer key may check tokens too.
    const viewer = await t.createKey('viewer');
    expect((await call(t, 'POST', '/introspect', { bearer: viewer, body: { token } })).body.active).toBe(true);

    expect((await call(t, 'POST', '/introspect', { bearer: t.adminKey, body: {} })).status).toBe(400);
    expect((await call(t, 'POST', '/introspect', { bearer: t.adminKey, body: '{not json' })).status).toBe(400);
    expect((await call(t, 'GET', '/introspect', { bearer: t.adminKey })).status).toBe(405);

    await gql(t, `mutation ($id: ID!) { disableUser(id: $id) { __typename } }`, { id: user.id });
    expect((await introspect(t, token)).body).toEqual({ active: false });
  });
});

describe('configuration', () => {
  it('reads the sign-in settings, with messages that name the variable at fault', () => {
    const config = loadConfig({
      APP_ID: 'my-app-abcde',
      PUBLIC_URL: 'https://users.example.com/',
      AUTO_CONFIRM: 'true',
      JWT_SECRET: 'x'.repeat(32),
      ACCESS_TOKEN_TTL_SECONDS: '600',
    });
    expect(config.auth).toMatchObject({
      appId: 'my-app-abcde',
      publicUrl: 'https://users.example.com',
      autoConfirm: true,
      jwtSecret: 'x'.repeat(32),
      accessTokenTtlSeconds: 600,
      refreshTokenTtlSeconds: 60 * 86_400,
    });
    expect(loadConfig({}).auth).toMatchObject({ appId: 'app-users-gateway', publicUrl: 'http://localhost:4000', autoConfirm: false, jwtSecret: null });
    // The development default follows PORT; production has none: links come from configuration only.
    expect(loadConfig({ PORT: '8080' }).auth.publicUrl).toBe('http://localhost:8080');
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/^PUBLIC_URL must be set in production/);
    expect(() => loadConfig({ NODE_ENV: 'production', CONFIRMATION_URL: 'https://app.example.com/confirm' })).toThrow(/^PUBLIC_URL /);
    expect(loadConfig({ NODE_ENV: 'production', PUBLIC_URL: 'https://users.example.com' }).auth.publicUrl).toBe('https://users.example.com');
    // The command-line tools build no link: they start without it.
    expect(() => loadConfig({ NODE_ENV: 'production' }, { servesLinks: false })).not.toThrow();

    const bad: [Record<string, string>, RegExp][] = [
      [{ APP_ID: 'has spaces' }, /^APP_ID /],
      [{ PUBLIC_URL: 'users.example.com' }, /^PUBLIC_URL /],
      [{ PUBLIC_URL: 'ftp://users.example.com' }, /^PUBLIC_URL /],
      [{ AUTO_CONFIRM: 'maybe' }, /^AUTO_CONFIRM /],
      [{ JWT_SECRET: 'short' }, /^JWT_SECRET /],
      [{ ACCESS_TOKEN_TTL_SECONDS: '5' }, /^ACCESS_TOKEN_TTL_SECONDS /],
      [{ CONFIRMATION_URL: 'nope' }, /^CONFIRMATION_URL /],
    ];
    for (const [env, message] of bad) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    }
  });
});
