// The operations surface: /live, /ready and /health; JSON logs with the request id on every line
// and every error; Prometheus metrics behind an admin key or on METRICS_PORT; migrations applied
// once when instances start together.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAdminKey, ensureStartupKey } from '../src/admin/keys.js';
import { createApp } from '../src/app.js';
import { openDatabase } from '../src/db/client.js';
import { migrationsFolder, runMigrations } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { createTestDatabase, onPostgres, type TestDatabase } from './helpers/database.js';
import { graphql, httpCall, metricValue } from './helpers/faults.js';
import { databaseUrl } from './helpers/global-setup.js';
import { startGatewayProcess, type GatewayProcess } from './helpers/process.js';
import { seedSessions, seedUsers } from './helpers/seed.js';

let database: TestDatabase;
let server: Server;
let baseUrl: string;
let key: string;
let stopping = false;
const logLines: Record<string, any>[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logLines.push(JSON.parse(line));
      done();
    },
  });
  const app = createApp({ database, logger: createLogger('debug', sink), isStopping: () => stopping });
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  key = (await createAdminKey(database.db, { name: 'operations-test', role: 'owner' })).secret;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await database?.close();
});

const get = (path: string, options: { key?: string } = {}) => httpCall(`${baseUrl}${path}`, undefined, options);

describe('health endpoints', () => {
  it('answers /live, /ready and /health while all is well', async () => {
    expect(await get('/live')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await get('/ready')).toMatchObject({ status: 200, body: { status: 'ready' } });
    expect(await get('/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('is not ready while a migration is missing, nor once stopping; live all along', async () => {
    const newest = (await database.db.execute(
      sql`DELETE FROM drizzle.__drizzle_migrations WHERE created_at = (SELECT max(created_at) FROM drizzle.__drizzle_migrations)
          RETURNING hash, created_at::text AS created_at`,
    )) as unknown as { rows: { hash: string; created_at: string }[] };
    try {
      expect(await get('/ready')).toMatchObject({ status: 503, body: { status: 'migrations pending', pendingMigrations: 1 } });
      expect((await get('/live')).status).toBe(200);
    } finally {
      const { hash, created_at } = newest.rows[0]!;
      await database.db.execute(sql`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${hash}, ${created_at}::bigint)`);
    }
    expect((await get('/ready')).status).toBe(200);

    stopping = true;
    try {
      expect(await get('/ready')).toMatchObject({ status: 503, body: { status: 'stopping' } });
      expect((await get('/live')).status).toBe(200);
    } finally {
      stopping = false;
    }
  });
});

describe('logs', () => {
  it('writes JSON lines with the request id on every line, and returns the id on every error', async () => {
    logLines.length = 0;
    const ok = await graphql(baseUrl, 'query OpsUsers { users(first: 1) { totalCount } }', {}, { key, requestId: 'ops-ok' });
    const invalid = await graphql(baseUrl, '{ nope }', {}, { key, requestId: 'ops-invalid' });
    const badInput = await graphql(baseUrl, '{ user(id: "not a uuid") { id } }', {}, { key, requestId: 'ops-bad-input' });
    const unauthenticated = await graphql(baseUrl, '{ users { totalCount } }', {}, { requestId: 'ops-401' });
    // A fault that is neither expected nor a database outage: a table gone missing under a user.
    await seedUsers(database.db, 1);
    await database.db.execute(sql`ALTER TABLE refresh_tokens RENAME TO refresh_tokens_away`);
    let bug;
    try {
      bug = await graphql(baseUrl, '{ users(first: 1) { edges { node { activeSessionCount } } } }', {}, { key, requestId: 'ops-bug' });
    } finally {
      await database.db.execute(sql`ALTER TABLE refresh_tokens_away RENAME TO refresh_tokens`);
    }

    expect(ok.status).toBe(200);
    expect(ok.headers['x-request-id']).toBe('ops-ok');
    for (const [call, id] of [
      [invalid, 'ops-invalid'],
      [badInput, 'ops-bad-input'],
      [unauthenticated, 'ops-401'],
      [bug, 'ops-bug'],
    ] as const) {
      expect(call.body.errors?.length, `${id}: ${JSON.stringify(call.body)}`).toBeGreaterThan(0);
      for (const error of call.body.errors) expect(error.extensions.requestId).toBe(id);
    }
    expect(bug.body.errors[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(JSON.stringify(bug.body)).not.toMatch(/refresh_tokens|relation|SELECT/i);

    // Every line written while these requests ran carries the id of its request.
    expect(logLines.length).toBeGreaterThan(4);
    expect(logLines.filter((l) => typeof l.requestId !== 'string')).toEqual([]);
    const access = logLines.find((l) => l.requestId === 'ops-ok' && l.msg === 'request');
    expect(access).toMatchObject({ level: 30, method: 'POST', path: '/graphql', status: 200 });
    expect(typeof access!.ms).toBe('number');
    expect(typeof access!.time).toBe('string');
    // The unexpected error is logged in full, under its request's id; the client saw none of it.
    const logged = logLines.find((l) => l.requestId === 'ops-bug' && l.level === 50);
    expect(logged?.err?.message ?? logged?.err?.cause?.message).toMatch(/refresh_tokens/);
  });
});

describe('metrics', () => {
  const scrape = async () => {
    const res = await get('/metrics', { key });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.body as string;
  };

  it('needs an admin key on the main port', async () => {
    const res = await get('/metrics');
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error_code: 'Unauthorized' });
  });

  it('counts operations by name and outcome with their latency, revoked sessions, and shows the pool', async () => {
    const before = await scrape();
    const labels = { operation: 'OpsCount', type: 'query', outcome: 'success' };
    for (let i = 0; i < 3; i++) await graphql(baseUrl, 'query OpsCount { users(first: 1) { totalCount } }', {}, { key });
    await graphql(baseUrl, 'query OpsFail { user(id: "bad!") { id } }', {}, { key });
    const [a, b] = await seedUsers(database.db, 2);
    await seedSessions(database.db, a!.id, { live: 2 });
    await seedSessions(database.db, b!.id, { live: 1 });
    const revoke = await graphql(baseUrl, `mutation { revokeUserSessions(id: "${a!.id}") { __typename } }`, {}, { key });
    const disable = await graphql(baseUrl, `mutation { disableUser(id: "${b!.id}") { __typename } }`, {}, { key });
    expect([revoke.body.data.revokeUserSessions.__typename, disable.body.data.disableUser.__typename]).toEqual([
      'RevokeUserSessionsSuccess',
      'DisableUserSuccess',
    ]);
    const loginUrl = `${baseUrl}/api/client/v2.0/app/app-users-gateway/auth/providers/local-userpass/login`;
    const login = await httpCall(loginUrl, { username: 'nobody@example.com', password: 'wrong-password' });
    expect(login.status).toBe(401);
    const after = await scrape();

    const delta = (name: string, l: Record<string, string> = {}) => metricValue(after, name, l) - metricValue(before, name, l);
    expect(delta('gateway_logins_failed_total', { provider: 'local-userpass', reason: 'unknown email' })).toBe(1);
    expect(delta('gateway_graphql_operations_total', labels)).toBe(3);
    expect(delta('gateway_graphql_operation_duration_seconds_count', labels)).toBe(3);
    expect(delta('gateway_graphql_operations_total', { operation: 'OpsFail', type: 'query', outcome: 'error' })).toBe(1);
    expect(delta('gateway_graphql_errors_total', { operation: 'OpsFail', code: 'BAD_USER_INPUT' })).toBe(1);
    expect(delta('gateway_sessions_revoked_total', { reason: 'admin_revoked' })).toBe(2);
    expect(delta('gateway_sessions_revoked_total', { reason: 'user_disabled' })).toBe(1);
    expect(delta('gateway_http_requests_total', { route: 'graphql', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(6);
    expect(after).toMatch(/^# TYPE gateway_logins_failed_total counter$/m);
    expect(after).toMatch(/^process_cpu_user_seconds_total /m);
    if (onPostgres) {
      expect(metricValue(after, 'gateway_db_pool_connections')).toBeGreaterThan(0);
      expect(metricValue(after, 'gateway_db_pool_max_connections')).toBe(10);
      expect(after).toMatch(/^gateway_db_pool_waiting_requests 0$/m);
    }
  });

  // The real process with METRICS_PORT is in faults-shutdown.test.ts.
  it('is not on the main port when METRICS_PORT serves it', async () => {
    const app = createApp({ database, logger: createLogger('silent'), metricsRoute: false });
    const res = await app.fetch(new Request('http://gateway/metrics', { headers: { authorization: `Bearer ${key}` } }));
    expect(res.status).toBe(404);
  });
});

describe.runIf(onPostgres)('several instances starting together on one database', () => {
  const adminUrl = process.env.TEST_DATABASE_URL!;
  const shipped = readMigrationFiles({ migrationsFolder });
  const emptyDatabase = async () => {
    // Named after the run's template, so the run's teardown drops it whatever happens here.
    const name = `${inject('pgTemplate')}_empty_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    return databaseUrl(adminUrl, name);
  };
  const applied = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<{ hash: string }>('SELECT hash FROM drizzle.__drizzle_migrations')).rows.map((r) => r.hash);
    } finally {
      await client.end();
    }
  };

  it('applies each migration once when several migrate at the same moment', async () => {
    const url = await emptyDatabase();
    const handles = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ kind: 'postgres', url })));
    try {
      await Promise.all(handles.map((h) => runMigrations(h)));
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
    expect((await applied(url)).sort()).toEqual(shipped.map((m) => m.hash).sort());
  });

  it('creates the ADMIN_API_KEY once, and none of them fails for it', async () => {
    const url = await emptyDatabase();
    const handles = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ kind: 'postgres', url })));
    try {
      await runMigrations(handles[0]!);
      // Warm pools, so that the four look-ups run before any insert.
      await Promise.all(handles.map((h) => h.db.execute(sql`SELECT 1`)));
      const outcomes = await Promise.allSettled(handles.map((h) => ensureStartupKey(h.db, 'together-key-0123456789')));
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
      const keys = (await handles[0]!.db.execute(sql`SELECT count(*)::int AS n FROM admin_keys`)) as unknown as { rows: { n: number }[] };
      expect(keys.rows[0]!.n).toBe(1);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  });

  const keyRows = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<{ name: string; role: string }>('SELECT name, role FROM admin_keys')).rows;
    } finally {
      await client.end();
    }
  };

  it('generates one owner key when four first starts look for one at the same moment', async () => {
    const url = await emptyDatabase();
    const handles = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ kind: 'postgres', url })));
    try {
      await runMigrations(handles[0]!);
      await Promise.all(handles.map((h) => h.db.execute(sql`SELECT 1`)));
      const outcomes = await Promise.all(handles.map((h) => ensureStartupKey(h.db, null)));
      expect(outcomes.filter((o) => o.kind === 'generated')).toHaveLength(1);
      expect(outcomes.filter((o) => o.kind === 'existing')).toHaveLength(3);
      expect(await keyRows(url)).toEqual([{ name: 'first-start', role: 'owner' }]);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  });

  it('generates and prints exactly one owner key when two first starts without ADMIN_API_KEY run at once', async () => {
    const url = await emptyDatabase();
    const started = await Promise.allSettled(
      Array.from({ length: 2 }, () => startGatewayProcess({ DATABASE_URL: url, ADMIN_API_KEY: '' })),
    );
    const gateways = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      expect(started.filter((s) => s.status === 'rejected')).toEqual([]);
      const printed = gateways.flatMap((g) => [...g.output().matchAll(/shown only this once; keep it:\s+(agk_\S+)/g)].map((m) => m[1]!));
      expect(printed).toHaveLength(1);
      expect(await keyRows(url)).toEqual([{ name: 'first-start', role: 'owner' }]);
      // The printed key is the one stored: it opens the API of both instances.
      for (const g of gateways) {
        expect(await graphql(g.baseUrl, '{ users { totalCount } }', {}, { key: printed[0]! })).toMatchObject({ status: 200 });
      }
    } finally {
      await Promise.all(gateways.map((g: GatewayProcess) => g.stop('SIGTERM')));
    }
  }, 90_000);

  it('starts three gateway processes at once on one empty database: all ready, migrations applied once', async () => {
    const url = await emptyDatabase();
    const started = await Promise.allSettled(
      Array.from({ length: 3 }, () => startGatewayProcess({ DATABASE_URL: url, ADMIN_API_KEY: 'instances-key-0123456789' })),
    );
    const gateways = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      expect(started.filter((s) => s.status === 'rejected')).toEqual([]);
      for (const g of gateways) expect(await httpCall(`${g.baseUrl}/ready`, undefined)).toMatchObject({ status: 200 });
      expect((await applied(url)).sort()).toEqual(shipped.map((m) => m.hash).sort());
    } finally {
      const codes = await Promise.all(gateways.map((g: GatewayProcess) => g.stop('SIGTERM')));
      expect(codes).toEqual(gateways.map(() => 0));
    }
  }, 90_000);
});
