// Access tokens other services verify themselves: a verifier written as a consumer writes one
// (jose's createRemoteJWKSet on /.well-known/jwks.json + jwtVerify with the issuer and audience),
// each algorithm, the attacks on it, rotation, two instances, sealed keys, and the deployment from
// before signing keys that keeps HS256.
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import {
  SignJWT,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportSPKI,
  generateKeyPair,
  importJWK,
  jwtVerify,
  type JWK,
} from 'jose';
import { createApp } from '../src/app.js';
import { startRevocationFeed } from '../src/changefeed/feed.js';
import type { AccessTokenAlgorithm } from '../src/config.js';
import { signingKeys } from '../src/db/schema.js';
import { createLogger } from '../src/logger.js';
import { InvalidSessionError } from '../src/tokens/errors.js';
import { LEGACY_KID, SigningKeyUnreadableError } from '../src/tokens/signing-keys.js';
import { createTokenKeys, signAccessToken } from '../src/tokens/tokens.js';
import { createAccessTokenVerifier, verifyAccessToken } from '../src/tokens/verify.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { onPostgres } from './helpers/database.js';
import { DEFAULT_APP_ID, call, gql, introspect, profile } from './helpers/realm.js';
import { pollUntil } from './helpers/wait.js';
import { REALM_CORE_CLIENT, realmCoreClientPresent } from './helpers/realm-core.js';
import { distCommand } from './helpers/process.js';

const nativeClient = realmCoreClientPresent('test/jwks.test.ts');
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function anonymousLogin(baseUrl: string, appId = DEFAULT_APP_ID): Promise<{ access: string; refresh: string; userId: string }> {
  const res = await fetch(`${baseUrl}/api/client/v2.0/app/${appId}/auth/providers/anon-user/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { access_token: string; refresh_token: string; user_id: string };
  return { access: body.access_token, refresh: body.refresh_token, userId: body.user_id };
}

/** The verifier a consumer (PowerSync, a jose back end) writes: the gateway's JWKS URL, its issuer and audience. */
function consumer(baseUrl: string, audience: string | string[], options: Parameters<typeof createRemoteJWKSet>[1] = {}) {
  const jwks = createRemoteJWKSet(new URL(`${baseUrl}/.well-known/jwks.json`), options);
  return (token: string) => jwtVerify(token, jwks, { issuer: baseUrl, audience });
}

async function jwksOf(baseUrl: string): Promise<{ keys: JWK[] }> {
  return (await (await fetch(`${baseUrl}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
}

async function rotate(t: TestApp): Promise<{ kid: string; previousKid: string; algorithm: string }> {
  const { rotateSigningKey } = await gql(
    t,
    `mutation { rotateSigningKey { __typename ... on RotateSigningKeySuccess { kid previousKid algorithm } ... on Error { message } } }`,
  );
  expect(rotateSigningKey.__typename).toBe('RotateSigningKeySuccess');
  return rotateSigningKey;
}

describe.each<AccessTokenAlgorithm>(['EdDSA', 'ES256', 'RS256'])('%s access tokens, verified by a consumer through the JWKS', (alg) => {
  let t: TestApp;
  const audience = ['powersync', DEFAULT_APP_ID];
  beforeAll(async () => {
    t = await startTestApp({ auth: { accessTokenAlgorithm: alg, accessTokenAudience: audience } });
  });
  afterAll(() => t?.close());

  it('publishes the key, and a consumer accepts fresh tokens; /introspect and verifyAccessToken too, with revocation', async () => {
    const res = await fetch(`${t.baseUrl}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/max-age=60/);
    const { keys } = (await res.json()) as { keys: JWK[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ alg, use: 'sig', kid: expect.any(String) });
    // Only the public half: no private member of any key type.
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(keys[0]).not.toHaveProperty(member);
    const discovery = (await (await fetch(`${t.baseUrl}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({ issuer: t.baseUrl, jwks_uri: `${t.baseUrl}/.well-known/jwks.json` });

    const user = await anonymousLogin(t.baseUrl);
    expect(decodeProtectedHeader(user.access)).toEqual({ alg, kid: keys[0]!.kid, typ: 'JWT' });
    const { payload } = await consumer(t.baseUrl, 'powersync')(user.access);
    expect(payload).toMatchObject({ sub: user.userId, iss: t.baseUrl, aud: audience });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(3600);

    const verifier = createAccessTokenVerifier(t.database.db, { appId: DEFAULT_APP_ID, publicUrl: t.baseUrl, accessTokenAudience: audience });
    expect((await verifyAccessToken(user.access, verifier)).userId).toBe(user.userId);
    expect((await introspect(t, user.access)).body).toMatchObject({ active: true, sub: user.userId });
    expect((await profile(t, user.access)).status).toBe(200);

    // Revoked: /introspect, verifyAccessToken and the gateway refuse at once; an offline verifier only at expiry.
    await gql(t, `mutation ($id: ID!) { revokeUserSessions(id: $id) { __typename } }`, { id: user.userId });
    expect((await introspect(t, user.access)).body).toEqual({ active: false });
    await expect(verifyAccessToken(user.access, verifier)).rejects.toThrow(InvalidSessionError);
    expect((await profile(t, user.access)).status).toBe(401);
    await expect(consumer(t.baseUrl, 'powersync')(user.access)).resolves.toBeTruthy();
  });

  it("realm-core 14.14 (the native SDKs' client) logs in, reads the profile, refreshes and logs out", async (ctx) => {
    if (!nativeClient) ctx.skip();
    const { stdout } = await promisify(execFile)(REALM_CORE_CLIENT, [
      '--base-url', t.baseUrl, '--app-id', DEFAULT_APP_ID, 'login-anon', 'profile', 'refresh', 'logout',
    ]);
    const steps = stdout.trim().split('\n').map((line) => JSON.parse(line) as { step: string; ok: boolean });
    expect(steps.map((s) => [s.step, s.ok])).toEqual([
      ['init', true], ['login-anon', true], ['profile', true], ['refresh', true], ['logout', true],
    ]);
  });

  it('is refused (by the consumer and the gateway) from another key, for another audience, unsigned, or HS256 with the public key as secret', async () => {
    const user = await anonymousLogin(t.baseUrl);
    const claims = decodeJwt(user.access);
    const { kid } = decodeProtectedHeader(user.access);
    const verify = consumer(t.baseUrl, 'powersync');
    const refusedEverywhere = async (token: string) => {
      await expect(verify(token)).rejects.toThrow();
      expect((await profile(t, token)).status).toBe(401);
      expect((await introspect(t, token)).body).toEqual({ active: false });
    };

    // Another key of the same algorithm, claiming the real kid.
    const other = await generateKeyPair(alg);
    await refusedEverywhere(await new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(other.privateKey));
    // The real key, another audience: signed as the gateway would for another app.
    const elsewhere = createTokenKeys(t.database.db, { appId: 'another-app', publicUrl: t.baseUrl, accessTokenAlgorithm: alg });
    const forOtherApp = await signAccessToken(elsewhere, { sub: user.userId, sid: String(claims.sid), deviceId: '', userData: {} }, 600);
    expect(decodeProtectedHeader(forOtherApp.token).kid).toBe(kid);
    await refusedEverywhere(forOtherApp.token);
    // The same token passes where its audience is accepted: only the audience was at fault.
    await expect(consumer(t.baseUrl, 'another-app')(forOtherApp.token)).resolves.toBeTruthy();
    // The real key, another issuer.
    const otherIssuer = createTokenKeys(t.database.db, { appId: DEFAULT_APP_ID, publicUrl: 'https://evil.example.com', accessTokenAlgorithm: alg });
    await refusedEverywhere((await signAccessToken(otherIssuer, { sub: user.userId, sid: String(claims.sid), deviceId: '', userData: {} }, 600)).token);

    // alg none, with and without the kid.
    const [, payload] = user.access.split('.');
    await refusedEverywhere(`${b64({ alg: 'none', kid, typ: 'JWT' })}.${payload}.`);
    await refusedEverywhere(`${b64({ alg: 'none' })}.${payload}.`);

    // Algorithm confusion: HS256 "signed" with the published public key, in the forms libraries take it.
    const [jwk] = (await jwksOf(t.baseUrl)).keys;
    const publicKey = await importJWK(jwk!, alg);
    const pem = await exportSPKI(publicKey as CryptoKey);
    for (const secret of [pem, JSON.stringify(jwk), jwk!.x ?? jwk!.n!]) {
      const forged = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' })
        .sign(new TextEncoder().encode(secret));
      await refusedEverywhere(forged);
      await refusedEverywhere(forged.replace(/^[^.]+/, b64({ alg: 'HS256', typ: 'JWT' })));
    }
    // A refresh token is not an access token, and the reverse.
    expect((await profile(t, user.refresh)).status).toBe(401);
    expect((await call(t, 'POST', '/api/client/v2.0/auth/session', { bearer: user.access })).status).toBe(401);
    // And the real token still passes.
    await expect(verify(user.access)).resolves.toBeTruthy();
  });
});

describe('HS256', () => {
  it('with JWT_SECRET: verified with the secret, nothing published, rotation refused', async () => {
    const secret = 'a configured secret of at least thirty-two characters';
    const t = await startTestApp({ auth: { jwtSecret: secret, accessTokenAlgorithm: 'HS256' } });
    try {
      const user = await anonymousLogin(t.baseUrl);
      expect(decodeProtectedHeader(user.access)).toMatchObject({ alg: 'HS256', kid: expect.stringMatching(/^hs256-/) });
      const { payload } = await jwtVerify(user.access, new TextEncoder().encode(secret), { issuer: t.baseUrl, audience: DEFAULT_APP_ID });
      expect(payload.sub).toBe(user.userId);
      expect(await jwksOf(t.baseUrl)).toEqual({ keys: [] });
      expect((await introspect(t, user.access)).body).toMatchObject({ active: true });
      const { rotateSigningKey } = await gql(t, `mutation { rotateSigningKey { __typename ... on Error { message } } }`);
      expect(rotateSigningKey.__typename).toBe('SigningKeyFromConfigurationError');
      // A token of an older instance (no kid, no iss) is still accepted; one with another secret is not.
      const claims = { ...decodeJwt(user.access) };
      delete claims.iss;
      const old = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
      expect((await profile(t, old)).status).toBe(200);
      const wrong = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(`${secret}!`));
      expect((await profile(t, wrong)).status).toBe(401);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('a token signed with the secret itself still has every claim checked: issuer, audience, nbf, exp, types, shape', async () => {
    const secret = 'a configured secret of at least thirty-two characters';
    const key = new TextEncoder().encode(secret);
    const t = await startTestApp({ auth: { jwtSecret: secret, accessTokenAlgorithm: 'HS256' } });
    try {
      const user = await anonymousLogin(t.baseUrl);
      const header = decodeProtectedHeader(user.access);
      const claims = decodeJwt(user.access);
      const now = Math.floor(Date.now() / 1000);
      const signed = (payload: Record<string, unknown>, protectedHeader: Record<string, unknown> = header) =>
        new SignJWT(payload).setProtectedHeader(protectedHeader as { alg: string }).sign(key);
      const without = (name: string) => Object.fromEntries(Object.entries(claims).filter(([k]) => k !== name));
      const refusedWith = async (token: string, reason: string) => {
        const res = await profile(t, token);
        expect(res.status).toBe(401);
        expect(res.body.error).toBe(`invalid session: ${reason}`);
        expect((await introspect(t, token)).body).toEqual({ active: false });
      };
      // Rewritten by the holder of the secret, and still a valid token: an audience among several.
      expect((await profile(t, await signed({ ...claims, aud: ['another-app', DEFAULT_APP_ID] }))).status).toBe(200);
      expect((await profile(t, await signed({ ...claims, nbf: now - 5 }))).status).toBe(200);
      await refusedWith(await signed({ ...claims, exp: now - 1 }), 'access token expired');
      await refusedWith(await signed({ ...claims, exp: now }), 'access token expired');
      await refusedWith(await signed({ ...claims, nbf: now + 60 }), 'invalid access token');
      await refusedWith(await signed({ ...claims, nbf: String(now) }), 'invalid access token');
      await refusedWith(await signed({ ...claims, iss: 'https://elsewhere.example' }), 'invalid access token');
      await refusedWith(await signed({ ...claims, aud: ['another-app'] }), 'invalid access token');
      await refusedWith(await signed({ ...claims, iat: String(claims.iat) }), 'invalid access token');
      await refusedWith(await signed({ ...claims, exp: String(claims.exp) }), 'invalid access token');
      for (const name of ['iss', 'aud', 'sub', 'sid', 'iat', 'exp']) await refusedWith(await signed(without(name)), 'invalid access token');
      // An expired token that is also for another audience fails on the audience first, as jose orders its checks.
      await refusedWith(await signed({ ...claims, aud: 'another-app', exp: now - 1 }), 'invalid access token');
      // A payload that is not a JSON object, under a good signature.
      const [head, body] = user.access.split('.') as [string, string];
      const withMac = (h: string, p: string) => `${h}.${p}.${createHmac('sha256', key).update(`${h}.${p}`).digest('base64url')}`;
      for (const payload of [Buffer.from('[1]').toString('base64url'), Buffer.from('{not json').toString('base64url')]) {
        await refusedWith(withMac(head, payload), 'invalid access token');
      }
      // A header asking for what no JWT may do (an unencoded payload), under a good signature.
      await refusedWith(withMac(b64({ ...header, b64: false, crit: ['b64'] }), body), 'invalid access token');
      expect((await profile(t, user.access)).status).toBe(200);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('an existing deployment keeps its generated HS256 secret (carried over by the migration), tokens from before included', async () => {
    const legacySecret = Buffer.alloc(32, 7).toString('base64url');
    // What migrations/0003 does for a database whose gateway generated its secret before signing keys.
    const t = await startTestApp({
      prepare: (db) => db.db.insert(signingKeys).values({ id: LEGACY_KID, algorithm: 'HS256', privateKey: `plain:${legacySecret}` }).then(() => {}),
    });
    try {
      const user = await anonymousLogin(t.baseUrl);
      expect(decodeProtectedHeader(user.access)).toMatchObject({ alg: 'HS256', kid: LEGACY_KID });
      expect(await jwksOf(t.baseUrl)).toEqual({ keys: [] });
      const claims = { ...decodeJwt(user.access) };
      delete claims.iss;
      const fromBefore = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(Buffer.from(legacySecret, 'base64url'));
      expect((await profile(t, fromBefore)).status).toBe(200);
    } finally {
      await t.close();
    }
  }, 120_000);
});

describe('rotation', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  it('signs new tokens with the new key at once, verifies old-key tokens until the old key retires, and is audited', async () => {
    const before = await anonymousLogin(t.baseUrl);
    const oldKid = decodeProtectedHeader(before.access).kid!;
    expect(decodeProtectedHeader(before.access).alg).toBe('EdDSA');
    const verify = consumer(t.baseUrl, DEFAULT_APP_ID, { cooldownDuration: 0 });
    await verify(before.access);

    const rotated = await rotate(t);
    expect(rotated).toMatchObject({ previousKid: oldKid, algorithm: 'EdDSA' });
    expect(rotated.kid).not.toBe(oldKid);
    const after = await anonymousLogin(t.baseUrl);
    expect(decodeProtectedHeader(after.access).kid).toBe(rotated.kid);
    expect((await jwksOf(t.baseUrl)).keys.map((k) => k.kid)).toEqual([rotated.kid, oldKid]);
    // The consumer that fetched the JWKS before the rotation takes both (it fetches again on the new kid).
    await verify(before.access);
    await verify(after.access);
    expect((await profile(t, before.access)).status).toBe(200);
    // A refresh of a session from before the rotation gets a new-key token: nobody is logged out.
    const refreshed = await call(t, 'POST', '/api/client/v2.0/auth/session', { bearer: before.refresh });
    expect(decodeProtectedHeader(refreshed.body.access_token).kid).toBe(rotated.kid);

    const { auditEvents } = await gql(t, `{ auditEvents(action: "rotateSigningKey") { edges { node { outcome details } } } }`);
    expect(auditEvents.edges[0].node).toMatchObject({ outcome: 'success', details: { kid: rotated.kid, previousKid: oldKid } });

    // The old key retires: its longest token has expired (its retirement moved back past the TTL).
    await t.database.db.execute(sql`UPDATE signing_keys SET retired_at = now() - interval '2 hours' WHERE id = ${oldKid}`);
    expect(await pollUntil(async () => (await profile(t, before.access)).status === 401, 5_000)).toBe(true);
    expect((await jwksOf(t.baseUrl)).keys.map((k) => k.kid)).toEqual([rotated.kid]);
    await expect(consumer(t.baseUrl, DEFAULT_APP_ID)(before.access)).rejects.toThrow();
    await expect(consumer(t.baseUrl, DEFAULT_APP_ID)(after.access)).resolves.toBeTruthy();
  });

  it('is for owner keys only', async () => {
    const operator = await t.createKey('operator');
    await expect(
      gql(t, `mutation { rotateSigningKey { __typename } }`, {}, { key: operator }),
    ).rejects.toMatchObject({ response: { errors: [{ extensions: { code: 'FORBIDDEN' } }] } });
  });

  it('two instances serve the same JWKS and agree after a rotation made on either', async () => {
    const logger = createLogger();
    const feed = startRevocationFeed(t.database, logger);
    const second = createApp({ database: t.database, logger, auth: { publicUrl: t.baseUrl }, revocations: feed });
    const secondJwks = async () => (await (await second.fetch(new Request(`${t.baseUrl}/.well-known/jwks.json`))).json()) as { keys: JWK[] };
    const rotateOnSecond = async () => {
      const res = await second.fetch(
        new Request(`${t.baseUrl}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
          body: JSON.stringify({ query: 'mutation { rotateSigningKey { ... on RotateSigningKeySuccess { kid } } }' }),
        }),
      );
      return ((await res.json()) as { data: { rotateSigningKey: { kid: string } } }).data.rotateSigningKey.kid;
    };
    try {
      expect(await pollUntil(() => feed.live, 5_000)).toBe(true);
      expect(await secondJwks()).toEqual(await jwksOf(t.baseUrl));
      const kid = await rotateOnSecond();
      expect(await pollUntil(async () => (await jwksOf(t.baseUrl)).keys[0]?.kid === kid, 5_000)).toBe(true);
      expect(await secondJwks()).toEqual(await jwksOf(t.baseUrl));
      expect(decodeProtectedHeader((await anonymousLogin(t.baseUrl)).access).kid).toBe(kid);
      const { kid: fromFirst } = await rotate(t);
      expect(await pollUntil(async () => (await secondJwks()).keys[0]?.kid === fromFirst, 5_000)).toBe(true);
      expect(await secondJwks()).toEqual(await jwksOf(t.baseUrl));
    } finally {
      await feed.close();
    }
  });

  it.skipIf(!onPostgres)('`npm run admin -- keys rotate-signing` rotates, and the running gateway follows', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [...distCommand('admin'), 'keys', 'rotate-signing', '--json'], {
      env: { ...process.env, DATABASE_URL: t.database.url!, PUBLIC_URL: t.baseUrl },
    });
    const rotated = JSON.parse(stdout) as { kid: string; previousKid: string };
    expect(await pollUntil(async () => (await jwksOf(t.baseUrl)).keys[0]?.kid === rotated.kid, 5_000)).toBe(true);
    expect(decodeProtectedHeader((await anonymousLogin(t.baseUrl)).access).kid).toBe(rotated.kid);
  });
});

describe('private keys at rest', () => {
  it('are sealed with TOKEN_KEY_ENCRYPTION_SECRET, and unreadable without the same secret', async () => {
    const secret = 'the key-encryption secret, 32 characters or more';
    const t = await startTestApp({ auth: { tokenKeyEncryptionSecret: secret } });
    try {
      const user = await anonymousLogin(t.baseUrl);
      await consumer(t.baseUrl, DEFAULT_APP_ID)(user.access);
      const [row] = await t.database.db.select().from(signingKeys);
      expect(row!.privateKey).toMatch(/^aes256gcm:/);
      expect(row!.privateKey).not.toContain('"d"');
      const settings = { appId: DEFAULT_APP_ID, publicUrl: t.baseUrl };
      await expect(createTokenKeys(t.database.db, settings).ready()).rejects.toThrow(SigningKeyUnreadableError);
      await expect(
        createTokenKeys(t.database.db, { ...settings, tokenKeyEncryptionSecret: `${secret}, but another` }).ready(),
      ).rejects.toThrow(SigningKeyUnreadableError);
      await expect(createTokenKeys(t.database.db, { ...settings, tokenKeyEncryptionSecret: secret }).ready()).resolves.toBeUndefined();
    } finally {
      await t.close();
    }
  }, 120_000);
});
