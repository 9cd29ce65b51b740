// The client API at the HTTP level: what it answers to requests the SDK would not send, and the
// content types the SDK depends on. Nothing here may be a 500.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { PASSWORD, Realm, call, forgetRealmUsers, realmApp, registerConfirmed, uniqueEmail } from './helpers/realm.js';

let t: TestApp;
let app: Realm.App;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());
afterEach(forgetRealmUsers);

const base = '/api/client/v2.0/app/app-users-gateway';
const userpass = `${base}/auth/providers/local-userpass`;

describe('the client API over HTTP', () => {
  it('answers malformed bodies with 400 BadRequest in JSON', async () => {
    const cases: [string, unknown][] = [
      [`${userpass}/register`, '{"email": '],
      [`${userpass}/register`, '[1, 2]'],
      [`${userpass}/register`, { email: 'a@example.com' }],
      [`${userpass}/register`, { email: 'a@example.com', password: { $numberInt: '123456' } }],
      [`${userpass}/login`, { username: 'a@example.com' }],
      [`${userpass}/login`, 'null'],
      [`${userpass}/confirm`, { token: 'x' }],
      [`${userpass}/confirm/send`, {}],
      [`${userpass}/confirm/send`, { email: 'not an email' }],
      [`${userpass}/register`, { email: 'a@example.com', password: 'p'.repeat(70_000) }],
    ];
    for (const [path, body] of cases) {
      const res = await call(t, 'POST', path, { body });
      expect({ path, status: res.status, contentType: res.contentType, code: res.body?.error_code }).toEqual({
        path,
        status: 400,
        contentType: 'application/json',
        code: 'BadRequest',
      });
      expect(typeof res.body.error).toBe('string');
    }
  });

  it('answers unknown apps, routes and methods with JSON 404 and 405', async () => {
    expect(await call(t, 'POST', '/api/client/v2.0/app/nope/auth/providers/anon-user/login', { body: {} })).toMatchObject({
      status: 404,
      body: { error_code: 'AppNotFound' },
    });
    expect(await call(t, 'GET', '/api/client/v2.0/app/nope/location')).toMatchObject({ status: 404 });
    // A provider not served: the error code realm-core turns into AuthProviderNotFound.
    expect(await call(t, 'POST', `${base}/auth/providers/oauth2-google/login`, { body: {} })).toMatchObject({
      status: 404,
      body: { error_code: 'AuthProviderNotFound' },
    });
    expect(await call(t, 'POST', `${base}/functions/call`, { body: { name: 'x', arguments: [] } })).toMatchObject({
      status: 404,
    });
    expect(await call(t, 'GET', '/api/client/v2.0/nothing')).toMatchObject({ status: 404 });
    expect(await call(t, 'GET', `${userpass}/login`)).toMatchObject({ status: 405, body: { error_code: 'MethodNotAllowed' } });
    expect(await call(t, 'PUT', '/api/client/v2.0/auth/session')).toMatchObject({ status: 405 });
    expect(await call(t, 'POST', `${base}/location`)).toMatchObject({ status: 405 });
  });

  it('answers missing or junk bearer tokens with 401 InvalidSession', async () => {
    for (const [method, path] of [
      ['GET', '/api/client/v2.0/auth/profile'],
      ['POST', '/api/client/v2.0/auth/session'],
      ['DELETE', '/api/client/v2.0/auth/session'],
    ] as const) {
      for (const bearer of [undefined, 'null', 'x'.repeat(9000)]) {
        const res = await call(t, method, path, { bearer });
        expect(res).toMatchObject({ status: 401, contentType: 'application/json', body: { error_code: 'InvalidSession' } });
      }
    }
    const logout = await call(t, 'DELETE', '/api/client/v2.0/auth/session', { bearer: 'unknown-token' });
    expect(logout.body.error).toContain('failed to find refresh token');
  });

  it('sends empty successes without a content type, and JSON where there is a body', async () => {
    const email = uniqueEmail('http');
    const register = await call(t, 'POST', `${userpass}/register`, { body: { email, password: PASSWORD } });
    expect(register).toMatchObject({ status: 201, contentType: 'application/json', body: {} });
    const resend = await call(t, 'POST', `${userpass}/confirm/send`, { body: { email } });
    expect(resend).toMatchObject({ status: 204, contentType: null, body: null });

    app = realmApp(t);
    const confirmed = await registerConfirmed(t, app);
    const login = await call(t, 'POST', `${userpass}/login`, {
      body: { username: confirmed.toUpperCase(), password: PASSWORD, options: { device: { sdkVersion: 'curl' } } },
    });
    expect(login.status).toBe(200);
    expect(Object.keys(login.body).sort()).toEqual(['access_token', 'device_id', 'refresh_token', 'user_id']);
    const profile = await call(t, 'GET', '/api/client/v2.0/auth/profile', { bearer: login.body.access_token });
    expect(profile.body).toMatchObject({
      user_id: login.body.user_id,
      type: 'normal',
      data: { email: confirmed },
      identities: [{ id: confirmed, provider_type: 'local-userpass' }],
    });
    const logout = await call(t, 'DELETE', '/api/client/v2.0/auth/session', { bearer: login.body.refresh_token });
    expect(logout).toMatchObject({ status: 204, contentType: null });
  });

  it('lets browser apps call it (CORS)', async () => {
    const res = await fetch(`${t.baseUrl}${userpass}/login`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
    const location = await fetch(`${t.baseUrl}${base}/location`);
    expect(location.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('keeps device ids the SDK sends, and makes ObjectId-shaped ones for new devices', async () => {
    app = realmApp(t);
    const email = await registerConfirmed(t, app);
    const login = (device: unknown) =>
      call(t, 'POST', `${userpass}/login`, { body: { username: email, password: PASSWORD, options: { device } } });
    const given = '65f0c0ffee0000000000d001';
    expect((await login({ deviceId: { $oid: given } })).body.device_id).toBe(given);
    for (const device of [{}, { deviceId: '000000000000000000000000' }, { deviceId: 'not-an-id' }, 'junk']) {
      const id = (await login(device)).body.device_id;
      expect(id).toMatch(/^[0-9a-f]{24}$/);
      expect(id).not.toBe('000000000000000000000000');
    }
  });
});
