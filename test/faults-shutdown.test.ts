// SIGTERM and SIGINT under load, through the real process (`npm start`): the gateway stops
// accepting connections, finishes every request in flight (none fails), closes the database and
// exits 0, well within the 10 s grace period. Keep-alive connections do not hold the exit up.
// The process also serves its metrics on METRICS_PORT here, which the shutdown closes as well.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { count } from 'drizzle-orm';
import { afterAll, expect, it } from 'vitest';
import { checkInvariants } from '../src/users/invariants.js';
import { openDatabase } from '../src/db/client.js';
import { users } from '../src/db/schema.js';
import { createTestDatabase, onPostgres, type TestDatabase } from './helpers/database.js';
import { freePort, graphql, httpCall, succeeded, waitFor, type Call } from './helpers/faults.js';
import { startGatewayProcess, type GatewayProcess } from './helpers/process.js';

const KEY = 'faults-shutdown-owner-key-0123456789';
const SLOW_REQUESTS = 12;
const CREATE = `mutation Create($email: String!) {
  createUser(email: $email, password: "secret-password") { __typename }
}`;

const cleanups: (() => Promise<void>)[] = [];
const gateways: GatewayProcess[] = [];
afterAll(async () => {
  for (const g of gateways) if (g.child.exitCode === null && g.child.signalCode === null) await g.stop('SIGKILL');
  for (const cleanup of cleanups) await cleanup();
});

function logLines(output: string): Record<string, any>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

it.each(['SIGTERM', 'SIGINT'] as const)(
  `on %s under load: stops accepting, finishes the requests in flight, closes the database, exits 0 (${onPostgres ? 'PostgreSQL' : 'embedded'})`,
  async (signal) => {
    let env: Record<string, string>;
    let countUsers: () => Promise<number>;
    let testDatabase: TestDatabase | null = null;
    const dataDir = onPostgres ? null : mkdtempSync(join(tmpdir(), 'gateway-shutdown-'));
    if (onPostgres) {
      testDatabase = await createTestDatabase();
      cleanups.push(() => testDatabase!.close());
      env = { DATABASE_URL: testDatabase.url! };
      countUsers = async () => (await testDatabase!.db.select({ n: count() }).from(users))[0]!.n;
    } else {
      cleanups.push(async () => rmSync(dataDir!, { recursive: true, force: true }));
      env = { DATA_DIR: dataDir! };
      countUsers = async () => {
        const handle = await openDatabase({ kind: 'embedded', dataDir });
        try {
          expect(await checkInvariants(handle.db)).toEqual([]);
          return (await handle.db.select({ n: count() }).from(users))[0]!.n;
        } finally {
          await handle.close();
        }
      };
    }
    // Metrics on a port of their own: served there without a key, gone from the main port, and
    // closed by the shutdown too.
    const metricsPort = await freePort();
    const gateway = await startGatewayProcess({ ...env, ADMIN_API_KEY: KEY, LOG_LEVEL: 'info', METRICS_PORT: String(metricsPort) });
    gateways.push(gateway);
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const metrics = await httpCall(metricsUrl, undefined);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^# TYPE gateway_http_requests_total counter$/m);
    expect((await httpCall(`${gateway.baseUrl}/metrics`, undefined, { key: KEY })).status).toBe(404);
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      gateway.child.once('exit', (code) => resolve({ code, at: Date.now() })),
    );

    // A keep-alive connection (fetch keeps its connections open), idle when the signal comes.
    expect((await fetch(`${gateway.baseUrl}/live`)).status).toBe(200);
    // The load: createUser hashes its password with scrypt (~100 ms of a core each), so a dozen
    // at once keep the gateway busy for a while. One more rides on the keep-alive connection.
    const tag = `${signal.toLowerCase()}-${Date.now()}`;
    const slow: Promise<Call>[] = Array.from({ length: SLOW_REQUESTS }, (_, i) =>
      graphql(gateway.baseUrl, CREATE, { email: `load${i}.${tag}@example.com` }, { key: KEY }),
    );
    const keptAlive = fetch(`${gateway.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ query: CREATE, variables: { email: `keepalive.${tag}@example.com` } }),
    });
    // Answered only after every connection opened before it was accepted (connections are
    // accepted in order), so the slow requests are the server's when the signal comes.
    expect((await httpCall(`${gateway.baseUrl}/live`, undefined)).status).toBe(200);

    const signalledAt = Date.now();
    gateway.child.kill(signal);
    // The listeners are closed in the same step that logs this line.
    await waitFor(() => gateway.output().includes('"msg":"stopping'), 'the gateway to start stopping');
    const afterSignal = await httpCall(`${gateway.baseUrl}/live`, undefined);
    const metricsAfterSignal = await httpCall(metricsUrl, undefined);

    const results = await Promise.all(slow);
    const keptAliveResponse = await keptAlive;
    const keptAliveBody = (await keptAliveResponse.json()) as any;
    const exit = await exited;
    const lines = logLines(gateway.output());
    const stopping = lines.find((l) => l.msg?.startsWith('stopping'));
    console.info(
      `${signal} (${onPostgres ? 'postgres' : 'embedded'}): ${stopping?.inFlight} requests in flight at the signal, ` +
        `exit ${exit.code} after ${exit.at - signalledAt} ms`,
    );

    // Stopped accepting: a new connection after the signal is refused.
    expect(afterSignal.error).toBe('ECONNREFUSED');
    expect(metricsAfterSignal.error).toBe('ECONNREFUSED');
    // Every request in flight finished, successfully.
    expect(results.filter((c) => !succeeded(c) || c.body.data.createUser.__typename !== 'CreateUserSuccess')).toEqual([]);
    expect(keptAliveBody.data.createUser.__typename).toBe('CreateUserSuccess');
    // …and was told the connection closes with it, so keep-alive does not hold the exit up.
    expect(keptAliveResponse.headers.get('connection')).toBe('close');
    expect(stopping?.inFlight).toBeGreaterThan(0);
    // The database closed after the last request, then a clean exit within the grace period.
    const messages = lines.map((l) => l.msg);
    expect(messages.indexOf('database closed')).toBeGreaterThan(messages.indexOf(stopping?.msg));
    expect(lines.find((l) => l.msg === 'stopped')).toMatchObject({ exitCode: 0 });
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(10_000);
    // Nothing was lost: every user created is there.
    expect(await countUsers()).toBe(SLOW_REQUESTS + 1);
    if (testDatabase) expect(await checkInvariants(testDatabase.db)).toEqual([]);
  },
  60_000,
);
