// The composition root: createApp(deps) wires the modules of src/http/ into the gateway's one
// Node request listener (and fetch handler), used by src/server.ts and by the tests alike.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServerAdapter } from '@whatwg-node/server';
import { CachedAdminKeys } from './admin/key-cache.js';
import type { RevocationFeed } from './changefeed/feed.js';
import type { TrustProxy } from './client-address.js';
import { passwordHashing } from './limits/password-hashing.js';
import type { MailTemplates } from './mail/templates.js';
import { createAuthDeps } from './signin/deps.js';
import { CachedSessionStates } from './tokens/session-cache.js';
import { databaseSessionStates } from './tokens/verify.js';
import type { AuthSettings } from './config.js';
import { createConsoleHandler } from './console/serve.js';
import type { DatabaseHandle } from './db/client.js';
import { createAdminKeyAuth } from './http/admin-key-auth.js';
import { createClientApi } from './http/client-api.js';
import { createDirectRoutes } from './http/direct.js';
import { createGraphQLSurface } from './http/graphql.js';
import { createDirectGraphQL } from './http/graphql-direct.js';
import { createMetricsRoute } from './http/metrics-route.js';
import { createProbes } from './http/probes.js';
import { inRequestScope, type NodeServerContext } from './http/request-scope.js';
import { createRouter } from './http/router.js';
import { createWellKnown } from './http/well-known.js';
import { createLimiters, PostgresAttemptStore, type RateLimits } from './limits/index.js';
import type { LinkedTable } from './linked-data/index.js';
import type { Logger } from './logger.js';
import * as metrics from './metrics.js';
import { defaultWebhookSettings, type WebhookSettings } from './webhooks/settings.js';
import { WebhookWorker } from './webhooks/worker.js';

export interface AppDeps {
  database: DatabaseHandle;
  logger: Logger;
  /** Development mode: field suggestions and friendlier errors. Never leaks internal errors. */
  production?: boolean;
  /** The sign-in API's settings (APP_ID, PUBLIC_URL, AUTO_CONFIRM, …); unset ones take their defaults. */
  auth?: Partial<AuthSettings>;
  /**
   * What each kind of mail says (MAIL_TEMPLATES_DIR); the defaults of src/mail/templates.ts unless
   * given. Mail is written to mail_outbox; the delivery worker (src/mail/delivery-worker.ts, started
   * beside the app by the server) sends it.
   */
  mailTemplates?: MailTemplates;
  /** The app's own tables that point at users, checked against the catalog (see src/linked-data); none by default. */
  linkedData?: readonly LinkedTable[];
  /** Limits on failed admin-key checks and logins; unset ones take the defaults of src/limits. */
  limits?: Partial<RateLimits>;
  /** Serve GraphiQL to browsers at GET /graphql (GRAPHIQL); on unless false. */
  graphiql?: boolean;
  /**
   * Which proxies may name the client in X-Forwarded-For (TRUST_PROXY, see src/client-address.ts);
   * `true` is one proxy. None by default: the TCP peer is the client.
   */
  trustProxy?: boolean | TrustProxy;
  /** Origins whose pages may call /graphql (CORS_ORIGINS); `['*']` any, without credentials; none by default. */
  corsOrigins?: readonly string[];
  /** The clock of the rate limits, in milliseconds; tests pass their own. */
  now?: () => number;
  /**
   * Notifications of revoked sessions, disabled or deleted users and revoked admin keys: with them,
   * token and admin-key checks are answered from per-instance caches kept exact by src/changefeed/;
   * without, every check reads the database.
   */
  revocations?: RevocationFeed;
  /**
   * Webhooks (src/webhooks/): URL rules, secret encryption, and the delivery worker's timing; unset
   * ones take their defaults. The worker runs in every app unless `worker: false`.
   */
  webhooks?: Partial<WebhookSettings>;
}

/** The operations side of the app: where /metrics is served, and whether the server is stopping. */
export interface OperationsDeps {
  /** Serve GET /metrics on this app, behind an admin key (default); false when METRICS_PORT serves it. */
  metricsRoute?: boolean;
  /** True once a shutdown has begun: /ready answers 503 so balancers stop sending requests. */
  isStopping?: () => boolean;
}

/** The whole HTTP surface of the gateway, as one Node request listener: used by the server and by tests alike. */
export function createApp(deps: AppDeps & OperationsDeps) {
  const { database, logger } = deps;
  const db = database.db;
  const sessions = deps.revocations ? new CachedSessionStates(databaseSessionStates(db), deps.revocations) : undefined;
  const adminKeys = deps.revocations ? new CachedAdminKeys(db, deps.revocations) : null;
  const auth = createAuthDeps({ db, logger, settings: deps.auth, mailTemplates: deps.mailTemplates, sessions, revocations: deps.revocations });
  // On a PostgreSQL server the limits' counters are shared by every instance and outlive restarts;
  // the embedded database serves one process, which keeps them in memory.
  const attemptStore = database.kind === 'postgres' ? new PostgresAttemptStore(db, deps.now) : undefined;
  const limiters = createLimiters(deps.limits, deps.now, attemptStore);
  passwordHashing.configure(limiters.passwordHashing);
  const authenticate = createAdminKeyAuth({ db, adminKeys, limiter: limiters.adminKey, logger });
  const webhooks: WebhookSettings = { ...defaultWebhookSettings, ...deps.webhooks };
  // The worker's statements run on connections of their own: never one a request waits for.
  const webhookPool = webhooks.worker ? database.openSidePool(webhooks.poolSize, 'webhooks') : null;
  const webhookWorker = webhookPool ? new WebhookWorker(webhookPool.db, webhooks, logger) : null;

  const clientApi = createClientApi(auth, limiters, authenticate, deps.linkedData ?? []);
  const graphql = createGraphQLSurface({
    db,
    logger,
    production: deps.production,
    auth,
    linkedData: deps.linkedData ?? [],
    webhooks: { allowPrivate: webhooks.allowPrivate, secretKey: webhooks.secretKey },
    authenticate,
    corsOrigins: deps.corsOrigins ?? [],
    graphiql: deps.graphiql,
  });
  const router = createRouter(
    {
      graphql,
      clientApi,
      probes: createProbes(database, deps.isStopping),
      metrics: createMetricsRoute(deps.metricsRoute !== false, authenticate),
      console: createConsoleHandler(),
      wellKnown: createWellKnown(auth.keys, auth.settings.publicUrl),
    },
    logger,
  );

  if (database.pool) metrics.observePool(database.pool);
  webhookWorker?.start();
  const adapter = createServerAdapter<NodeServerContext>(inRequestScope(logger, deps.trustProxy, router));
  const direct = createDirectRoutes({ clientApi, logger, trustProxy: deps.trustProxy });
  const directGraphQL = createDirectGraphQL({ surface: graphql.direct, logger, trustProxy: deps.trustProxy });
  /**
   * Node's request listener: the direct path's routes (src/http/direct.ts) and the common GraphQL
   * request (src/http/graphql-direct.ts) on Node's own objects, the rest through the adapter.
   */
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (!direct(req, res) && !directGraphQL(req, res)) void adapter(req, res);
  };
  return Object.assign(listener, {
    /** The app as a fetch handler, without a server (every route through the Fetch-API path). */
    fetch: adapter.fetch,
    /** Stops this instance's background work (the webhook worker); call before closing the database. */
    stopBackgroundWork: async () => {
      await webhookWorker?.stop();
      await webhookPool?.close();
    },
  });
}

export type App = ReturnType<typeof createApp>;
