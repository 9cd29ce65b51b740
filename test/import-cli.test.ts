// `npm run admin -- import` and `export` as an operator runs them: the real CLI in its own process, on
// a fresh database of each test (PostgreSQL; on the embedded database a data folder the app opens
// after the CLI is done, one process at a time), and the users it brings in logging in with realm-web.
// The embedded data folders start migrated, from the run's template (createMigratedDataDir): what
// is tested is the import, and a first start (initdb, the migrations) costs each CLI process seconds.
import { spawn } from 'node:child_process';
import { createCipheriv, randomBytes, scryptSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { count, eq } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { auditEvents, users } from '../src/db/schema.js';
import type { ExportedUser } from '../src/users/export.js';
import type { FirebaseScryptParams } from '../src/users/passwords.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createMigratedDataDir, createTestDatabase, onPostgres, type TestDatabase } from './helpers/database.js';
import { distCommand, projectRoot } from './helpers/process.js';
import { Realm, forgetRealmUsers, gql, linkFromOutbox, realmApp } from './helpers/realm.js';
import { waitFor } from './helpers/wait.js';

const scratch = mkdtempSync(join(tmpdir(), 'gw-import-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
afterEach(() => forgetRealmUsers());

function file(name: string, text: string): string {
  const path = join(scratch, `${randomBytes(4).toString('hex')}-${name}`);
  writeFileSync(path, text);
  return path;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A database the CLI works on: its environment, a way to look into it between runs, and the app on it at the end. */
interface Target {
  env: Record<string, string>;
  withDb<T>(use: (db: TestDatabase) => Promise<T>): Promise<T>;
  /** The production app serving this database (closed by close()). */
  app(): Promise<TestApp>;
  close(): Promise<void>;
}

async function target(): Promise<Target> {
  if (onPostgres) {
    const db = await createTestDatabase();
    let app: TestApp | null = null;
    return {
      env: { DATABASE_URL: db.url! },
      withDb: (use) => use(db),
      app: async () => (app = await startTestApp({ existingDatabase: db })),
      close: () => (app ? app.close() : db.close()),
    };
  }
  const dataDir = await createMigratedDataDir('gw-import-data-');
  const open = async (): Promise<TestDatabase> => {
    const handle = await openDatabase({ kind: 'embedded', dataDir });
    await runMigrations(handle);
    return { ...handle, url: null };
  };
  let app: TestApp | null = null;
  return {
    env: { DATA_DIR: dataDir },
    async withDb(use) {
      const db = await open();
      try {
        return await use(db);
      } finally {
        await db.close();
      }
    },
    app: async () => (app = await startTestApp({ existingDatabase: await open() })),
    close: async () => {
      await app?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The CLI as a process, as `npm run admin` runs it (dist/admin.js); `onStderr` sees its stderr as it comes (the child, to kill it). */
function cli(env: Record<string, string>, args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  const { VITEST: _v, VITEST_POOL_ID: _p, VITEST_WORKER_ID: _w, TEST_DB: _t, DATABASE_URL: _d, DATA_DIR: _dd, ...inherited } = process.env;
  const child = spawn(process.execPath, [...distCommand('admin'), ...args], {
    cwd: projectRoot,
    env: { ...inherited, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => {
    stderr += d;
    onStderr?.(stderr, child);
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

const userCount = (t: Target) => t.withDb(async (db) => (await db.db.select({ n: count() }).from(users))[0]!.n);

function exportedUser(i: number, overrides: Partial<ExportedUser> = {}): ExportedUser {
  const email = `person${i}@example.com`;
  return {
    id: `5f1f216e82df4a7979f9${i.toString(16).padStart(4, '0')}`,
    email,
    status: i % 5 === 0 ? 'pending' : i % 7 === 0 ? 'disabled' : 'confirmed',
    createdAt: new Date(Date.UTC(2021, 0, 1) + i * 60_000).toISOString(),
    lastAuthenticatedAt: i % 3 === 0 ? new Date(Date.UTC(2022, 0, 1) + i).toISOString() : null,
    disabledAt: i % 5 !== 0 && i % 7 === 0 ? new Date(Date.UTC(2023, 0, 1)).toISOString() : null,
    customData: i % 2 === 0 ? { n: i, tags: ['a', 'b'] } : {},
    identities: [{ providerType: 'local-userpass', providerId: email, passwordHash: null }],
    ...overrides,
  };
}
const jsonl = (list: unknown[]) => `${list.map((u) => JSON.stringify(u)).join('\n')}\n`;
const lines = (stdout: string) => stdout.split('\n').filter(Boolean);

describe('import --from jsonl and export', () => {
  it('imports, reports bad lines with their numbers and exit 3, dry-runs, changes nothing the second time; export → import reproduces every user', async () => {
    const source = await target();
    const empty = await target();
    try {
      const good = Array.from({ length: 30 }, (_, i) => exportedUser(i + 1, i === 0 ? { identities: [{ providerType: 'local-userpass', providerId: 'person1@example.com', passwordHash: bcrypt.hashSync('pw 1 secret', 4) }] } : {}));
      const withBad = [
        ...good.slice(0, 10).map((u) => JSON.stringify(u)),
        '{"id": "broken line"', // line 11
        JSON.stringify(exportedUser(99, { email: 'PERSON2@example.com', identities: [{ providerType: 'local-userpass', providerId: 'person2@example.com' }] })), // 12: person2's email in other case
        JSON.stringify(exportedUser(98, { id: 'not an id!' })), // 13
        ...good.slice(10).map((u) => JSON.stringify(u)),
      ].join('\n');
      const path = file('users.jsonl', withBad);

      const dry = await cli(source.env, ['import', '--from', 'jsonl', path, '--dry-run', '--batch-size', '7']);
      expect(dry.code, dry.stderr).toBe(3);
      expect(dry.stdout).toBe('');
      expect(dry.stderr).toMatch(/^line 11: MALFORMED_JSON /m);
      expect(dry.stderr).toMatch(/^line 13: MALFORMED_ID /m);
      // Each batch is checked against the database only: line 12's clash with line 2 (another batch
      // of 7) shows in the real run.
      expect(dry.stderr).toMatch(/Dry run, nothing written: would create 31, unchanged 0, conflicts 0, malformed 2 /);
      expect(await userCount(source)).toBe(0);

      const first = await cli(source.env, ['import', '--from', 'jsonl', path, '--batch-size', '7']);
      expect(first.code, first.stderr).toBe(3);
      expect(first.stdout).toBe('');
      expect(first.stderr).toMatch(/^line 11: MALFORMED_JSON /m);
      expect(first.stderr).toMatch(/^line 12: (EMAIL_TAKEN|EMAIL_CASE_DUPLICATE) /m);
      expect(first.stderr).toMatch(/^line 13: MALFORMED_ID /m);
      expect(first.stderr).toMatch(/Created 30, unchanged 0, conflicts 1, malformed 2/);
      expect(await userCount(source)).toBe(30);

      // The good lines alone, again: nothing to do, exit 0.
      const again = await cli(source.env, ['import', '--from', 'jsonl', file('good.jsonl', jsonl(good))]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/Created 0, unchanged 30, conflicts 0, malformed 0/);

      const exported = await cli(source.env, ['export', '--with-password-hashes']);
      expect(exported.code, exported.stderr).toBe(0);
      // stdout is only the users, one JSON object per line.
      const out = lines(exported.stdout).map((l) => JSON.parse(l) as ExportedUser);
      expect(out).toHaveLength(30);
      expect(exported.stderr).toMatch(/Exported 30 users with their password hashes/);
      const byId = new Map(out.map((u) => [u.id, u]));
      for (const u of good) expect(byId.get(u.id)).toEqual(u);
      const pending = await cli(source.env, ['export', '--status', 'pending']);
      expect(lines(pending.stdout).map((l) => JSON.parse(l).status)).toEqual(Array(6).fill('pending'));

      // Into an empty database: the same users, exported the same.
      const into = await cli(empty.env, ['import', '--from', 'jsonl', file('export.jsonl', exported.stdout)]);
      expect(into.code, into.stderr).toBe(0);
      const reexported = await cli(empty.env, ['export', '--with-password-hashes']);
      expect(reexported.stdout).toBe(exported.stdout);

      // One audit event per import run and per export.
      const events = await source.withDb((db) => db.db.select().from(auditEvents).where(eq(auditEvents.actorName, 'cli')));
      expect(events.map((e) => e.action).sort()).toEqual(['users.exported', 'users.exported', 'users.imported', 'users.imported', 'users.imported']);

      expect((await cli(source.env, ['import', '--from', 'nowhere', path])).code).toBe(2);
      expect((await cli(source.env, ['import', '--from', 'jsonl'])).code).toBe(2);
    } finally {
      await source.close();
      await empty.close();
    }
  }, 240_000);

  it('a run killed with SIGKILL and run again ends with the same users as an uninterrupted run', async () => {
    const N = 3000;
    const path = file('many.jsonl', jsonl(Array.from({ length: N }, (_, i) => exportedUser(i + 1))));
    const killed = await target();
    const whole = await target();
    try {
      let interrupted = false;
      const cut = await cli(killed.env, ['import', '--from', 'jsonl', path, '--batch-size', '250', '--progress-interval', '0.05'], (stderr, child) => {
        const done = [...stderr.matchAll(/progress: ([\d,]+) users/g)].map((m) => Number(m[1]!.replace(/,/g, '')));
        if (!interrupted && done.some((n) => n >= 1000)) {
          interrupted = true;
          child.kill('SIGKILL');
        }
      });
      expect(interrupted).toBe(true);
      expect(cut.code).toBeNull();
      const partial = await userCount(killed);
      expect(partial).toBeLessThan(N);

      const rerun = await cli(killed.env, ['import', '--from', 'jsonl', path, '--batch-size', '250']);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(rerun.stderr).toMatch(new RegExp(`Created ${N - partial}, unchanged ${partial}, conflicts 0, malformed 0`));
      const straight = await cli(whole.env, ['import', '--from', 'jsonl', path]);
      expect(straight.code, straight.stderr).toBe(0);

      const a = await cli(killed.env, ['export', '--with-password-hashes']);
      const b = await cli(whole.env, ['export', '--with-password-hashes']);
      expect(lines(a.stdout)).toHaveLength(N);
      expect(a.stdout).toBe(b.stdout);
    } finally {
      await killed.close();
      await whole.close();
    }
  }, 300_000);
});

/** Firebase's modified scrypt, as `firebase auth:export` gives a password's hash and salt. */
function firebaseHash(params: FirebaseScryptParams, password: string) {
  const salt = randomBytes(12);
  const key = scryptSync(password, Buffer.concat([salt, Buffer.from(params.saltSeparator, 'base64')]), 32, { N: 2 ** params.memCost, r: params.rounds, p: 1 });
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return { salt: salt.toString('base64'), passwordHash: Buffer.concat([cipher.update(Buffer.from(params.signerKey, 'base64')), cipher.final()]).toString('base64') };
}

describe('users of other systems log in', () => {
  it('Firebase users log in with their old passwords, under their Firebase uid; Supabase (bcrypt) users too', async () => {
    const params: FirebaseScryptParams = { signerKey: randomBytes(64).toString('base64'), saltSeparator: 'Bw==', rounds: 8, memCost: 12 };
    const firebase = file(
      'firebase.json',
      JSON.stringify({
        users: [
          { localId: 'fbUid0123456789abcdefghijkl', email: 'fb.user@example.com', emailVerified: true, ...firebaseHash(params, 'firebase secret'), createdAt: '1600000000000' },
          { localId: 'fbDisabled01', email: 'fb.off@example.com', emailVerified: true, ...firebaseHash(params, 'firebase secret'), createdAt: '1600000000000', disabled: true },
        ],
      }),
    );
    const supabaseId = 'a3c1b2d4-0000-4000-8000-00000000abcd';
    const supabase = file(
      'users.csv',
      `id,email,encrypted_password,email_confirmed_at,banned_until,created_at,last_sign_in_at,raw_user_meta_data\n${supabaseId},sb.user@example.com,${bcrypt.hashSync('supabase secret', 6)},2024-01-01 00:00:00+00,,2024-01-01 00:00:00+00,,"{""name"":""Sam""}"\n`,
    );
    const db = await target();
    try {
      const hashFlags = ['--hash-key', params.signerKey, '--salt-separator', params.saltSeparator, '--rounds', '8', '--mem-cost', '12'];
      const fb = await cli(db.env, ['import', '--from', 'firebase', firebase, ...hashFlags]);
      expect(fb.code, fb.stderr).toBe(0);
      const sb = await cli(db.env, ['import', '--from', 'supabase', supabase]);
      expect(sb.code, sb.stderr).toBe(0);

      const t = await db.app();
      const app = realmApp(t);
      const fbUser = await app.logIn(Realm.Credentials.emailPassword('fb.user@example.com', 'firebase secret'));
      expect(fbUser.id).toBe('fbUid0123456789abcdefghijkl');
      await expect(app.logIn(Realm.Credentials.emailPassword('fb.user@example.com', 'not it'))).rejects.toThrow(/invalid username\/password/i);
      await expect(app.logIn(Realm.Credentials.emailPassword('fb.off@example.com', 'firebase secret'))).rejects.toThrow();
      const sbUser = await app.logIn(Realm.Credentials.emailPassword('sb.user@example.com', 'supabase secret'));
      expect(sbUser.id).toBe(supabaseId);
      expect((await gql(t, 'query ($id: ID!) { user(id: $id) { id email status } }', { id: supabaseId })).user).toEqual({ id: supabaseId, email: 'sb.user@example.com', status: 'CONFIRMED' });
    } finally {
      await db.close();
    }
  }, 120_000);

  it('Atlas users keep their 24-hex ids through reset, login, tokens and the admin API; pending ones stay pending', async () => {
    const atlas = file(
      'users.json',
      JSON.stringify([
        { _id: '5f1f216e82df4a7979f9da93', identities: [{ id: '5f1f216e82df4a7979f9da92', provider_type: 'local-userpass', provider_id: 'p' }], type: 'normal', creation_date: 1595875694, last_authentication_date: 1600000000, disabled: false, data: { email: 'atlas.user@example.com' } },
        { _id: '63754f968a605a78ea6939e7', user_id: '', domain_id: '60c8f69864c0a72d14bb534c', login_ids: [{ id: 'atlas.pending@example.com', id_type: 'email' }] },
      ]),
    );
    const db = await target();
    try {
      const run = await cli(db.env, ['import', '--from', 'atlas', atlas, '--send-reset-mail']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/Created 2, .*reset mails queued 1/);

      const t = await db.app();
      const app = realmApp(t);
      // No password came from Atlas: none works until the user resets it.
      await expect(app.logIn(Realm.Credentials.emailPassword('atlas.user@example.com', 'any password'))).rejects.toThrow(/invalid username\/password/i);
      const { token, tokenId } = await waitFor(() => linkFromOutbox(t, 'atlas.user@example.com', 'password_reset').catch(() => null), 'the reset mail');
      await app.emailPasswordAuth.resetPassword({ password: 'a new password', token, tokenId });
      const user = await app.logIn(Realm.Credentials.emailPassword('atlas.user@example.com', 'a new password'));
      expect(user.id).toBe('5f1f216e82df4a7979f9da93');
      expect(decodeJwt(user.accessToken!).sub).toBe('5f1f216e82df4a7979f9da93');
      expect((await gql(t, 'query ($id: ID!) { user(id: $id) { id email status } }', { id: '5f1f216e82df4a7979f9da93' })).user).toEqual({
        id: '5f1f216e82df4a7979f9da93',
        email: 'atlas.user@example.com',
        status: 'CONFIRMED',
      });
      expect((await gql(t, 'query ($id: ID!) { user(id: $id) { status } }', { id: '63754f968a605a78ea6939e7' })).user).toEqual({ status: 'PENDING' });
    } finally {
      await db.close();
    }
  }, 120_000);
});
