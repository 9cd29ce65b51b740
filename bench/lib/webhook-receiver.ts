// `npm run bench -- --webhook`: a local receiver the gateway's one webhook endpoint points at, so a
// scenario's cost with an endpoint subscribed can be compared with its cost without one.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';

export interface BenchReceiver {
  url: string;
  received(): number;
  close(): Promise<void>;
}

/** Answers every POST 204 at once, counting them (the signature is not checked: the tests do that). */
export async function startBenchReceiver(): Promise<BenchReceiver> {
  let count = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count += 1;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received: () => count,
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
