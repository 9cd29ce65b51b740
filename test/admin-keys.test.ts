import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeAdminKey } from '../src/admin/keys.js';
import { createApp } from '../src/app.js';
import { openDatabase } from '../src/db/client.js';
import { adminKeys, auditEvents } from '../src/db/schema.js';
import { LastOwnerKeyError } from '../src/errors.js';
import { createLogger } from '../src/logger.js';
import { postGraphQL, startTestApp, type TestApp } from './helpers/app.js';
import { createMigratedDataDir, onPostgres } from './helpers/database.js';
import { distCommand, projectRoot } from './helpers/process.js';
import { waitFor } from './helpers/wait.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

const CREATE = `mutation ($name: String!, $role: AdminRole!) {
  createAdminKey(name: $name, role: $role) {
    __typename
    ... on CreateAdminKeySuccess { secret key { id name role createdAt lastUsedAt revokedAt } }
    ... on InvalidInputError { message field }
  }
}`;
const REVOKE = `mutation ($id: ID!) {
  revokeAdminKey(id: $id) {
    __typename
    ... on RevokeAdminKeySuccess { key { id name revokedAt } }
    ... on AdminKeyNotFoundError { message id }
  }
}`;

interface Created {
  createAdminKey: { __typename: string; secret: string; key: { id: string; name: string; role: string; revokedAt: string | null } };
}

const asKey = (secret: string) => ({ authorization: `Bearer ${secret}` });

describe('admin keys from GraphQL', () => {
  it('creates a key whose secret is shown once, works with its role, and is stored only as a hash', async () => {
    const res = await t.client.request<Created>(CREATE, { name: ' ci ', role: 'VIEWER' });
    const { secret, key } = res.createAdminKey;
    expect(res.createAdminKey.__typename).toBe('CreateAdminKeySuccess');
    expect(secret).toMatch(/^agk_[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({ name: 'ci', role: 'VIEWER', revokedAt: null });

    const me = await postGraphQL(t, { query: '{ currentAdminKey { id name role } }' }, asKey(secret));
    expect(me.body.data.currentAdminKey).toEqual({ id: key.id, name: 'ci', role: 'VIEWER' });
    const write = await postGraphQL(t, { query: 'mutation { createUser(email: "a@example.com", password: "secret-1") { __typename } }' }, asKey(secret));
    expect(write.body.errors[0].extensions.code).toBe('FORBIDDEN');

    const rows = await t.database.db.select().from(adminKeys).where(eq(adminKeys.id, key.id));
    expect(rows[0]!.secretHash).toHaveLength(32);
    const everything = JSON.stringify(await t.database.db.select().from(adminKeys));
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(secret.slice(4));
    const listed = await t.client.request<{ adminKeys: Record<string, unknown>[] }>('{ adminKeys { id name role createdAt lastUsedAt revokedAt } }');
    expect(JSON.stringify(listed)).not.toContain(secret);
    expect(listed.adminKeys.find((k) => k.id === key.id)).toMatchObject({ name: 'ci', role: 'VIEWER' });
    // Newest first.
    expect(listed.adminKeys[0]!.id).toBe(key.id);
  });

  it('lists keys with their last use, and revokes them: the next request is a 401', async () => {
    const { createAdminKey } = await t.client.request<Created>(CREATE, { name: 'soon gone', role: 'OPERATOR' });
    const before = await postGraphQL(t, { query: '{ users { totalCount } }' }, asKey(createAdminKey.secret));
    expect(before.status).toBe(200);
    const lastUsedAt = async () => {
      const { adminKeys } = await t.client.request<{ adminKeys: { id: string; lastUsedAt: string | null }[] }>('{ adminKeys { id lastUsedAt } }');
      return adminKeys.find((k) => k.id === createAdminKey.key.id)!.lastUsedAt;
    };
    // The last use is recorded after the answer: wait until it is there.
    await waitFor(lastUsedAt, 'lastUsedAt');
    const listed = await t.client.request<{ adminKeys: { id: string; lastUsedAt: string | null }[] }>('{ adminKeys { id lastUsedAt } }');
    expect(listed.adminKeys.find((k) => k.id === createAdminKey.key.id)!.lastUsedAt).not.toBeNull();

    const revoked = await t.client.request<{ revokeAdminKey: { __typename: string; key: { revokedAt: string } } }>(REVOKE, {
      id: createAdminKey.key.id,
    });
    expect(revoked.revokeAdminKey.__typename).toBe('RevokeAdminKeySuccess');
    expect(Date.parse(revoked.revokeAdminKey.key.revokedAt)).toBeGreaterThan(Date.now() - 60_000);
    const after = await postGraphQL(t, { query: '{ users { totalCount } }' }, asKey(createAdminKey.secret));
    expect(after.status).toBe(401);
    expect(after.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');

    // Again: succeeds, keeps the first revocation time.
    const again = await t.client.request<{ revokeAdminKey: { key: { revokedAt: string } } }>(REVOKE, { id: createAdminKey.key.id });
    expect(again.revokeAdminKey.key.revokedAt).toBe(revoked.revokeAdminKey.key.revokedAt);
  });

  it('reports an unknown key id, a malformed id and a bad name with stable codes', async () => {
    const missing = '00000000-0000-4000-8000-000000000009';
    const notFound = await t.client.request<{ revokeAdminKey: { __typename: string; id: string } }>(REVOKE, { id: missing });
    expect(notFound.revokeAdminKey).toMatchObject({ __typename: 'AdminKeyNotFoundError', id: missing });

    const malformed = await postGraphQL(t, { query: REVOKE, variables: { id: 'not-a-uuid' } });
    expect(malformed.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });

    for (const name of ['', '   ', 'x'.repeat(101), 'tab\there']) {
      const res = await t.client.request<{ createAdminKey: { __typename: string; field: string } }>(CREATE, { name, role: 'OWNER' });
      expect(res.createAdminKey).toMatchObject({ __typename: 'InvalidInputError', field: 'name' });
    }
  });

  it('records key management in the audit trail, with the key that acted', async () => {
    const { createAdminKey } = await t.client.request<Created>(CREATE, { name: 'audited', role: 'VIEWER' });
    await t.client.request(REVOKE, { id: createAdminKey.key.id });
    const events = await t.client.request<{ auditEvents: { edges: { node: { action: string; outcome: string; details: { keyId: string; name: string; role: string }; actor: { name: string } } }[] } }>(
      `{ auditEvents(first: 2) { edges { node { action outcome details actor { name } } } } }`,
    );
    expect(events.auditEvents.edges.map((e) => e.node)).toEqual([
      { action: 'revokeAdminKey', outcome: 'success', details: { keyId: createAdminKey.key.id, name: 'audited', role: 'viewer' }, actor: { name: 'test-owner' } },
      { action: 'createAdminKey', outcome: 'success', details: { keyId: createAdminKey.key.id, name: 'audited', role: 'viewer' }, actor: { name: 'test-owner' } },
    ]);
    // The secret is not in the trail.
    const rows = await t.database.db.select().from(auditEvents);
    expect(JSON.stringify(rows)).not.toContain(createAdminKey.secret);
  });
});

const run = promisify(execFile);

/** `npm run admin -- …` as a user runs it (node dist/admin.js), against the given database. */
async function cli(env: Record<string, string>, ...args: string[]) {
  const { VITEST: _v, VITEST_POOL_ID: _p, VITEST_WORKER_ID: _w, TEST_DB: _t, DATABASE_URL: _d, ...inherited } = process.env;
  try {
    const { stdout, stderr } = await run(process.execPath, [...distCommand('admin'), ...args], {
      cwd: projectRoot,
      env: { ...inherited, LOG_LEVEL: 'silent', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('admin keys from the command line', () => {
  it('creates, lists and revokes keys; a created key works over HTTP with its role', async () => {
    // On PostgreSQL the CLI works on this file's own database while the app serves it; the
    // embedded database is one process at a time, so there the CLI gets a data folder and the app
    // opens it after.
    const dataDir = onPostgres ? null : await createMigratedDataDir('gw-cli-');
    const env: Record<string, string> = onPostgres ? { DATABASE_URL: t.database.url! } : { DATA_DIR: dataDir! };
    try {
      const created = await cli(env, 'keys', 'create', '--role', 'viewer', '--name', 'ci', '--json');
      expect(created.code, created.stderr).toBe(0);
      const key = JSON.parse(created.stdout);
      expect(key).toMatchObject({ name: 'ci', role: 'viewer', revokedAt: null });
      expect(key.secret).toMatch(/^agk_/);

      const human = await cli(env, 'keys', 'create', '--role', 'operator', '--name', 'deploy');
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/Created the operator key "deploy" .*shown only this once:\n\n {2}agk_[\w-]{43}\n/s);

      const listed = await cli(env, 'keys', 'list', '--json');
      expect(JSON.parse(listed.stdout).map((k: { name: string }) => k.name)).toEqual(expect.arrayContaining(['ci', 'deploy']));
      expect(listed.stdout).not.toContain(key.secret);

      expect((await cli(env, 'keys', 'create', '--role', 'root', '--name', 'x')).code).toBe(1);
      expect((await cli(env, 'keys', 'create', '--name', 'x')).code).toBe(2);
      const unknown = await cli(env, 'keys', 'revoke', '00000000-0000-4000-8000-000000000009');
      expect(unknown).toMatchObject({ code: 1 });
      expect(unknown.stderr).toContain('No admin key with id');

      // The key works over HTTP, with its role.
      const check = async (expected: number) => {
        if (onPostgres) return (await postGraphQL(t, { query: '{ currentAdminKey { name role } }' }, asKey(key.secret))).status === expected;
        const database = await openDatabase({ kind: 'embedded', dataDir: dataDir! });
        try {
          const app = createApp({ database, logger: createLogger() });
          const res = await app.fetch('http://localhost/graphql', {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret}` },
            body: JSON.stringify({ query: '{ currentAdminKey { name role } }' }),
          });
          return res.status === expected;
        } finally {
          await database.close();
        }
      };
      expect(await check(200)).toBe(true);

      const revoked = await cli(env, 'keys', 'revoke', key.id, '--json');
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(JSON.parse(revoked.stdout).revokedAt).not.toBeNull();
      expect(await check(401)).toBe(true);

      if (onPostgres) {
        const events = await t.database.db.select().from(auditEvents).where(eq(auditEvents.actorName, 'cli'));
        expect(events.map((e) => `${e.action} ${e.outcome}`).sort()).toEqual([
          'createAdminKey success',
          'createAdminKey success',
          'revokeAdminKey refused',
          'revokeAdminKey success',
        ]);
      }
    } finally {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('the last owner key', () => {
  const REVOKE_LAST = `mutation ($id: ID!) {
    revokeAdminKey(id: $id) {
      __typename
      ... on RevokeAdminKeySuccess { key { id revokedAt } }
      ... on LastOwnerKeyError { id message }
    }
  }`;
  const activeOwners = async (app: TestApp) =>
    (await app.database.db.select().from(adminKeys)).filter((k) => k.role === 'owner' && !k.revokedAt).map((k) => k.id);

  it('cannot be revoked over GraphQL: a LastOwnerKeyError, recorded as refused, and the key still works', async () => {
    const solo = await startTestApp();
    try {
      const [ownerId] = await activeOwners(solo);
      // Other roles do not count as owners.
      await solo.createKey('operator');
      const res = await postGraphQL(solo, { query: REVOKE_LAST, variables: { id: ownerId } });
      expect(res.status).toBe(200);
      expect(res.body.data.revokeAdminKey).toMatchObject({ __typename: 'LastOwnerKeyError', id: ownerId });
      expect(res.body.data.revokeAdminKey.message).toMatch(/last active owner key/);
      expect(await activeOwners(solo)).toEqual([ownerId]);
      expect((await postGraphQL(solo, { query: '{ currentAdminKey { role } }' })).status).toBe(200);
      const [event] = await solo.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'revokeAdminKey'));
      expect(event).toMatchObject({ outcome: 'refused', details: { code: 'LAST_OWNER_KEY' } });

      // With a second owner key, either can go, and then the other is the last.
      const second = await solo.createKey('owner', 'second owner');
      const ok = await postGraphQL(solo, { query: REVOKE_LAST, variables: { id: ownerId } }, asKey(second));
      expect(ok.body.data.revokeAdminKey.__typename).toBe('RevokeAdminKeySuccess');
      const [secondId] = await activeOwners(solo);
      const last = await postGraphQL(solo, { query: REVOKE_LAST, variables: { id: secondId } }, asKey(second));
      expect(last.body.data.revokeAdminKey.__typename).toBe('LastOwnerKeyError');
    } finally {
      await solo.close();
    }
  });

  it('of two concurrent revocations of the last two owner keys, exactly one succeeds', async () => {
    const solo = await startTestApp();
    try {
      for (let round = 0; round < 8; round++) {
        await solo.createKey('owner', `owner ${round}`);
        const owners = await activeOwners(solo);
        expect(owners).toHaveLength(2);
        // Straight at the service, so both transactions are in flight together (on PostgreSQL, on
        // two pooled connections); over HTTP the second request's key might already be revoked.
        const outcomes = await Promise.allSettled(owners.map((id) => revokeAdminKey(solo.database.db, { type: 'system', name: 'race' }, id)));
        const refused = outcomes.filter((o) => o.status === 'rejected');
        expect(outcomes.filter((o) => o.status === 'fulfilled'), `round ${round}`).toHaveLength(1);
        expect(refused.map((o) => (o as PromiseRejectedResult).reason), `round ${round}`).toEqual([expect.any(LastOwnerKeyError)]);
        expect(await activeOwners(solo)).toHaveLength(1);
      }
    } finally {
      await solo.close();
    }
  });

  it('cannot be revoked from the command line either', async () => {
    const solo = onPostgres ? await startTestApp() : null;
    const dataDir = onPostgres ? null : await createMigratedDataDir('gw-cli-');
    const env: Record<string, string> = onPostgres ? { DATABASE_URL: solo!.database.url! } : { DATA_DIR: dataDir! };
    try {
      let ownerId: string;
      if (solo) {
        [ownerId] = (await activeOwners(solo)) as [string];
      } else {
        const created = await cli(env, 'keys', 'create', '--role', 'owner', '--name', 'only', '--json');
        expect(created.code, created.stderr).toBe(0);
        ownerId = JSON.parse(created.stdout).id;
      }
      const refused = await cli(env, 'keys', 'revoke', ownerId);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/last active owner key/);
      if (solo) expect(await activeOwners(solo)).toEqual([ownerId]);
    } finally {
      await solo?.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
