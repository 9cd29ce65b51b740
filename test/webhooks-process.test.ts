// Webhooks across processes: the gateway SIGKILLed while the receiver is down loses no committed
// event and sends none for a refused action once it is back (on PostgreSQL, and on the embedded
// database restarted on the same DATA_DIR); two instances on one PostgreSQL database deliver each
// event exactly once between them.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { openDatabase, type DatabaseHandle } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { startTestApp, graphql as gql } from './helpers/app.js';
import { createTestDatabase, migratedPgliteTemplate, onPostgres, type TestDatabase } from './helpers/database.js';
import { graphql } from './helpers/faults.js';
import { startGatewayProcess, type GatewayProcess } from './helpers/process.js';
import { seedUsers } from './helpers/seed.js';
import { waitFor } from './helpers/wait.js';
import { CREATE_ENDPOINT, startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';


const KEY = 'webhooks-process-owner-key-0123456789';
const CONFIRMED = 48;
const PENDING = 12;

const dataDir = onPostgres ? null : mkdtempSync(join(tmpdir(), 'gateway-webhooks-'));
let testDatabase: TestDatabase | null = null;
const gateways: GatewayProcess[] = [];
const receivers: WebhookReceiver[] = [];
afterAll(async () => {
  for (const g of gateways) if (g.child.exitCode === null && g.child.signalCode === null) await g.stop('SIGKILL');
  for (const r of receivers) await r.close();
  await testDatabase?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** A port nothing listens on now, for a receiver that is down (and comes back on it later). */
async function freePort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every success audit event of `action`, by id, read through the gateway's GraphQL API. */
async function successIds(baseUrl: string, action: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let after: string | null = null;
  for (;;) {
    const r = await graphql(
      baseUrl,
      'query ($a: String, $after: String) { auditEvents(action: $a, first: 500, after: $after) { edges { node { id outcome } } pageInfo { hasNextPage endCursor } } }',
      { a: action, after },
      { key: KEY },
    );
    const page = r.body.data.auditEvents;
    for (const e of page.edges) if (e.node.outcome === 'success') ids.add(e.node.id);
    if (!page.pageInfo.hasNextPage) return ids;
    after = page.pageInfo.endCursor;
  }
}

it(`a receiver down while the gateway is SIGKILLed gets every committed event after the restart, none for refused actions (${
  onPostgres ? 'PostgreSQL' : 'embedded, restarted on the same DATA_DIR'
})`, async () => {
  let seeding: DatabaseHandle;
  let env: Record<string, string>;
  if (onPostgres) {
    testDatabase = await createTestDatabase();
    seeding = testDatabase;
    env = { DATABASE_URL: testDatabase.url! };
  } else {
    // Loaded from the run's migrated template: no initdb, no migration to run.
    seeding = await openDatabase({ kind: 'embedded', dataDir, loadDataDir: await migratedPgliteTemplate() });
    await runMigrations(seeding);
    env = { DATA_DIR: dataDir! };
  }
  const confirmed = await seedUsers(seeding.db, CONFIRMED);
  const pending = await seedUsers(seeding.db, PENDING, { status: 'pending' });
  if (!onPostgres) await seeding.close();
  env = { ...env, ADMIN_API_KEY: KEY, WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_DELAYS_MS: Array(50).fill(1000).join(',') };

  const log = (m: string) => process.stderr.write(`[webhooks-process] ${new Date().toISOString()} ${m}\n`);
  const port = await freePort();
  const first = await startGatewayProcess(env, 150_000);
  gateways.push(first);
  log('first up');
  const created = await graphql(first.baseUrl, CREATE_ENDPOINT, { url: `http://127.0.0.1:${port}/hook`, events: ['user.disabled', 'user.deleted'] }, { key: KEY });
  const secret: string = created.body.data.createWebhookEndpoint.secret;
  expect(secret).toMatch(/^whsec_/);

  // Disables of confirmed users (committed), of pending users (refused: no event), and bulk deletes,
  // 8 at a time; the gateway is killed midway.
  const calls: { query: string; variables: Record<string, unknown> }[] = [];
  for (let i = 0; i < CONFIRMED; i++) {
    calls.push(
      i % 4 === 3
        ? { query: 'mutation ($ids: [ID!]!) { deleteUsers(ids: $ids) { doneCount } }', variables: { ids: [confirmed[i]!.id] } }
        : { query: 'mutation ($id: ID!) { disableUser(id: $id) { __typename } }', variables: { id: confirmed[i]!.id } },
    );
    if (i < PENDING) calls.push({ query: 'mutation ($id: ID!) { disableUser(id: $id) { __typename } }', variables: { id: pending[i]!.id } });
  }
  let next = 0;
  let answered = 0;
  let killed = false;
  const worker = async () => {
    while (!killed && next < calls.length) {
      const call = calls[next++]!;
      await graphql(first.baseUrl, call.query, call.variables, { key: KEY });
      if (++answered >= calls.length * 0.6 && !killed) {
        killed = true;
        first.child.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  await first.stop('SIGKILL');
  log(`killed after ${answered} answers`);
  expect(killed).toBe(true);

  // The receiver comes up, then the gateway again on the same data.
  const receiver = await startWebhookReceiver({ port, secret });
  receivers.push(receiver);
  const second = await startGatewayProcess(env, 150_000);
  gateways.push(second);
  log('restarted');
  const committed = new Set([...(await successIds(second.baseUrl, 'disableUser')), ...(await successIds(second.baseUrl, 'deleteUsers'))]);
  expect(committed.size).toBeGreaterThan(0);
  log(`committed ${committed.size}`);
  await waitFor(() => new Set(receiver.accepted().map((e) => e.data.auditEventId)).size >= committed.size, 'every committed event', 60_000);

  log('all received');
  const received = receiver.accepted();
  // None lost, none for an action that did not commit (a refused disable, a call cut by the kill).
  expect(new Set(received.map((e) => e.data.auditEventId))).toEqual(committed);
  const pendingIds = new Set(pending.map((u) => u.id));
  expect(received.filter((e) => pendingIds.has(e.data.userId))).toEqual([]);
  expect(receiver.rejected).toEqual([]);
  // No attempt reached the receiver before it was up, so each event came exactly once.
  expect(new Set(received.map((e) => e.id)).size).toBe(received.length);
  expect(received.length).toBe(committed.size);

  // And a clean stop (SIGTERM) stops the worker with the rest.
  expect(await second.stop('SIGTERM')).toBe(0);
}, 480_000);

it.skipIf(!onPostgres)('two instances on one PostgreSQL database deliver each event exactly once between them', async () => {
  const webhooks = { allowPrivate: true, retryDelaysMs: [100, 100, 100], pollIntervalMs: 20, batchSize: 5 };
  const a = await startTestApp({ app: { webhooks } });
  const logger = createLogger();
  const database = await openDatabase({ kind: 'postgres', url: a.database.url! });
  const b = createApp({ database, logger, webhooks });
  const byInstance = new Map<string, number>();
  try {
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    // A slow receiver: each instance has requests in flight while the other claims more.
    receiver.respond = async () => {
      await new Promise((r) => setTimeout(r, 10));
      return 200;
    };
    const created = await gql(a, CREATE_ENDPOINT, { url: receiver.url, events: ['user.disabled'] });
    receiver.secret = created.createWebhookEndpoint.secret;
    const users = await seedUsers(a.database.db, 300);
    const r = await gql(a, 'mutation ($ids: [ID!]!) { disableUsers(ids: $ids) { doneCount } }', { ids: users.map((u) => u.id) });
    expect(r.disableUsers.doneCount).toBe(300);
    await waitFor(() => receiver.accepted().length >= 300, '300 deliveries', 60_000);
    for (const e of receiver.accepted()) byInstance.set(e.id, (byInstance.get(e.id) ?? 0) + 1);
    expect(receiver.accepted()).toHaveLength(300);
    expect([...byInstance.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(receiver.accepted().map((e) => e.data.userId)).size).toBe(300);
    // The receiver has answered the last POST before its instance records the answer: wait for that.
    const recorded = async () =>
      (await database.pool!.query(`SELECT status, count(*)::int AS n, sum(attempts)::int AS attempts FROM webhook_deliveries GROUP BY status`)).rows;
    await waitFor(async () => (await recorded()).every((row) => row.status === 'delivered'), 'every delivery recorded', 30_000);
    expect(await recorded()).toEqual([{ status: 'delivered', n: 300, attempts: 300 }]);
  } finally {
    await b.stopBackgroundWork();
    await database.close();
    await a.close();
  }
}, 120_000);
