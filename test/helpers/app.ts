import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLClient } from 'graphql-request';
import { createAdminKey } from '../../src/admin/keys.js';
import { createApp, type App, type AppDeps } from '../../src/app.js';
import { startRevocationFeed } from '../../src/changefeed/feed.js';
import type { DatabaseOptions } from '../../src/db/client.js';
import type { AdminRole } from '../../src/db/schema.js';
import { checkLinkedData, parseDeclarations } from '../../src/linked-data/index.js';
import { createHttpServer, type HttpServerSettings } from '../../src/http-server.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { startMailDelivery, type MailDelivery, type MailDeliveryOptions } from '../../src/mail/delivery-worker.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface TestApp {
  /** The production app, listening on a real port of 127.0.0.1. */
  app: App;
  baseUrl: string;
  graphqlUrl: string;
  database: TestDatabase;
  /** An owner key's secret. */
  adminKey: string;
  /** A GraphQL client that sends the owner key. */
  client: GraphQLClient;
  clientWithKey(secret: string): GraphQLClient;
  createKey(role: AdminRole, name?: string): Promise<string>;
  /** The mail delivery worker, when `mail.delivery` was given. */
  mailDelivery: MailDelivery | null;
  close(): Promise<void>;
}

/** The app as production builds it, on a fresh database, served over real HTTP. */
export async function startTestApp(
  options: {
    database?: DatabaseOptions;
    /** A database of the test's own to serve instead of a fresh one (closed with the app). */
    existingDatabase?: TestDatabase;
    auth?: AppDeps['auth'];
    /** Mail templates (MAIL_TEMPLATES_DIR's), and a delivery worker to start beside the app as the server does (none unless given). */
    mail?: { templates?: AppDeps['mailTemplates']; delivery?: Omit<MailDeliveryOptions, 'from'> & { from?: string } };
    /** Runs on the fresh database before the app is built, e.g. to create the app's own tables. */
    prepare?: (database: TestDatabase) => Promise<void>;
    /** LINKED_DATA_FILE's entries, checked against the database as the server checks the file. */
    linkedData?: unknown[];
    /** Where the app logs (by default nowhere under tests). */
    logger?: Logger;
    /** Other options of createApp, such as limits and the clock of the rate limits. */
    app?: Partial<Omit<AppDeps, 'database' | 'logger'>>;
    /** The HTTP server's connection cap and timeouts; production's defaults unless given. */
    http?: Partial<HttpServerSettings>;
  } = {},
): Promise<TestApp> {
  const database = options.existingDatabase ?? (await createTestDatabase(options.database));
  await options.prepare?.(database);
  const linkedData = options.linkedData
    ? await checkLinkedData(database.db, parseDeclarations(options.linkedData, 'linkedData'), 'linkedData')
    : undefined;
  const logger = options.logger ?? createLogger();
  // As the server does: token and admin-key checks go through the per-instance caches.
  const revocations = options.app?.revocations ?? startRevocationFeed(database, logger);
  // The port is known once listening, and PUBLIC_URL (the origin of /location and of mailed links)
  // is this server's address unless the test sets its own: so the app is made after listen.
  // The server is the very one production runs (src/http-server.ts), with its limits.
  let app: App | undefined;
  const server: Server = createHttpServer((req, res) => app!(req, res), options.http);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  app = createApp({
    ...options.app,
    database,
    logger,
    auth: { publicUrl: baseUrl, ...options.auth },
    mailTemplates: options.mail?.templates,
    linkedData,
    revocations,
    // The webhook worker's own statements would be counted too: off where statements are counted.
    webhooks: { ...(options.database?.onQuery ? { worker: false } : {}), ...options.app?.webhooks },
  });
  const mailDelivery = options.mail?.delivery
    ? startMailDelivery(database, logger, { from: 'App Users <no-reply@example.test>', ...options.mail.delivery })
    : null;
  const graphqlUrl = `${baseUrl}/graphql`;
  const createKey = async (role: AdminRole, name = `test-${role}`) =>
    (await createAdminKey(database.db, { name, role })).secret;
  const adminKey = await createKey('owner');
  const clientWithKey = (secret: string) =>
    new GraphQLClient(graphqlUrl, { headers: { authorization: `Bearer ${secret}` } });
  return {
    app,
    baseUrl,
    graphqlUrl,
    database,
    adminKey,
    client: clientWithKey(adminKey),
    clientWithKey,
    createKey,
    mailDelivery,
    async close() {
      await mailDelivery?.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app!.stopBackgroundWork();
      await revocations.close();
      await database.close();
    },
  };
}

/** A raw POST of a GraphQL request, for checking HTTP statuses and error bodies. */
export async function postGraphQL(
  t: TestApp,
  body: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${t.adminKey}` },
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(t.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers };
}

/** A GraphQL request over real HTTP as the owner key, or as `key`; resolves to the data, rejects with
 * graphql-request's ClientError (its `response` holds the errors and status) when there are errors. */
export function graphql<T = any>(
  t: TestApp,
  query: string,
  variables: Record<string, unknown> = {},
  { key }: { key?: string } = {},
): Promise<T> {
  return (key === undefined ? t.client : t.clientWithKey(key)).request<T>(query, variables);
}
