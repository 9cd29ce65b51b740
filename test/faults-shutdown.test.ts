// SIGTERM and SIGINT under load, through the real process (`npm start`): the gateway drains as
// proxies do (/ready 503 at once, still accepting and answering with `Connection: close` for
// SHUTDOWN_DRAIN_MS), then stops accepting, finishes every request in flight (none fails), closes
// the database and exits 0, well within the grace period. Keep-alive connections do not hold the
// exit up. The process also serves its metrics on METRICS_PORT here, which the shutdown closes as well.
// Embedded, the gateway opens a data folder migrated from the run's template: a first start is not
// what is tested here (test/server.test.ts tests it), and costs seconds of CPU.
import { rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { count } from 'drizzle-orm';
import { afterAll, expect, it } from 'vitest';
import { checkInvariants } from '../src/users/invariants.js';
import { openDatabase } from '../src/db/client.js';
import { users } from '../src/db/schema.js';
import { createMigratedDataDir, createTestDatabase, onPostgres, type TestDatabase } from './helpers/database.js';
import { freePort, graphql, httpCall, succeeded, waitFor, type Call } from './helpers/faults.js';
import { startGatewayProcess, type GatewayProcess } from './helpers/process.js';
import { machineLoadFactor } from './helpers/wait.js';

const KEY = 'faults-shutdown-owner-key-0123456789';
const SLOW_REQUESTS = 12;
/** Requests whose headers the gateway has taken (in flight) when the signal comes, and whose body follows it. */
const HELD_REQUESTS = 3;
/**
 * Long enough for the test to open connections inside it (the default is 3 s): 2 s on a quiet
 * machine, longer in proportion on one loaded with other work, read as each test starts.
 */
const drainMs = () => Math.round(2_000 * machineLoadFactor());
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
    const DRAIN_MS = drainMs();
    let env: Record<string, string>;
    let countUsers: () => Promise<number>;
    let testDatabase: TestDatabase | null = null;
    const dataDir = onPostgres ? null : await createMigratedDataDir('gateway-shutdown-');
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
    const gateway = await startGatewayProcess({
      ...env,
      ADMIN_API_KEY: KEY,
      LOG_LEVEL: 'info',
      METRICS_PORT: String(metricsPort),
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
    });
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
    // The load: createUser hashes its password with Argon2id (~16 ms of a core each), so a dozen
    // at once keep the gateway busy for a while. One more rides on the keep-alive connection.
    // Those may all be answered before the signal, hashing being that cheap; a few more are surely
    // in flight when it comes, whatever a hash costs: their headers are taken (the gateway answered
    // `100 Continue`, which Node writes as it hands the request to the app) and their body is sent
    // only after the signal, each on a keep-alive connection of its own (HTTP/1.1's default).
    const tag = `${signal.toLowerCase()}-${Date.now()}`;
    const held = await Promise.all(
      Array.from({ length: HELD_REQUESTS }, (_, i) =>
        heldRequest(gateway.baseUrl, JSON.stringify({ query: CREATE, variables: { email: `held${i}.${tag}@example.com` } })),
      ),
    );
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
    await waitFor(() => gateway.output().includes('"msg":"stopping'), 'the gateway to start stopping');
    const heldResponses = held.map((h) => h.finish());
    // The drain: still accepting, /ready says stopping, every answer closes its connection.
    const readyInDrain = await httpCall(`${gateway.baseUrl}/ready`, undefined);
    const liveInDrain = await fetch(`${gateway.baseUrl}/live`);
    const metricsInDrain = await httpCall(metricsUrl, undefined);
    // The listeners are closed in the same step that logs this line.
    await waitFor(() => gateway.output().includes('"msg":"drain over'), 'the drain to end', 3 * DRAIN_MS);
    const afterSignal = await httpCall(`${gateway.baseUrl}/live`, undefined);
    const metricsAfterSignal = await httpCall(metricsUrl, undefined);

    const results = await Promise.all(slow);
    const heldResults = await Promise.all(heldResponses);
    const keptAliveResponse = await keptAlive;
    const keptAliveBody = (await keptAliveResponse.json()) as any;
    const exit = await exited;
    const lines = logLines(gateway.output());
    const stopping = lines.find((l) => l.msg?.startsWith('stopping'));
    console.info(
      `${signal} (${onPostgres ? 'postgres' : 'embedded'}): ${stopping?.inFlight} requests in flight at the signal, ` +
        `exit ${exit.code} after ${exit.at - signalledAt} ms`,
    );

    expect(readyInDrain.status).toBe(503);
    expect(readyInDrain.body).toEqual({ status: 'stopping' });
    expect(liveInDrain.status).toBe(200);
    expect(liveInDrain.headers.get('connection')).toBe('close');
    expect(metricsInDrain.status).toBe(200);
    // Stopped accepting after the drain: a new connection is refused.
    expect(afterSignal.error).toBe('ECONNREFUSED');
    expect(metricsAfterSignal.error).toBe('ECONNREFUSED');
    // Every request in flight finished, successfully.
    expect(results.filter((c) => !succeeded(c) || c.body.data.createUser.__typename !== 'CreateUserSuccess')).toEqual([]);
    expect(keptAliveBody.data.createUser.__typename).toBe('CreateUserSuccess');
    // Each request in flight at the signal was told the connection closes with it, so keep-alive
    // does not hold the exit up. (The one on fetch's keep-alive connection may have been answered
    // before the signal, with keep-alive: that connection is then idle, as the one of /live.)
    for (const r of heldResults) {
      expect(r).toMatchObject({ status: 200, headers: { connection: 'close' } });
      expect(JSON.parse((r as RawResponse).body).data.createUser.__typename).toBe('CreateUserSuccess');
    }
    expect(stopping?.inFlight).toBeGreaterThanOrEqual(HELD_REQUESTS);
    // The database closed after the last request, then a clean exit within the grace period.
    const messages = lines.map((l) => l.msg);
    expect(messages.indexOf('database closed')).toBeGreaterThan(messages.indexOf(stopping?.msg));
    expect(lines.find((l) => l.msg === 'stopped')).toMatchObject({ exitCode: 0 });
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(DRAIN_MS + 10_000);
    // Nothing was lost: every user created is there.
    expect(await countUsers()).toBe(SLOW_REQUESTS + 1 + HELD_REQUESTS);
    if (testDatabase) expect(await checkInvariants(testDatabase.db)).toEqual([]);
  },
  60_000,
);

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads one whole HTTP/1.1 response from `buffer`, or null while it is incomplete. */
function parseResponse(buffer: Buffer): RawResponse | null {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...headerLines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const headers = Object.fromEntries(
    headerLines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  );
  const rest = buffer.subarray(end + 4);
  let body: Buffer;
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (rest.length < length) return null;
    body = rest.subarray(0, length);
  } else if (headers['transfer-encoding'] === 'chunked') {
    const chunks: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd < 0) return null;
      const size = parseInt(rest.subarray(at, lineEnd).toString(), 16);
      if (rest.length < lineEnd + 2 + size + 2) return null;
      if (size === 0) break;
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(chunks);
  } else {
    return null;
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: body.toString() };
}

/** A connection of its own, open and waiting: `send` writes one request on it and resolves with the whole response, or the socket error. */
async function openConnection(baseUrl: string): Promise<{ send(request: string): Promise<RawResponse | { error: string }> }> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    send(request) {
      const response = responseOn(socket);
      socket.write(request);
      return response;
    },
  };
}

const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n');

/**
 * The first whole response `socket` receives, or why none came; the socket is closed once it has
 * it. A `100 Continue` before it calls `continued`, when given.
 */
function responseOn(socket: Socket, continued?: () => void): Promise<RawResponse | { error: string }> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    socket.on('data', (data) => {
      received = Buffer.concat([received, data]);
      if (continued && received.subarray(0, CONTINUE.length).equals(CONTINUE)) {
        received = received.subarray(CONTINUE.length);
        continued();
      }
      const response = parseResponse(received);
      if (response) {
        resolve(response);
        socket.destroy();
      }
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    socket.once('close', () => resolve({ error: `closed after ${received.length} bytes, before a whole response` }));
  });
}

/**
 * A GraphQL POST on a connection of its own whose headers (with `Expect: 100-continue`) the gateway
 * has taken when this resolves: Node answers `100 Continue` in the same step as it hands the request
 * to the app, so the request is in flight. `finish` sends the body and resolves with the response.
 */
async function heldRequest(baseUrl: string, body: string): Promise<{ finish(): Promise<RawResponse | { error: string }> }> {
  const { host, hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  let continued: () => void;
  const gotContinue = new Promise<void>((resolve) => (continued = resolve));
  const response = responseOn(socket, () => continued());
  socket.write(
    `POST /graphql HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${KEY}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
  );
  await gotContinue;
  return {
    finish() {
      socket.write(body);
      return response;
    },
  };
}

const USERS_QUERY = JSON.stringify({ query: '{ users { totalCount } }' });
const usersRequest = (host: string) =>
  `POST /graphql HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${KEY}\r\n` +
  `Content-Length: ${Buffer.byteLength(USERS_QUERY)}\r\n\r\n${USERS_QUERY}`;

it(
  `answers every request whose bytes reached it before or during the drain, on fresh connections (${onPostgres ? 'PostgreSQL' : 'embedded'})`,
  async () => {
    const DRAIN_MS = drainMs();
    let env: Record<string, string>;
    if (onPostgres) {
      const testDatabase = await createTestDatabase();
      cleanups.push(() => testDatabase.close());
      env = { DATABASE_URL: testDatabase.url! };
    } else {
      const dataDir = await createMigratedDataDir('gateway-drain-');
      cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
      env = { DATA_DIR: dataDir };
    }
    const gateway = await startGatewayProcess({ ...env, ADMIN_API_KEY: KEY, LOG_LEVEL: 'info', SHUTDOWN_DRAIN_MS: String(DRAIN_MS) });
    gateways.push(gateway);
    const exited = new Promise<number | null>((resolve) => gateway.child.once('exit', (code) => resolve(code)));
    const host = new URL(gateway.baseUrl).host;

    // 30 fresh connections, then their requests on the wire and the signal right behind them: the
    // gateway has accepted the connections but parsed few or none of the requests when it comes.
    const early = await Promise.all(Array.from({ length: 30 }, () => openConnection(gateway.baseUrl)));
    const earlyResponses = early.map((c) => c.send(usersRequest(host)));
    gateway.child.kill('SIGTERM');

    // Connections opened during the drain, as from a balancer that has not yet seen /ready turn 503.
    await waitFor(() => gateway.output().includes('"msg":"stopping'), 'the gateway to start stopping');
    const ready = await httpCall(`${gateway.baseUrl}/ready`, undefined);
    const late = await Promise.all(Array.from({ length: 10 }, () => openConnection(gateway.baseUrl)));
    const lateResponses = late.map((c) => c.send(usersRequest(host)));

    const answers = await Promise.all([...earlyResponses, ...lateResponses]);
    const code = await exited;
    const lines = logLines(gateway.output());
    const failures = answers.filter((a) => 'error' in a || a.status !== 200);
    console.info(`drain (${onPostgres ? 'postgres' : 'embedded'}): ${answers.length - failures.length} of ${answers.length} answered 200; exit ${code}`);

    expect(ready.status).toBe(503);
    expect(failures).toEqual([]);
    for (const answer of answers as RawResponse[]) expect(JSON.parse(answer.body)).toEqual({ data: { users: { totalCount: 0 } } });
    // Answered during the drain: each tells its client the connection closes.
    for (const answer of (await Promise.all(lateResponses)) as RawResponse[]) expect(answer.headers.connection).toBe('close');
    expect(lines.find((l) => l.msg === 'stopped')).toMatchObject({ exitCode: 0 });
    expect(code).toBe(0);
  },
  60_000,
);
