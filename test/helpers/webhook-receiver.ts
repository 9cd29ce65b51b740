// A real webhook receiver for the tests: a node:http server on 127.0.0.1 that checks every request
// with standardwebhooks' own verifier, as an app's back end would, and keeps what it accepted.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedEvent {
  /** The `webhook-id` header: the event's id. */
  id: string;
  type: string;
  timestamp: string;
  data: Record<string, any>;
  headers: IncomingHttpHeaders;
  /** The status this receiver answered. */
  answered: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  /** Set to the endpoint's `whsec_…` secret once it is created; requests before that are refused. */
  secret: string | null;
  /** Every request whose signature verified, in arrival order (answered 2xx or not). */
  received: ReceivedEvent[];
  /** The ones answered 2xx. */
  accepted(): ReceivedEvent[];
  /** Requests whose signature did not verify (or that came before the secret was known). */
  rejected: { headers: IncomingHttpHeaders; body: string; reason: string }[];
  /** What to answer a verified request; 200 by default. May wait (a slow receiver). */
  respond: (event: ReceivedEvent) => number | Promise<number>;
  /** TCP connections the gateway opened to this receiver so far. */
  connections(): number;
  /** Those of them still open. */
  openConnections(): number;
  close(): Promise<void>;
}

/**
 * Starts a receiver at `path` on an ephemeral port, or on `port` when given (to bring one back up).
 * `keepAliveTimeoutMs`: how long it keeps an idle connection open (node's default otherwise).
 */
export async function startWebhookReceiver(
  options: { port?: number; path?: string; secret?: string; keepAliveTimeoutMs?: number } = {},
): Promise<WebhookReceiver> {
  const path = options.path ?? '/hook';
  let connections = 0;
  let open = 0;
  const receiver: WebhookReceiver = {
    url: '',
    port: 0,
    secret: options.secret ?? null,
    received: [],
    rejected: [],
    accepted: () => receiver.received.filter((e) => e.answered >= 200 && e.answered < 300),
    respond: () => 200,
    connections: () => connections,
    openConnections: () => open,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.method !== 'POST' || req.url !== path || !receiver.secret) {
        receiver.rejected.push({ headers: req.headers, body, reason: `${req.method} ${req.url}, secret known: ${!!receiver.secret}` });
        res.writeHead(400).end();
        return;
      }
      let payload: any;
      try {
        payload = new Webhook(receiver.secret).verify(body, req.headers as Record<string, string>);
      } catch (err) {
        receiver.rejected.push({ headers: req.headers, body, reason: (err as Error).message });
        res.writeHead(400).end();
        return;
      }
      const event: ReceivedEvent = {
        id: String(req.headers['webhook-id']),
        type: payload.type,
        timestamp: payload.timestamp,
        data: payload.data,
        headers: req.headers,
        answered: 0,
      };
      receiver.received.push(event);
      event.answered = await receiver.respond(event);
      res.writeHead(event.answered, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs;
  server.on('connection', (socket) => {
    connections += 1;
    open += 1;
    socket.on('close', () => (open -= 1));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}${path}`;
  return receiver;
}

/** createWebhookEndpoint with every member of its result. */
export const CREATE_ENDPOINT = `mutation Create($url: String!, $events: [String!]!, $description: String) {
  createWebhookEndpoint(url: $url, events: $events, description: $description) {
    __typename
    ... on CreateWebhookEndpointSuccess { secret endpoint { id url events enabled description } }
    ... on WebhookUrlRefusedError { url message }
    ... on InvalidInputError { field message }
  }
}`;
