// `npm run bench -- --webhook`: a local receiver the gateway's one webhook endpoint points at, so a
// scenario's cost with an endpoint subscribed can be compared with its cost without one. It runs as
// a process of its own (bench/servers/webhook-receiver.ts), as an app's back end would.
import { spawn } from 'node:child_process';
import pg from 'pg';
import { freePort } from '../../test/helpers/faults.js';
import { projectRoot } from './servers.js';

export interface ReceiverStats {
  posts: number;
  distinct: number;
  latencyMs: number[];
}

export interface BenchReceiver {
  url: string;
  pid: number;
  /** What arrived since the last reset: POSTs, distinct `webhook-id`s, and how late (ms after the event's timestamp). */
  received(): Promise<ReceiverStats>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function startBenchReceiver(): Promise<BenchReceiver> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers/webhook-receiver.ts'], {
    cwd: projectRoot,
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  const stats = async () => (await (await fetch(`${base}/stats`)).json()) as ReceiverStats;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the webhook receiver exited with ${child.exitCode}`);
    if (await stats().then(() => true, () => false)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('the webhook receiver did not start within 30 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `${base}/hook`,
    pid: child.pid!,
    received: stats,
    reset: async () => {
      await fetch(`${base}/reset`, { method: 'POST' });
    },
    close: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Leaves the gateway with no webhook endpoint and an empty outbox (so runs with and without
 * --webhook start alike), then, with a receiver, subscribes one endpoint to every event.
 */
export async function setWebhookEndpoint(databaseUrl: string, gatewayUrl: string, adminKey: string, receiver: BenchReceiver | null) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('DELETE FROM webhook_endpoints');
    await client.query('TRUNCATE webhook_events CASCADE');
  } finally {
    await client.end();
  }
  if (!receiver) return;
  await receiver.reset();
  const res = await fetch(`${gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({
      query: `mutation ($url: String!) { createWebhookEndpoint(url: $url, events: ["user.created", "user.confirmed", "user.disabled", "user.enabled", "user.deleted", "user.sessions_revoked", "user.password_reset"]) { __typename } }`,
      variables: { url: receiver.url },
    }),
  });
  const body = (await res.json()) as { data?: { createWebhookEndpoint?: { __typename: string } } };
  if (body.data?.createWebhookEndpoint?.__typename !== 'CreateWebhookEndpointSuccess') {
    throw new Error(`--webhook: could not subscribe the endpoint: ${JSON.stringify(body)}`);
  }
}

export interface DeliveryCheck {
  events: number;
  delivered: number;
  pending: number;
  failed: number;
  /** How long the outbox took to drain after the load stopped. */
  drainSeconds: number;
}

/**
 * Waits (up to `timeoutMs`) until the gateway has no pending delivery, then counts the outbox:
 * every event of the run should have been delivered, and the receiver should have every id.
 */
export async function waitForDeliveries(databaseUrl: string, timeoutMs = 60_000): Promise<DeliveryCheck> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const started = Date.now();
  try {
    for (;;) {
      const { rows } = await client.query<{ events: string; delivered: string; pending: string; failed: string }>(`
        SELECT (SELECT count(*) FROM webhook_events) AS events,
               count(*) FILTER (WHERE status = 'delivered') AS delivered,
               count(*) FILTER (WHERE status = 'pending') AS pending,
               count(*) FILTER (WHERE status = 'failed') AS failed
        FROM webhook_deliveries`);
      const r = rows[0]!;
      const check = {
        events: Number(r.events),
        delivered: Number(r.delivered),
        pending: Number(r.pending),
        failed: Number(r.failed),
        drainSeconds: (Date.now() - started) / 1000,
      };
      if (check.pending === 0 || Date.now() - started > timeoutMs) return check;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await client.end();
  }
}
