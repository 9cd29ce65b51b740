// Faults of the database under a running gateway, caused for real on a PostgreSQL server this file
// owns (test/helpers/pg-server.ts): a restart under load, killed connections, an exhausted pool,
// lock contention. The gateway is the real process (`npm start`); the invariant checker runs after
// each test. PostgreSQL only: vitest.config.ts keeps *-postgres.test.ts out of the embedded project.
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkInvariants } from '../src/users/invariants.js';
import { openDatabase, type Database } from '../src/db/client.js';
import { toDatabaseFault } from '../src/db/faults.js';
import { runMigrations } from '../src/db/migrate.js';
import * as schema from '../src/db/schema.js';
import { graphql, httpCall, metricValue, sleep, succeeded, waitFor, type Call } from './helpers/faults.js';
import { startPostgresServer, type PostgresServer } from './helpers/pg-server.js';
import { startGatewayProcess, type GatewayProcess } from './helpers/process.js';
import { liveSessionCount, seedSessions, seedUsers } from './helpers/seed.js';

const KEY = 'faults-postgres-owner-key-0123456789';
// Small and short, so that each fault shows within a second or two.
const POOL_MAX = 4;
const CONNECT_TIMEOUT_MS = 1_000;
const LOCK_TIMEOUT_MS = 2_500;
// The gateway's connections carry this name (a URL parameter wins over the pool's own), the test's another.
const GATEWAY_APP = 'faults-gateway';

let server: PostgresServer;
let gatewayUrl: string;
let testPool: pg.Pool;
let db: Database;
let gateway: GatewayProcess;
let gatewayPid: number;

beforeAll(async () => {
  server = await startPostgresServer();
  const url = await server.createDatabase('gateway');
  const migrating = await openDatabase({ kind: 'postgres', url });
  await runMigrations(migrating);
  await migrating.close();
  testPool = new pg.Pool({ connectionString: `${url}?application_name=faults-test`, max: 4 });
  testPool.on('error', () => {}); // its idle connections die in the restart test
  db = drizzle(testPool, { schema }) as unknown as Database;
  gatewayUrl = `${url}?application_name=${GATEWAY_APP}`;
  gateway = await startGatewayProcess({
    DATABASE_URL: gatewayUrl,
    ADMIN_API_KEY: KEY,
    DB_POOL_MAX: String(POOL_MAX),
    DB_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
    DB_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS),
  });
  gatewayPid = gateway.child.pid!;
}, 120_000);

afterAll(async () => {
  if (gateway) expect(await gateway.stop('SIGTERM')).toBe(0);
  await testPool?.end();
  await server?.destroy();
});

afterEach(async () => {
  // The same process served every test: never restarted, never crashed.
  expect(gateway.child.exitCode, gateway.output()).toBeNull();
  expect(gateway.child.pid).toBe(gatewayPid);
  expect(await checkInvariants(db)).toEqual([]);
});

const USERS = `query Users { users(first: 5) { totalCount edges { node { id status activeSessionCount } } } }`;
const action = (name: string) => `mutation Act($id: ID!) {
  ${name}(id: $id) { __typename ... on Error { message } }
}`;
const call = (query: string, variables: Record<string, unknown> = {}) => graphql(gateway.baseUrl, query, variables, { key: KEY });

/** The gateway's backends on its database, from pg_stat_activity. */
async function gatewayBackends(): Promise<{ pid: number; state: string; wait_event_type: string | null }[]> {
  const { rows } = await testPool.query(
    `SELECT pid, state, wait_event_type FROM pg_stat_activity WHERE application_name = $1 AND datname = 'gateway'`,
    [GATEWAY_APP],
  );
  return rows;
}

/** Holds row locks in a transaction of the test's own, as a slow admin or a migration would. */
async function holdLocks(lockSql: string, values: unknown[]): Promise<{ release(): Promise<void> }> {
  const client = await testPool.connect();
  await client.query('BEGIN');
  await client.query(lockSql, values);
  return {
    async release() {
      await client.query('ROLLBACK');
      client.release();
    },
  };
}

/** A masked fault: a stable code, retryable, the request id, and nothing of the driver's own words. */
function expectMaskedFault(c: Call, code: string, httpStatus: number) {
  expect(c.status, JSON.stringify(c.body)).toBe(httpStatus);
  const error = c.body.errors?.[0];
  expect(error?.extensions).toMatchObject({ code, retryable: true });
  expect(error.extensions.requestId).toMatch(/\S/);
  expect(JSON.stringify(c.body)).not.toMatch(/ECONNREFUSED|terminat|postgres|pg_|SELECT|127\.0\.0\.1|\n\s+at /i);
}

describe('PostgreSQL restarts under load', () => {
  it('fails fast with a masked 503 during the outage, /health says 503, and all recovers within 2 s without a gateway restart', async () => {
    await seedUsers(db, 20);
    const calls: Call[] = [];
    const healths: Call[] = [];
    let running = true;
    const loop = async () => {
      while (running) calls.push(await call(USERS));
    };
    const healthLoop = async () => {
      while (running) {
        healths.push(await httpCall(`${gateway.baseUrl}/health`, undefined));
        await sleep(100);
      }
    };
    const loops = [loop(), loop(), loop(), loop(), healthLoop()];

    // Fixed pauses: the phases of the load (before, during and after the outage) are what is measured.
    await sleep(500);
    const stopping = Date.now();
    await server.stop('fast');
    const down = Date.now();
    await sleep(1_500);
    const starting = Date.now();
    await server.start();
    const back = Date.now();
    await sleep(3_000);
    running = false;
    await Promise.all(loops);

    const before = calls.filter((c) => c.endedAt < stopping);
    const outage = calls.filter((c) => c.startedAt > down && c.endedAt < starting);
    const settled = calls.filter((c) => c.startedAt > back + 2_000);
    const failed = calls.filter((c) => !succeeded(c));
    const firstSuccessAfter = calls.filter((c) => c.startedAt > back && succeeded(c)).sort((a, b) => a.endedAt - b.endedAt)[0];
    console.info(
      `restart: ${calls.length} requests, ${failed.length} failed; outage ${starting - down} ms, ` +
        `failures answered in at most ${Math.max(...outage.map((c) => c.ms))} ms; ` +
        `first success ${firstSuccessAfter ? firstSuccessAfter.endedAt - back : '-'} ms after the server was back`,
    );

    expect(before.length).toBeGreaterThan(0);
    expect(before.every(succeeded)).toBe(true);
    // During the outage: every request failed, fast, masked, with 503.
    expect(outage.length).toBeGreaterThan(5);
    for (const c of outage) expectMaskedFault(c, 'SERVICE_UNAVAILABLE', 503);
    expect(Math.max(...outage.map((c) => c.ms))).toBeLessThan(CONNECT_TIMEOUT_MS + 500);
    // Every failure at all (also those cut mid-query by the shutdown) is the same masked fault.
    for (const c of failed) expectMaskedFault(c, 'SERVICE_UNAVAILABLE', 503);
    const outageHealths = healths.filter((h) => h.startedAt > down && h.endedAt < starting);
    expect(outageHealths.length).toBeGreaterThan(0);
    expect(outageHealths.every((h) => h.status === 503 && h.body.status === 'unavailable')).toBe(true);
    // Within 2 s of the server coming back, every request succeeds.
    expect(settled.length).toBeGreaterThan(10);
    expect(settled.filter((c) => !succeeded(c))).toEqual([]);
    expect(healths.filter((h) => h.startedAt > back + 2_000).every((h) => h.status === 200)).toBe(true);
  }, 60_000);
});

describe('connections killed with pg_terminate_backend', () => {
  it('survives killed idle connections: the next request works', async () => {
    for (let i = 0; i < POOL_MAX; i++) expect(succeeded(await call(USERS))).toBe(true);
    const idle = (await gatewayBackends()).filter((b) => b.state === 'idle');
    expect(idle.length).toBeGreaterThan(0);
    await testPool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [idle.map((b) => b.pid)]);
    await waitFor(async () => (await gatewayBackends()).every((b) => !idle.some((i) => i.pid === b.pid)), 'the backends to end');
    // More requests than the pool has connections: none is given a dead one, none waits for a lost one.
    const next = await Promise.all(Array.from({ length: POOL_MAX * 2 }, () => call(USERS)));
    expect(next.filter((c) => !succeeded(c))).toEqual([]);
  });

  // Each mutation is stopped inside its transaction, after its first writes, by a session row the
  // test holds locked; then its connection is killed.
  it.each(['disableUser', 'revokeUserSessions', 'deleteUser'])(
    'survives a connection killed inside a %s transaction: the mutation is rolled back whole, the next request works',
    async (name) => {
      const [user] = await seedUsers(db, 1);
      const sessionIds = await seedSessions(db, user!.id, { live: 3 });
      const lock = await holdLocks('SELECT id FROM refresh_tokens WHERE id = $1 FOR UPDATE', [sessionIds[2]]);
      const pending = call(action(name), { id: user!.id });
      const blocked = await waitFor(
        async () => (await gatewayBackends()).find((b) => b.wait_event_type === 'Lock'),
        `the ${name} transaction to wait on the test's lock`,
      );
      await testPool.query('SELECT pg_terminate_backend($1)', [blocked.pid]);
      const interrupted = await pending;
      await lock.release();

      expectMaskedFault(interrupted, 'SERVICE_UNAVAILABLE', 503);
      // Nothing of it stayed: the user as it was, every session live, no success in the audit trail.
      const [row] = await db.select().from(schema.users).where(sql`id = ${user!.id}`);
      expect(row).toMatchObject({ status: 'confirmed', disabledAt: null });
      expect(await liveSessionCount(db, user!.id)).toBe(3);
      const events = await db.select().from(schema.auditEvents).where(sql`user_id = ${user!.id} AND outcome = 'success'`);
      expect(events).toEqual([]);

      const retried = await call(action(name), { id: user!.id });
      expect(retried.body.data?.[name]?.__typename, JSON.stringify(retried.body)).toMatch(/Success$/);
      expect(await liveSessionCount(db, user!.id)).toBe(0);
    },
  );

  it('keeps the pool whole after killed connections', async () => {
    const metrics = await httpCall(`${gateway.baseUrl}/metrics`, undefined, { key: KEY });
    expect(metrics.status).toBe(200);
    expect(metricValue(metrics.body, 'gateway_db_pool_connections')).toBeLessThanOrEqual(POOL_MAX);
    expect(metricValue(metrics.body, 'gateway_db_pool_waiting_requests')).toBe(0);
    expect(metricValue(metrics.body, 'gateway_database_faults_total', { kind: 'unavailable' })).toBeGreaterThan(0);
  });
});

describe('pool exhausted by slow requests', () => {
  it(`fails further requests within DB_CONNECT_TIMEOUT_MS with SERVICE_UNAVAILABLE (503), keeps /live at 200, and recovers`, async () => {
    const users = await seedUsers(db, POOL_MAX);
    const lock = await holdLocks('SELECT id FROM users WHERE id = ANY($1::text[]) FOR UPDATE', [users.map((u) => u.id)]);
    // Each disable holds a pooled connection while it waits for its user's row.
    const slow = users.map((u) => call(action('disableUser'), { id: u.id }));
    await waitFor(
      async () => (await gatewayBackends()).filter((b) => b.wait_event_type === 'Lock').length === POOL_MAX,
      'every pooled connection to wait on a lock',
    );

    const refused = await call(USERS);
    const live = await httpCall(`${gateway.baseUrl}/live`, undefined);
    await lock.release();
    const finished = await Promise.all(slow);
    console.info(`pool exhausted: refused in ${refused.ms} ms (DB_CONNECT_TIMEOUT_MS=${CONNECT_TIMEOUT_MS})`);

    expectMaskedFault(refused, 'SERVICE_UNAVAILABLE', 503);
    expect(refused.body.errors[0].message).toMatch(/database connection.*busy/i);
    expect(refused.ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50);
    expect(refused.ms).toBeLessThan(CONNECT_TIMEOUT_MS + 1_000);
    expect(live.status).toBe(200);
    // The slow requests themselves were not hurt, and everything works again.
    for (const c of finished) expect(c.body.data?.disableUser?.__typename, JSON.stringify(c.body)).toBe('DisableUserSuccess');
    const after = await Promise.all(Array.from({ length: POOL_MAX * 2 }, () => call(USERS)));
    expect(after.filter((c) => !succeeded(c))).toEqual([]);
  });
});

describe('lock contention', () => {
  it('fails a mutation on a row locked elsewhere within DB_LOCK_TIMEOUT_MS, with the retryable code LOCK_TIMEOUT', async () => {
    const [user] = await seedUsers(db, 1);
    await seedSessions(db, user!.id, { live: 2 });
    const lock = await holdLocks('SELECT id FROM users WHERE id = $1 FOR UPDATE', [user!.id]);
    const timedOut = await call(action('disableUser'), { id: user!.id });
    await lock.release();
    console.info(`lock contention: LOCK_TIMEOUT after ${timedOut.ms} ms (DB_LOCK_TIMEOUT_MS=${LOCK_TIMEOUT_MS})`);

    expectMaskedFault(timedOut, 'LOCK_TIMEOUT', 200);
    expect(timedOut.body.data).toBeNull();
    expect(timedOut.ms).toBeGreaterThanOrEqual(LOCK_TIMEOUT_MS - 50);
    expect(timedOut.ms).toBeLessThan(LOCK_TIMEOUT_MS + 1_500);
    expect(await liveSessionCount(db, user!.id)).toBe(2);

    // Retrying, as the code says, works once the other transaction is gone.
    const retried = await call(action('disableUser'), { id: user!.id });
    expect(retried.body.data.disableUser.__typename).toBe('DisableUserSuccess');
  });
});

describe('statement timeout', () => {
  it('ends a statement that runs past DB_STATEMENT_TIMEOUT_MS, reported as the retryable STATEMENT_TIMEOUT', async () => {
    const handle = await openDatabase({ kind: 'postgres', url: gatewayUrl }, { statementTimeoutMs: 200 });
    try {
      const started = Date.now();
      const err = await handle.db.execute(sql`SELECT pg_sleep(5)`).then(() => null, (e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(toDatabaseFault(err)).toMatchObject({ code: 'STATEMENT_TIMEOUT', retryable: true, httpStatus: 200 });
      // The connection is fine afterwards.
      await handle.db.execute(sql`SELECT 1`);
    } finally {
      await handle.close();
    }
  });
});

describe('a connection that dies as the pool hands it out', () => {
  // node-postgres keeps a client that died while idle in the pool until it sees the socket close;
  // handed out in between, drizzle's BEGIN fails and the client was never given back.
  it('is dropped and replaced, never leaked', async () => {
    const handle = await openDatabase(
      { kind: 'postgres', url: gatewayUrl },
      { poolMax: 1, connectTimeoutMs: 1_000, onConnectionError: () => {} },
    );
    try {
      await handle.db.execute(sql`SELECT 1`);
      const idle = (handle.pool as unknown as { _idle: { client: { connection: { stream: { destroy(): void } } } }[] })._idle;
      expect(idle).toHaveLength(1);
      idle[0]!.client.connection.stream.destroy();
      // In the same tick, before the pool could notice: the transaction either gets a live
      // connection or fails as a retryable fault, and the dead client goes either way.
      const outcome = await handle.db.transaction(async (tx) => tx.execute(sql`SELECT 2 AS n`)).then(
        () => 'committed',
        (err) => toDatabaseFault(err)?.code ?? err,
      );
      expect(['committed', 'SERVICE_UNAVAILABLE']).toContain(outcome);
      // With the one connection leaked, these would wait for DB_CONNECT_TIMEOUT_MS and fail.
      for (let i = 0; i < 3; i++) await handle.db.execute(sql`SELECT 1`);
      expect(handle.pool!.totalCount).toBe(1);
    } finally {
      await handle.close();
    }
  });
});
