// Crash mid-mutation: the gateway process is SIGKILLed while admin actions run on seeded users
// with sessions. Afterwards every user is wholly before or wholly after the action it was given:
// status, sessions and audit events agree, and the invariant checker finds nothing. On PostgreSQL
// the database outlives the gateway; on the embedded database the gateway starts again on the same
// DATA_DIR, and the data is there and consistent.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, inArray, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { checkInvariants } from '../src/users/invariants.js';
import { openDatabase, type Database, type DatabaseHandle } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { auditEvents, refreshTokens, userIdentities, users } from '../src/db/schema.js';
import { createTestDatabase, migratedPgliteTemplate, onPostgres, type TestDatabase } from './helpers/database.js';
import { graphql, succeeded, waitFor, type Call } from './helpers/faults.js';
import { distCommand, projectRoot, startGatewayProcess, type GatewayProcess } from './helpers/process.js';
import { seedSessions, seedUsers } from './helpers/seed.js';

const KEY = 'faults-crash-owner-key-0123456789';
const USERS = 150;
const LIVE_SESSIONS = 3;
const CONCURRENCY = 16;

/** What the test reads back about one user after the crash. */
interface UserSnapshot {
  exists: boolean;
  status: string | null;
  disabledAt: Date | null;
  identities: number;
  /** Sessions by their state: live, or revoked with a reason (the seeded revoked one is "logout"). */
  live: number;
  revoked: { reason: string | null; at: Date }[];
  successes: { action: string; at: Date; revokedSessionCount: unknown }[];
}

/**
 * An admin action under test. `usersPerCall` is 1 for the single actions; a bulk action (issue 7:
 * disableUsers, …) takes several ids per call and joins this list with its own `variables`, and
 * each of its users must end up as `isAfter` says, or untouched.
 */
interface CrashAction {
  name: string;
  usersPerCall: number;
  document: string;
  variables(ids: string[]): Record<string, unknown>;
  succeeded(data: any): boolean;
  isAfter(user: UserSnapshot): boolean;
}

const single = (name: string, isAfter: CrashAction['isAfter']): CrashAction => ({
  name,
  usersPerCall: 1,
  document: `mutation Crash($id: ID!) { ${name}(id: $id) { __typename } }`,
  variables: ([id]) => ({ id }),
  succeeded: (data) => /Success$/.test(data?.[name]?.__typename ?? ''),
  isAfter,
});

/** One success event of `action`, at `at` when given, claiming every live session revoked. */
const oneSuccess = (u: UserSnapshot, action: string, at?: Date | null) =>
  u.successes.length === 1 &&
  u.successes[0]!.action === action &&
  u.successes[0]!.revokedSessionCount === LIVE_SESSIONS &&
  (at === undefined || u.successes[0]!.at.getTime() === at?.getTime());

/** Every seeded live session revoked for `reason` at the instant of the action's event. */
const revokedBy = (u: UserSnapshot, reason: string) =>
  u.live === 0 &&
  u.revoked.filter((r) => r.reason === reason).length === LIVE_SESSIONS &&
  u.revoked.filter((r) => r.reason === reason).every((r) => r.at.getTime() === u.successes[0]?.at.getTime());

/** A bulk action of issue 7: BULK_SIZE users a call, each wholly before or after it. */
const BULK_SIZE = 4;
const bulk = (name: string, isAfter: CrashAction['isAfter']): CrashAction => ({
  name,
  usersPerCall: BULK_SIZE,
  document: `mutation Crash($ids: [ID!]!) { ${name}(ids: $ids) { doneCount requestedCount } }`,
  variables: (ids) => ({ ids }),
  succeeded: (data) => data?.[name] != null && data[name].doneCount === data[name].requestedCount,
  isAfter,
});

const actions: CrashAction[] = [
  single(
    'disableUser',
    (u) => u.exists && u.status === 'disabled' && oneSuccess(u, 'disableUser', u.disabledAt) && revokedBy(u, 'user_disabled'),
  ),
  single(
    'revokeUserSessions',
    (u) => u.exists && u.status === 'confirmed' && u.disabledAt === null && oneSuccess(u, 'revokeUserSessions') && revokedBy(u, 'admin_revoked'),
  ),
  single('deleteUser', (u) => !u.exists && u.identities === 0 && u.live === 0 && u.revoked.length === 0 && oneSuccess(u, 'deleteUser')),
  bulk(
    'disableUsers',
    (u) => u.exists && u.status === 'disabled' && oneSuccess(u, 'disableUsers', u.disabledAt) && revokedBy(u, 'user_disabled'),
  ),
  bulk(
    'revokeSessionsOfUsers',
    (u) =>
      u.exists && u.status === 'confirmed' && u.disabledAt === null && oneSuccess(u, 'revokeSessionsOfUsers') && revokedBy(u, 'admin_revoked'),
  ),
  bulk('deleteUsers', (u) => !u.exists && u.identities === 0 && u.live === 0 && u.revoked.length === 0 && oneSuccess(u, 'deleteUsers')),
];

const isBefore = (u: UserSnapshot) =>
  u.exists &&
  u.status === 'confirmed' &&
  u.disabledAt === null &&
  u.identities === 1 &&
  u.live === LIVE_SESSIONS &&
  u.revoked.length === 1 &&
  u.revoked[0]!.reason === 'logout' &&
  u.successes.length === 0;

async function snapshot(db: Database, ids: string[]): Promise<Map<string, UserSnapshot>> {
  const rows = await db.select().from(users).where(inArray(users.id, ids));
  const identities = await db.select({ userId: userIdentities.userId }).from(userIdentities).where(inArray(userIdentities.userId, ids));
  const sessions = await db.select().from(refreshTokens).where(inArray(refreshTokens.userId, ids));
  const events = await db
    .select()
    .from(auditEvents)
    .where(sql`${inArray(auditEvents.userId, ids)} AND ${eq(auditEvents.outcome, 'success')}`);
  const now = Date.now();
  return new Map(
    ids.map((id) => {
      const row = rows.find((r) => r.id === id);
      const own = sessions.filter((s) => s.userId === id);
      return [
        id,
        {
          exists: !!row,
          status: row?.status ?? null,
          disabledAt: row?.disabledAt ?? null,
          identities: identities.filter((i) => i.userId === id).length,
          live: own.filter((s) => !s.revokedAt && s.expiresAt.getTime() > now).length,
          revoked: own.filter((s) => s.revokedAt).map((s) => ({ reason: s.revokeReason, at: s.revokedAt! })),
          successes: events
            .filter((e) => e.userId === id)
            .map((e) => ({ action: e.action, at: e.at, revokedSessionCount: e.details?.revokedSessionCount })),
        },
      ];
    }),
  );
}

interface Planned {
  action: CrashAction;
  ids: string[];
  result?: Call;
}

/**
 * Runs the planned calls CONCURRENCY at a time and SIGKILLs the gateway once `killAfter` of them
 * have been answered. Returns how many were in flight at the kill.
 */
async function runAndKill(gateway: GatewayProcess, planned: Planned[], killAfter: number): Promise<number> {
  let next = 0;
  let answered = 0;
  let inFlightAtKill = -1;
  let killed = false;
  const worker = async () => {
    while (!killed && next < planned.length) {
      const p = planned[next++]!;
      p.result = await graphql(gateway.baseUrl, p.action.document, p.action.variables(p.ids), { key: KEY });
      answered += 1;
      if (!killed && answered >= killAfter) {
        killed = true;
        inFlightAtKill = planned.filter((q) => q !== p && !q.result).length - (planned.length - next);
        gateway.child.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await gateway.stop('SIGKILL');
  return inFlightAtKill;
}

const dataDir = onPostgres ? null : mkdtempSync(join(tmpdir(), 'gateway-crash-'));
let testDatabase: TestDatabase | null = null;
const gateways: GatewayProcess[] = [];
async function startGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const gateway = await startGatewayProcess(env);
  gateways.push(gateway);
  return gateway;
}
afterAll(async () => {
  // A failed test must not leave a gateway behind.
  for (const g of gateways) if (g.child.exitCode === null && g.child.signalCode === null) await g.stop('SIGKILL');
  await testDatabase?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** `npm run check-db` against the data folder, as an operator would run it after a crash. */
function runCheckDb(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const { VITEST: _v, VITEST_POOL_ID: _p, VITEST_WORKER_ID: _w, TEST_DB: _t, DATABASE_URL: _d, ...inherited } = process.env;
  const child = spawn(process.execPath, distCommand('check-db'), {
    cwd: projectRoot,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

it(`keeps every user wholly before or after its action when the gateway is SIGKILLed mid-mutation (${
  onPostgres ? 'PostgreSQL' : 'embedded, restarted on the same DATA_DIR'
})`, async () => {
  // Seed straight into the database the gateway will use.
  let seeding: DatabaseHandle;
  let gatewayEnv: Record<string, string>;
  if (onPostgres) {
    testDatabase = await createTestDatabase();
    seeding = testDatabase;
    // A URL parameter names the gateway's connections, so the test can wait for them to end.
    gatewayEnv = { DATABASE_URL: `${testDatabase.url}?application_name=crash-gateway` };
  } else {
    // Loaded from the run's migrated template: no initdb, no migration to run.
    seeding = await openDatabase({ kind: 'embedded', dataDir, loadDataDir: await migratedPgliteTemplate() });
    await runMigrations(seeding);
    gatewayEnv = { DATA_DIR: dataDir! };
  }
  const seeded = await seedUsers(seeding.db, USERS);
  for (const u of seeded) await seedSessions(seeding.db, u.id, { live: LIVE_SESSIONS, revoked: 1 });
  const ids = seeded.map((u) => u.id);
  if (!onPostgres) await seeding.close(); // the embedded database has one user at a time

  // Round robin over the actions, so that every action is cut somewhere.
  const planned: Planned[] = [];
  for (let i = 0, a = 0; i < ids.length; a++) {
    const action = actions[a % actions.length]!;
    planned.push({ action, ids: ids.slice(i, i + action.usersPerCall) });
    i += action.usersPerCall;
  }

  // On PostgreSQL, a few actions (one of each) are made to be mid-transaction at the kill for sure:
  // the test holds their users' sessions locked, so each waits after its first writes.
  const stuck = onPostgres ? planned.slice(0, actions.length) : [];
  let holder: pg.Client | null = null;
  if (onPostgres) {
    holder = new pg.Client({ connectionString: testDatabase!.url! });
    holder.on('error', () => {}); // ended by the database's drop if the test fails
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM refresh_tokens WHERE user_id = ANY($1::text[]) AND revoked_at IS NULL FOR UPDATE', [
      stuck.flatMap((p) => p.ids),
    ]);
  }

  const gateway = await startGateway({ ...gatewayEnv, ADMIN_API_KEY: KEY });
  const stuckCalls = stuck.map(async (p) => {
    p.result = await graphql(gateway.baseUrl, p.action.document, p.action.variables(p.ids), { key: KEY });
  });
  if (holder) {
    // Asked on the test database's own pool: inside the holder's transaction, pg_stat_activity is a snapshot.
    await waitFor(
      async () =>
        (
          await testDatabase!.pool!.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'crash-gateway' AND wait_event_type = 'Lock'`,
          )
        ).rows[0].n === stuck.length,
      'the held actions to wait inside their transactions',
    );
  }
  const rest = planned.filter((p) => !stuck.includes(p));
  const inFlightAtKill = stuck.length + (await runAndKill(gateway, rest, Math.floor(rest.length * 0.3)));
  await Promise.all(stuckCalls);
  if (holder) {
    await holder.query('ROLLBACK');
    await holder.end();
  }

  let inspect: Database;
  let reopened: DatabaseHandle | null = null;
  if (onPostgres) {
    // Until the killed gateway's sessions are gone, a COMMIT it sent may still be applied.
    const admin = new pg.Client({ connectionString: testDatabase!.url! });
    await admin.connect();
    await waitFor(
      async () =>
        (
          await admin.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'crash-gateway'`,
          )
        ).rows[0].n === 0,
      "the killed gateway's backends to end",
    );
    await admin.end();
    inspect = testDatabase!.db;
  } else {
    // The gateway starts again on the same folder (recovering it) and serves what is there.
    const restarted = await startGateway({ ...gatewayEnv, ADMIN_API_KEY: KEY });
    try {
      const listed = await graphql(restarted.baseUrl, '{ users(first: 1) { totalCount } }', {}, { key: KEY });
      expect(succeeded(listed), JSON.stringify(listed.body)).toBe(true);
      const deleted = planned
        .filter((p) => p.action.name.startsWith('deleteUser') && p.result && succeeded(p.result))
        .reduce((n, p) => n + p.ids.length, 0);
      expect(listed.body.data.users.totalCount).toBeLessThanOrEqual(USERS - deleted);
    } finally {
      expect(await restarted.stop('SIGTERM')).toBe(0);
    }
    const check = await runCheckDb({ DATA_DIR: dataDir! });
    expect(check.output).toMatch(/All invariants hold/);
    expect(check.code).toBe(0);
    reopened = await openDatabase({ kind: 'embedded', dataDir });
    inspect = reopened.db;
  }

  try {
    const states = await snapshot(inspect, ids);
    const summary = { answered: 0, after: 0, before: 0, afterWithoutAnswer: 0 };
    const inconsistent: { action: string; user: UserSnapshot }[] = [];
    for (const p of planned) {
      const answeredOk = !!p.result && succeeded(p.result) && p.action.succeeded(p.result.body.data);
      if (answeredOk) summary.answered += 1;
      for (const id of p.ids) {
        const user = states.get(id)!;
        if (p.action.isAfter(user)) {
          summary.after += 1;
          if (!answeredOk) summary.afterWithoutAnswer += 1;
        } else if (isBefore(user) && !answeredOk) {
          summary.before += 1;
        } else {
          inconsistent.push({ action: p.action.name, user });
        }
      }
    }
    console.info(
      `crash (${onPostgres ? 'postgres' : 'embedded'}): ${JSON.stringify({ ...summary, inFlightAtKill, heldMidTransaction: stuck.length })}`,
    );

    // Every user is wholly before or wholly after; every answered success is durable.
    expect(inconsistent).toEqual([]);
    // The kill came in the middle: some actions done, some never done, some cut in flight.
    expect(inFlightAtKill).toBeGreaterThan(0);
    // Those held inside their transactions at the kill left nothing behind.
    for (const p of stuck) {
      expect(p.result?.status).toBe(0);
      for (const id of p.ids) expect(isBefore(states.get(id)!)).toBe(true);
    }
    expect(summary.after).toBeGreaterThanOrEqual(summary.answered);
    expect(summary.answered).toBeGreaterThan(0);
    expect(summary.before).toBeGreaterThan(0);
    expect(await checkInvariants(inspect)).toEqual([]);
  } finally {
    await reopened?.close();
  }
}, 120_000);
