// Issue 17: users brought in with their ids (importUsers over GraphQL, the import service the
// command line uses), and taken out again (the export service).
import bcrypt from 'bcryptjs';
import pg from 'pg';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.js';
import { auditEvents, userIdentities, users, webhookEvents } from '../src/db/schema.js';
import { exportUsers, type ExportedUser } from '../src/users/export.js';
import { importUserBatch, type ImportUser } from '../src/users/import.js';
import { checkInvariants } from '../src/users/invariants.js';
import { firebaseScryptHash, hashPassword } from '../src/users/passwords.js';
import { startTestApp, postGraphQL, type TestApp } from './helpers/app.js';
import { onPostgres } from './helpers/database.js';
import { waitFor } from './helpers/wait.js';
import { Realm, forgetRealmUsers, gql, introspect, realmApp, uniqueEmail } from './helpers/realm.js';

const FIREBASE_HASH = firebaseScryptHash(
  {
    signerKey: 'jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==',
    saltSeparator: 'Bw==',
    rounds: 8,
    memCost: 14,
  },
  '42xEC+ixf3L2lw==',
  'lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==',
);
const FIREBASE_PASSWORD = 'user1password';
const BCRYPT_HASH = '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a';
const BCRYPT_PASSWORD = 'rasmuslerdorf';
// The example of Argon2's reference implementation (its README).
const ARGON2_HASH = '$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG';
const ARGON2_PASSWORD = 'password';
const SYSTEM = { type: 'system', name: 'test' } as const;

let counter = 0;
/** A 24-hex id as Atlas App Services makes them. */
function objectId(): string {
  counter++;
  return (Math.floor(Date.now() / 1000).toString(16) + counter.toString(16).padStart(16, '0')).slice(0, 24);
}

function atlasUser(overrides: Partial<ImportUser> = {}): ImportUser {
  const email = overrides.email === undefined ? uniqueEmail('imported') : overrides.email;
  return {
    id: objectId(),
    email,
    status: 'confirmed',
    createdAt: new Date('2021-03-04T05:06:07.089Z'),
    lastAuthenticatedAt: null,
    customData: {},
    identities: email ? [{ providerType: 'local-userpass', providerId: email, passwordHash: null }] : [],
    ...overrides,
  };
}

const IMPORT = `mutation ($users: [ImportUserInput!]!, $dryRun: Boolean) {
  importUsers(users: $users, dryRun: $dryRun) {
    dryRun createdCount unchangedCount conflictCount malformedCount
    outcomes { index id outcome code message }
  }
}`;

const asInput = (u: ImportUser) => ({
  ...u,
  status: u.status.toUpperCase(),
  createdAt: u.createdAt.toISOString(),
  lastAuthenticatedAt: u.lastAuthenticatedAt?.toISOString() ?? null,
  disabledAt: u.disabledAt?.toISOString() ?? null,
});

async function userCount(t: TestApp): Promise<number> {
  const [row] = await t.database.db.select({ n: sql<number>`count(*)::int` }).from(users);
  return Number(row!.n);
}

async function snapshot(t: TestApp, withHashes = true): Promise<ExportedUser[]> {
  const all: ExportedUser[] = [];
  for await (const u of exportUsers(t.database.db, { withPasswordHashes: withHashes, pageSize: 7 })) all.push(u);
  return all;
}

describe('importUsers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());
  afterEach(forgetRealmUsers);

  it('creates users with their ids, and a second identical import changes nothing', async () => {
    const batch = [
      atlasUser(),
      atlasUser({ status: 'pending' }),
      atlasUser({ status: 'disabled', disabledAt: new Date('2022-01-01T00:00:00.000Z') }),
      atlasUser({ email: null, identities: [{ providerType: 'anon-user', providerId: 'anon-1' }] }),
      atlasUser({ customData: { plan: 'pro', n: [1, 2] } }),
    ];
    const first = (await gql(t, IMPORT, { users: batch.map(asInput) })).importUsers;
    expect(first).toMatchObject({ dryRun: false, createdCount: 5, unchangedCount: 0, conflictCount: 0, malformedCount: 0 });
    expect(first.outcomes.map((o: any) => [o.index, o.id, o.outcome])).toEqual(batch.map((u, i) => [i, u.id, 'CREATED']));

    const { user } = await gql(t, 'query ($id: ID!) { user(id: $id) { id email status createdAt } }', { id: batch[2]!.id });
    expect(user).toEqual({ id: batch[2]!.id, email: batch[2]!.email, status: 'DISABLED', createdAt: '2021-03-04T05:06:07.089Z' });
    const { user: pending } = await gql(t, 'query ($id: ID!) { user(id: $id) { status } }', { id: batch[1]!.id });
    expect(pending.status).toBe('PENDING');

    const before = await snapshot(t);
    const again = (await gql(t, IMPORT, { users: batch.map(asInput) })).importUsers;
    expect(again).toMatchObject({ createdCount: 0, unchangedCount: 5, conflictCount: 0, malformedCount: 0 });
    expect(await snapshot(t)).toEqual(before);
    // `npm run check-db` finds nothing amiss (an imported disabled user has no disable event of its own).
    expect(await checkInvariants(t.database.db)).toEqual([]);
  });

  it('reports conflicts per user and never applies half of one', async () => {
    const existing = atlasUser();
    await gql(t, IMPORT, { users: [asInput(existing)] });
    const takenIdentity = atlasUser({ email: null, identities: [{ providerType: 'api-key', providerId: 'key-1' }] });
    await gql(t, IMPORT, { users: [asInput(takenIdentity)] });
    const mixedCase = uniqueEmail('Case');
    const ok = atlasUser();
    const batch = [
      atlasUser({ id: existing.id }), // the id of another user, with another email
      atlasUser({ email: existing.email }), // the email of another user
      atlasUser({ email: existing.email!.toUpperCase() }), // the same, in another case
      atlasUser({ email: mixedCase }),
      atlasUser({ email: mixedCase.toUpperCase() }), // the same within the batch, in another case
      atlasUser({ email: null, identities: [{ providerType: 'api-key', providerId: 'key-1' }] }), // an identity of another user
      // A user whose second identity is taken: not created without it.
      atlasUser({ identities: [{ providerType: 'custom-token', providerId: 'ct-9' }, { providerType: 'api-key', providerId: 'key-1' }], email: null }),
      ok,
    ];
    const r = (await gql(t, IMPORT, { users: batch.map(asInput) })).importUsers;
    expect(r.outcomes.map((o: any) => [o.outcome, o.code])).toEqual([
      ['CONFLICT', 'ID_TAKEN'],
      ['CONFLICT', 'EMAIL_TAKEN'],
      ['CONFLICT', 'EMAIL_CASE_DUPLICATE'],
      ['CREATED', null],
      ['CONFLICT', 'EMAIL_CASE_DUPLICATE'],
      ['CONFLICT', 'IDENTITY_TAKEN'],
      ['CONFLICT', 'IDENTITY_TAKEN'],
      ['CREATED', null],
    ]);
    expect(r).toMatchObject({ createdCount: 2, conflictCount: 6 });
    for (const i of [1, 2, 4, 5, 6]) {
      const [row] = await t.database.db.select().from(users).where(eq(users.id, batch[i]!.id));
      expect(row, `item ${i}`).toBeUndefined();
    }
    const orphans = await t.database.db.select().from(userIdentities).where(eq(userIdentities.providerId, 'ct-9'));
    expect(orphans).toEqual([]);
    const [kept] = await t.database.db.select().from(users).where(eq(users.id, existing.id));
    expect(kept!.email).toBe(existing.email);
  });

  it('never applies half of a user when batches race for the same ids, emails and identities', async () => {
    // Two imports at once, each of 40 users. The same ids with other emails, other ids with the same
    // emails, and users whose second identity the other batch also claims: whichever commits first
    // takes each, the other reports it (its insert waits for the first to commit, then skips the
    // row: ID_TAKEN, EMAIL_TAKEN or IDENTITY_TAKEN; TAKEN_MEANWHILE should the other go away before
    // it looks why), and no user is left without one of its identities.
    for (let round = 0; round < 3; round++) {
      const a: ImportUser[] = [];
      const b: ImportUser[] = [];
      for (let i = 0; i < 10; i++) {
        const sameId = atlasUser();
        a.push(sameId);
        b.push(atlasUser({ id: sameId.id }));
        const sameEmail = atlasUser();
        a.push(sameEmail);
        b.push(atlasUser({ email: sameEmail.email }));
        const shared = { providerType: 'api-key', providerId: `race-${round}-${i}` };
        a.push(atlasUser({ email: null, identities: [{ providerType: 'custom-token', providerId: `a-${round}-${i}` }, shared] }));
        b.push(atlasUser({ email: null, identities: [{ providerType: 'custom-token', providerId: `b-${round}-${i}` }, shared] }));
        a.push(atlasUser());
        b.push(atlasUser());
      }
      // On a PostgreSQL server, both batches are made to insert at the same time: a lock held on
      // users (which their inserts need) is let go once both wait for it.
      // The embedded database runs one transaction at a time: there the second sees the first's.
      const gate = onPostgres ? new pg.Client({ connectionString: t.database.url! }) : null;
      if (gate) {
        await gate.connect();
        await gate.query('BEGIN');
        await gate.query('LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE');
      }
      // Each batch on a connection of its own, as two import runs (or instances) would be.
      const other = onPostgres ? await openDatabase({ kind: 'postgres', url: t.database.url! }) : null;
      const racing = Promise.all([importUserBatch(t.database.db, SYSTEM, a), importUserBatch(other?.db ?? t.database.db, SYSTEM, b)]);
      if (gate) {
        await waitFor(async () => {
          // The statistics a transaction reads are a snapshot taken at its first look: take a new one.
          await gate.query('SELECT pg_stat_clear_snapshot()');
          const waiting = await gate.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
          return waiting.rows[0].n === 2;
        }, 'both imports to wait for the lock on users');
        await gate.query('COMMIT');
        await gate.end();
      }
      const [ra, rb] = await racing.finally(() => other?.close());
      const conflictCodes = new Set(['ID_TAKEN', 'EMAIL_TAKEN', 'IDENTITY_TAKEN', 'TAKEN_MEANWHILE']);
      for (let i = 0; i < a.length; i++) {
        const pair = [ra[i]!, rb[i]!];
        if (i % 4 === 3) {
          expect(pair.map((r) => r.outcome)).toEqual(['created', 'created']);
          continue;
        }
        // Exactly one of the two got it; the other says why not.
        expect(pair.filter((r) => r.outcome === 'created'), `pair ${i}: ${JSON.stringify(pair)}`).toHaveLength(1);
        const loser = pair.find((r) => r.outcome !== 'created')!;
        expect(loser.outcome).toBe('conflict');
        expect(conflictCodes.has(loser.code!), loser.code).toBe(true);
        if (i % 4 !== 0) {
          // Its id was its own: no user of that id may remain (not one without the identity it lost).
          const [left] = await t.database.db.select().from(users).where(eq(users.id, loser.id!));
          expect(left, `pair ${i}: ${loser.code}`).toBeUndefined();
        }
      }
      // Every user created has every identity it was imported with, and no identity is left without its user.
      for (const [batch, results] of [[a, ra], [b, rb]] as const) {
        for (const [i, user] of batch.entries()) {
          const rows = await t.database.db.select().from(userIdentities).where(eq(userIdentities.userId, user.id));
          const mine = rows.filter((row) => user.identities.some((id) => id.providerType === row.providerType && id.providerId === row.providerId));
          if (results[i]!.outcome === 'created') expect(mine, `item ${i}`).toHaveLength(user.identities.length);
        }
      }
      for (const side of ['a', 'b']) {
        const orphans = await t.database.db.execute(
          sql`SELECT i.provider_id FROM user_identities i LEFT JOIN users u ON u.id = i.user_id WHERE i.provider_id LIKE ${`${side}-${round}-%`} AND u.id IS NULL`,
        );
        expect((orphans as unknown as { rows: unknown[] }).rows).toEqual([]);
      }
    }
    expect(await checkInvariants(t.database.db)).toEqual([]);
  });

  it('reports malformed users with stable codes and imports the rest', async () => {
    const good = atlasUser();
    const batch = [
      atlasUser({ id: 'not an id' }),
      atlasUser({ id: 'x'.repeat(129) }),
      atlasUser({ email: 'not-an-email' }),
      atlasUser({ identities: [{ providerType: 'local-userpass', providerId: 'someone@example.com', passwordHash: 'md5$abc' }] }),
      // An Argon2 PHC string whose check would take 4 GiB.
      { ...atlasUser(), identities: [{ providerType: 'local-userpass', providerId: '', passwordHash: ARGON2_HASH.replace('m=65536', 'm=4194304') }] },
      good,
    ];
    batch[3]!.identities[0]!.providerId = batch[3]!.email!;
    batch[4]!.identities[0]!.providerId = batch[4]!.email!;
    const r = (await gql(t, IMPORT, { users: batch.map(asInput) })).importUsers;
    expect(r.outcomes.map((o: any) => [o.outcome, o.code])).toEqual([
      ['MALFORMED', 'MALFORMED_ID'],
      ['MALFORMED', 'MALFORMED_ID'],
      ['MALFORMED', 'MALFORMED_EMAIL'],
      ['MALFORMED', 'MALFORMED_PASSWORD_HASH'],
      ['MALFORMED', 'MALFORMED_PASSWORD_HASH'],
      ['CREATED', null],
    ]);
    expect(r.malformedCount).toBe(5);
    expect(r.outcomes[0].message).toMatch(/1 to 128 characters/);
  });

  it('changes nothing in a dry run, and says what would happen', async () => {
    const taken = atlasUser();
    await gql(t, IMPORT, { users: [asInput(taken)] });
    const before = await snapshot(t);
    const count = await userCount(t);
    const r = (await gql(t, IMPORT, { users: [asInput(atlasUser()), asInput(taken), asInput(atlasUser({ email: taken.email }))], dryRun: true }))
      .importUsers;
    expect(r).toMatchObject({ dryRun: true, createdCount: 1, unchangedCount: 1, conflictCount: 1 });
    expect(await userCount(t)).toBe(count);
    expect(await snapshot(t)).toEqual(before);
    const [event] = await t.database.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, 'users.imported'))
      .orderBy(sql`${auditEvents.at} DESC`)
      .limit(1);
    expect(event!.details).toMatchObject({ source: 'graphql', dryRun: true, created: 1, unchanged: 1, conflicts: 1, malformed: 0 });
  });

  it('writes one audit event per call and sends no user.created webhook', async () => {
    const count = async (table: string) =>
      Number(((await t.database.db.execute(sql.raw(`SELECT count(*)::int AS n FROM ${table}`))) as unknown as { rows: { n: number }[] }).rows[0]!.n);
    const auditBefore = await count('audit_events');
    const eventsBefore = await count('webhook_events');
    await gql(t, IMPORT, { users: [atlasUser(), atlasUser(), atlasUser()].map(asInput) });
    const auditAfter = await count('audit_events');
    const eventsAfter = await count('webhook_events');
    expect(Number(auditAfter) - Number(auditBefore)).toBe(1);
    expect(Number(eventsAfter)).toBe(Number(eventsBefore));
  });

  it('sends one user.created event per created user with notify', async () => {
    const batch = [atlasUser(), atlasUser()];
    const results = await importUserBatch(t.database.db, SYSTEM, batch, { notify: true });
    expect(results.map((r) => r.outcome)).toEqual(['created', 'created']);
    for (const u of batch) {
      const events = await t.database.db
        .select()
        .from(webhookEvents)
        .where(and(eq(webhookEvents.userId, u.id), eq(webhookEvents.type, 'user.created')));
      expect(events).toHaveLength(1);
    }
  });

  it('is for owners only, and refuses more than 1,000 users whole', async () => {
    const operator = await t.createKey('operator');
    const refused = await postGraphQL(t, { query: IMPORT, variables: { users: [asInput(atlasUser())] } }, { authorization: `Bearer ${operator}` });
    expect(refused.body.errors[0].extensions.code).toBe('FORBIDDEN');
    const count = await userCount(t);
    const tooMany = Array.from({ length: 1001 }, () => asInput(atlasUser()));
    const res = await postGraphQL(t, { query: IMPORT, variables: { users: tooMany } });
    expect(res.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.body.errors[0].message).toMatch(/at most 1,000/);
    expect(await userCount(t)).toBe(count);
  });

  it('logs Firebase-, bcrypt- and Argon2-hashed users in with realm-web with their old passwords, keeping their ids', async () => {
    const firebase = atlasUser();
    firebase.identities[0]!.passwordHash = FIREBASE_HASH;
    const supabase = atlasUser({ id: crypto.randomUUID() });
    supabase.identities[0]!.passwordHash = BCRYPT_HASH;
    const argon2 = atlasUser({ id: crypto.randomUUID() });
    argon2.identities[0]!.passwordHash = ARGON2_HASH;
    const r = (await gql(t, IMPORT, { users: [asInput(firebase), asInput(supabase), asInput(argon2)] })).importUsers;
    expect(r.createdCount).toBe(3);
    const app = realmApp(t);
    const a = await app.logIn(Realm.Credentials.emailPassword(firebase.email!, FIREBASE_PASSWORD));
    expect(a.id).toBe(firebase.id);
    const b = await app.logIn(Realm.Credentials.emailPassword(supabase.email!, BCRYPT_PASSWORD));
    expect(b.id).toBe(supabase.id);
    expect((await app.logIn(Realm.Credentials.emailPassword(argon2.email!, ARGON2_PASSWORD))).id).toBe(argon2.id);
    const seen = await introspect(t, a.accessToken!);
    expect(seen.body).toMatchObject({ active: true, sub: firebase.id });
    expect(await bcrypt.compare(BCRYPT_PASSWORD, BCRYPT_HASH)).toBe(true);
  });
});

describe('export, then import into an empty database', () => {
  let source: TestApp;
  let target: TestApp;
  beforeAll(async () => {
    [source, target] = await Promise.all([startTestApp(), startTestApp()]);
  });
  afterAll(async () => {
    await source?.close();
    await target?.close();
  });

  it('reproduces every user, with its hashes', async () => {
    // Users made here (ObjectIds, our hashes) and imported ones (other ids and hashes).
    await gql(source, 'mutation ($e: String!) { createUser(email: $e, password: "secret-password") { __typename } }', { e: uniqueEmail('native') });
    const imported = [
      atlasUser({ id: 'firebase_UID-with-mixedCase_0123456789' }),
      atlasUser({ status: 'disabled', disabledAt: new Date('2023-02-03T04:05:06.007Z'), customData: { a: 1 } }),
      atlasUser({ status: 'pending' }),
      atlasUser({ email: null, identities: [{ providerType: 'anon-user', providerId: 'anon-xyz' }] }),
    ];
    imported[0]!.identities[0]!.passwordHash = await hashPassword('another-password');
    await importUserBatch(source.database.db, SYSTEM, imported);
    const exported = await snapshot(source);
    expect(exported.length).toBe(5);
    expect(exported.every((u) => u.identities.every((i) => i.providerType !== 'local-userpass' || typeof i.passwordHash === 'string' || i.passwordHash === null))).toBe(true);
    const withoutHashes = await snapshot(source, false);
    expect(withoutHashes.flatMap((u) => u.identities).some((i) => 'passwordHash' in i)).toBe(false);

    const results = await importUserBatch(
      target.database.db,
      SYSTEM,
      exported.map((u) => ({
        ...u,
        createdAt: new Date(u.createdAt),
        lastAuthenticatedAt: u.lastAuthenticatedAt ? new Date(u.lastAuthenticatedAt) : null,
        disabledAt: u.disabledAt ? new Date(u.disabledAt) : null,
      })),
    );
    expect(results.map((r) => r.outcome)).toEqual(exported.map(() => 'created'));
    expect(await snapshot(target)).toEqual(exported);
  });
});

describe.runIf(onPostgres)('import speed', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  it('imports 20,000 users in batches of 5,000', async () => {
    const total = 20_000;
    const batchSize = 5_000;
    const started = performance.now();
    for (let offset = 0; offset < total; offset += batchSize) {
      const batch = Array.from({ length: batchSize }, (_, i) => {
        const n = offset + i;
        const email = `speed-${n}@example.com`;
        return {
          id: `speed${n.toString(16).padStart(19, '0')}`,
          email,
          status: 'confirmed' as const,
          createdAt: new Date(),
          identities: [{ providerType: 'local-userpass', providerId: email, passwordHash: BCRYPT_HASH }],
        };
      });
      const results = await importUserBatch(t.database.db, SYSTEM, batch);
      expect(results.every((r) => r.outcome === 'created')).toBe(true);
    }
    const seconds = (performance.now() - started) / 1000;
    // Reported, not asserted: the machine is shared.
    console.log(`import speed: ${total} users in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} users/s`);
    expect(await userCount(t)).toBe(total + 0);
  }, 120_000);
});
