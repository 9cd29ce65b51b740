import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStartupKey, findActiveKeyBySecret } from '../src/admin/keys.js';
import { adminKeys } from '../src/db/schema.js';
import { postGraphQL, startTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase } from './helpers/database.js';
import { waitFor } from './helpers/wait.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

const QUERY = { query: '{ users { totalCount } }' };
const MUTATION = { query: 'mutation { deleteUser(id: "00000000-0000-4000-8000-000000000001") { __typename } }' };

describe('the admin API is never open', () => {
  it.each([
    ['no header', {}],
    ['a wrong key', { authorization: 'Bearer agk_not-a-real-key' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['another scheme', { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }],
    ['a huge header', { authorization: `Bearer ${'a'.repeat(10_000)}` }],
  ])('answers 401 with a GraphQL error and no data for %s', async (_name, headers) => {
    for (const body of [QUERY, MUTATION]) {
      const res = await postGraphQL(t, body, headers as Record<string, string>);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(res.body.data).toBeUndefined();
      expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses a key that has been revoked', async () => {
    const secret = await t.createKey('owner', 'soon-revoked');
    expect((await postGraphQL(t, QUERY, { authorization: `Bearer ${secret}` })).status).toBe(200);
    await t.database.db.update(adminKeys).set({ revokedAt: new Date() }).where(eq(adminKeys.name, 'soon-revoked'));
    expect((await postGraphQL(t, QUERY, { authorization: `Bearer ${secret}` })).status).toBe(401);
  });

  it('accepts the key and records when it was last used', async () => {
    const secret = await t.createKey('viewer', 'used-key');
    const res = await postGraphQL(t, QUERY, { authorization: `Bearer ${secret}` });
    expect(res.status).toBe(200);
    expect(res.body.data.users.totalCount).toBe(0);
    // The last use is recorded after the answer: wait until it is there.
    await waitFor(async () => (await findActiveKeyBySecret(t.database.db, secret))?.lastUsedAt, 'lastUsedAt');
    const key = await findActiveKeyBySecret(t.database.db, secret);
    expect(key!.lastUsedAt).toBeInstanceOf(Date);
  });

  it('also needs the key for GET queries', async () => {
    const res = await fetch(`${t.graphqlUrl}?query=${encodeURIComponent('{ users { totalCount } }')}`);
    expect(res.status).toBe(401);
    const ok = await fetch(`${t.graphqlUrl}?query=${encodeURIComponent('{ users { totalCount } }')}`, {
      headers: { authorization: `Bearer ${t.adminKey}`, accept: 'application/json' },
    });
    expect(ok.status).toBe(200);
  });
});

describe('admin keys at start', () => {
  it('seeds ADMIN_API_KEY as an owner key, stored only as a hash, once', async () => {
    const database = await createTestDatabase();
    try {
      const secret = 'configured-secret-0123456789';
      expect(await ensureStartupKey(database.db, secret)).toEqual({ kind: 'configured' });
      expect(await ensureStartupKey(database.db, secret)).toEqual({ kind: 'configured' });
      const keys = await database.db.select().from(adminKeys);
      expect(keys).toHaveLength(1);
      expect(keys[0]!.role).toBe('owner');
      expect(JSON.stringify(keys)).not.toContain(secret);
      expect((await findActiveKeyBySecret(database.db, secret))!.id).toBe(keys[0]!.id);
    } finally {
      await database.close();
    }
  });

  it('generates one key when none is configured and none exists, and only then', async () => {
    const database = await createTestDatabase();
    try {
      const first = await ensureStartupKey(database.db, null);
      expect(first.kind).toBe('generated');
      const secret = (first as { secret: string }).secret;
      expect(secret).toMatch(/^agk_[A-Za-z0-9_-]{43}$/);
      expect(await ensureStartupKey(database.db, null)).toEqual({ kind: 'existing' });
      expect((await findActiveKeyBySecret(database.db, secret))!.role).toBe('owner');
    } finally {
      await database.close();
    }
  });
});

describe('GraphiQL and health', () => {
  it('serves GraphiQL without a key, from local assets only', async () => {
    const res = await fetch(t.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('App Users gateway');
    expect(html).toContain('Authorization');
    // No script, style or font is fetched from another host.
    const external = [...html.matchAll(/(?:src|href)\s*=\s*["'](https?:)?\/\/[^"']+/g)].map((m) => m[0]);
    expect(external).toEqual([]);
    expect(html).not.toMatch(/unpkg\.com|jsdelivr|cdnjs/);
  });

  it('answers /health with 200 while the database answers and 503 when it does not', async () => {
    const res = await fetch(`${t.baseUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });

    const { createApp } = await import('../src/app.js');
    const { createLogger } = await import('../src/logger.js');
    const database = await createTestDatabase();
    const app = createApp({ database, logger: createLogger() });
    await database.close();
    const down = await app.fetch('http://localhost/health');
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'unavailable' });
  });

  it('answers unknown paths with a JSON 404', async () => {
    const res = await fetch(`${t.baseUrl}/nope`);
    expect(res.status).toBe(404);
    expect((await res.json()).error_code).toBe('NotFound');
  });
});
