// The limits' counters across instances (issue 14): on a PostgreSQL server they live in the
// attempt_counters table, so instances taking turns share one allowance (the documented 10 failed
// logins per account, not 10 per instance) and a restarted instance remembers it. The embedded
// database serves one process, which keeps them in memory: there, the one-process part only.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { openDatabase, type DatabaseHandle } from '../src/db/client.js';
import { createLogger } from '../src/logger.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { onPostgres } from './helpers/database.js';
import { PASSWORD, uniqueEmail } from './helpers/realm.js';
import { waitFor } from './helpers/wait.js';

const minute = 60_000;
const APP = '/api/client/v2.0/app/app-users-gateway/auth/providers';
let clock = Date.now();

async function login(baseUrl: string, username: string, password: string) {
  const res = await fetch(`${baseUrl}${APP}/local-userpass/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
}

async function anonymousLogin(baseUrl: string) {
  const res = await fetch(`${baseUrl}${APP}/anon-user/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  await res.body?.cancel();
  return res.status;
}

/** Another gateway instance on A's database: its own pool, its own HTTP server, the same clock. */
async function startInstance(url: string): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const database: DatabaseHandle = await openDatabase({ kind: 'postgres', url });
  const server: Server = createServer(
    createApp({ database, logger: createLogger(), now: () => clock, auth: { publicUrl: 'http://127.0.0.1' }, webhooks: { worker: false } }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await database.close();
    },
  };
}

let a: TestApp;
beforeAll(async () => {
  // The documented limits: 10 failed logins per account per 15 minutes, 20 anonymous logins per address per 10.
  a = await startTestApp({ app: { now: () => clock } });
});
afterAll(() => a?.close());

async function confirmedUser(): Promise<string> {
  const email = uniqueEmail('instances');
  await a.client.request('mutation ($email: String!, $password: String!) { createUser(email: $email, password: $password) { __typename } }', {
    email,
    password: PASSWORD,
  });
  return email;
}

it(`refuses the 11th failed login of an account, right password included, in one process (${onPostgres ? 'PostgreSQL' : 'embedded'})`, async () => {
  const email = await confirmedUser();
  for (let i = 0; i < 10; i++) expect((await login(a.baseUrl, email, `wrong-${i}`)).status).toBe(401);
  const refused = await login(a.baseUrl, email, PASSWORD);
  expect(refused).toMatchObject({ status: 429, body: { error_code: 'TooManyRequests' } });
  clock += 15 * minute;
  expect((await login(a.baseUrl, email, PASSWORD)).status).toBe(200);
});

it(`counts a username of any length, a long one as any other (${onPostgres ? 'PostgreSQL' : 'embedded'})`, async () => {
  // 4,000 random characters (the longest a field may be is 4,096): past what one B-tree entry holds.
  const long = `${randomBytes(2_990).toString('base64url')}@example.com`;
  for (let i = 0; i < 10; i++) expect((await login(a.baseUrl, long, 'wrong')).status).toBe(401);
  expect((await login(a.baseUrl, long, 'wrong')).status).toBe(429);
  clock += 15 * minute;
});

describe.skipIf(!onPostgres)('instances on one PostgreSQL database (the embedded database is one process: nothing to share)', () => {
  let b: Awaited<ReturnType<typeof startInstance>>;
  beforeAll(async () => {
    b = await startInstance(a.database.url!);
  });
  afterAll(() => b?.close());

  it('share one allowance of failed logins per account: instances taking turns are refused after 10 in total, and a restart remembers', async () => {
    const email = await confirmedUser();
    for (let i = 0; i < 10; i++) {
      const instance = i % 2 === 0 ? a : b;
      expect((await login(instance.baseUrl, email, `wrong-${i}`)).status).toBe(401);
    }
    // Five failures on each: both refuse now, the right password too, for the account's window.
    for (const instance of [a, b]) {
      const refused = await login(instance.baseUrl, email, PASSWORD);
      expect(refused).toMatchObject({ status: 429, body: { error_code: 'TooManyRequests' } });
      expect(Number(refused.retryAfter)).toBeGreaterThan(890);
    }
    // B restarts: the new instance remembers.
    await b.close();
    b = await startInstance(a.database.url!);
    expect((await login(b.baseUrl, email, PASSWORD)).status).toBe(429);
    const row = await a.database.db.execute(sql`SELECT count FROM attempt_counters WHERE key = ${`loginPerAccount:${email.toLowerCase()}`}`);
    expect((row as unknown as { rows: { count: number }[] }).rows).toEqual([{ count: 10 }]);

    // The window ends: a success on one instance clears the account's count for all.
    clock += 15 * minute;
    expect((await login(b.baseUrl, email, 'wrong-again')).status).toBe(401);
    expect((await login(a.baseUrl, email, PASSWORD)).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await login((i % 2 === 0 ? b : a).baseUrl, email, `wrong-${i}`)).status).toBe(401);
    expect((await login(b.baseUrl, email, PASSWORD)).status).toBe(429);
    clock += 15 * minute;
  });

  it('share failed admin-key checks: 20 bad keys per address in 10 minutes over both instances, then each refuses the address', async () => {
    const badKey = (instance: { baseUrl: string }) =>
      fetch(`${instance.baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-key' },
        body: JSON.stringify({ query: '{ __typename }' }),
      }).then(async (res) => {
        await res.body?.cancel();
        return res.status;
      });
    // The right key, on /introspect: known to each instance's key cache from here on.
    const goodKey = (instance: { baseUrl: string }) =>
      fetch(`${instance.baseUrl}/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${a.adminKey}` },
        body: 'token=not-a-token',
      }).then(async (res) => {
        await res.body?.cancel();
        return res.status;
      });
    for (const instance of [a, b]) expect(await goodKey(instance)).toBe(200);
    // Ten on each instance: within each one's own allowance of 20, so only the shared count can refuse.
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push(await badKey(i % 2 === 0 ? a : b));
    expect(statuses).toEqual(Array(20).fill(401));
    // The shared count is past the allowance: the next failure on an instance tells it (the store
    // refuses to count it), and from then on that instance refuses the address.
    for (const instance of [a, b]) await waitFor(async () => (await badKey(instance)) === 429, 'the instance to refuse the address');
    for (const instance of [a, b]) expect(await badKey(instance)).toBe(429);
    // Refused with the right key too, though it is in the instance's cache and its own count is open.
    for (const instance of [a, b]) expect(await goodKey(instance)).toBe(429);
    const row = await a.database.db.execute(sql`SELECT count FROM attempt_counters WHERE key LIKE 'adminKeyPerAddress:%'`);
    expect((row as unknown as { rows: { count: number }[] }).rows.map((r) => r.count)).toEqual([20]);
    // The address recovers on both when the window ends.
    clock += 10 * minute;
    for (const instance of [a, b]) expect(await goodKey(instance)).toBe(200);
    for (const instance of [a, b]) expect(await badKey(instance)).toBe(401);
    clock += 10 * minute;
  });

  it('share the sign-up limits too: 20 anonymous logins per address per 10 minutes, over both instances', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) statuses.push(await anonymousLogin((i % 2 === 0 ? a : b).baseUrl));
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(200));
    expect(statuses.slice(20)).toEqual([429, 429]);
    clock += 10 * minute;
    expect(await anonymousLogin(b.baseUrl)).toBe(200);
  });
});
