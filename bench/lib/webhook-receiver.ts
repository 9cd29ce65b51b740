// `npm run bench -- --webhook`: a local receiver the gateway's one webhook endpoint points at, so a
// scenario's cost with an endpoint subscribed can be compared with its cost without one.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';

export interface BenchReceiver {
  url: string;
  /** What arrived since the last reset: POSTs, distinct `webhook-id`s, and how late (ms after the event's timestamp). */
  received(): { posts: number; distinct: number; latencyMs: number[] };
  reset(): void;
  close(): Promise<void>;
}

/** Answers every POST 204 at once, counting them (the signature is not checked: the tests do that). */
export async function startBenchReceiver(): Promise<BenchReceiver> {
  let posts = 0;
  let ids = new Set<string>();
  let latencyMs: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts += 1;
      ids.add(String(req.headers['webhook-id']));
      try {
        const { timestamp } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { timestamp: string };
        latencyMs.push(Date.now() - Date.parse(timestamp));
      } catch {
        // Not the gateway's body: counted, not timed.
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received: () => ({ posts, distinct: ids.size, latencyMs }),
    reset: () => {
      posts = 0;
      ids = new Set();
      latencyMs = [];
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
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
  receiver.reset();
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
