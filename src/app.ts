import { randomUUID } from 'node:crypto';
import { createServerAdapter } from '@whatwg-node/server';
import { GraphQLError } from 'graphql';
import { createYoga, shouldRenderGraphiQL, type Plugin } from 'graphql-yoga';
import { findActiveKeyBySecret, touchAdminKey } from './admin/keys.js';
import { createAuthDeps, publicUrlFor } from './signin/deps.js';
import { CachedAdminKeys } from './admin/key-cache.js';
import { CachedSessionStates } from './tokens/session-cache.js';
import type { RevocationFeed } from './changefeed/feed.js';
import { databaseSessionStates } from './tokens/verify.js';
import type { Mailer } from './mail/mailer.js';
import { CLIENT_API_PREFIX, createClientApi, INTROSPECTION_PATH } from './auth/routes.js';
import { NO_PROXY, pickClientAddress, type TrustProxy } from './client-address.js';
import type { AuthSettings } from './config.js';
import { createGraphiQL, isGraphiQLAssetPath } from './console/graphiql.js';
import { createConsoleHandler, isConsolePath } from './console/serve.js';
import { createContext, type Context } from './context.js';
import type { DatabaseHandle } from './db/client.js';
import { toDatabaseFault, type DatabaseFault } from './db/faults.js';
import { pendingMigrationCount } from './db/migrate.js';
import type { AdminKeyRow } from './db/schema.js';
import { AppError } from './errors.js';
import { createLimiters, isRefusal, retryAfterHeaders, type FailureLimits } from './limits/index.js';
import { MAX_BODY_BYTES, refuseNulCharacters, requestLimitsPlugin } from './limits/graphql.js';
import { graphqlPreflight, withGraphQLCors } from './graphql-cors.js';
import type { LinkedTable } from './linked-data/index.js';
import { withRequestScope, type Logger } from './logger.js';
import * as metrics from './metrics.js';
import { useOperationMetrics } from './operation-metrics.js';
import { schema } from './schema/index.js';

export interface AppDeps {
  database: DatabaseHandle;
  logger: Logger;
  /** Development mode: field suggestions and friendlier errors. Never leaks internal errors. */
  production?: boolean;
  /** The sign-in API's settings (APP_ID, PUBLIC_URL, AUTO_CONFIRM, …); unset ones take their defaults. */
  auth?: Partial<AuthSettings>;
  /** How mail reaches users; by default the mail_outbox table and the log. */
  mailer?: Mailer;
  /** The app's own tables that point at users, checked against the catalog (see src/linked-data); none by default. */
  linkedData?: readonly LinkedTable[];
  /** Limits on failed admin-key checks and logins; unset ones take the defaults of src/limits. */
  limits?: Partial<FailureLimits>;
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
}

/** The operations side of the app: where /metrics is served, and whether the server is stopping. */
export interface OperationsDeps {
  /** Serve GET /metrics on this app, behind an admin key (default); false when METRICS_PORT serves it. */
  metricsRoute?: boolean;
  /** True once a shutdown has begun: /ready answers 503 so balancers stop sending requests. */
  isStopping?: () => boolean;
}

interface ServerContext {
  operator: AdminKeyRow;
  requestId: string;
}

/** What Node's HTTP server hands the fetch handler next to the request. */
interface NodeServerContext {
  req?: { socket?: { remoteAddress?: string } };
}

/** Refused before any check because of too many failures: HTTP 429 with Retry-After. */
class TooManyAttemptsError extends Error {
  constructor(readonly retryAfter: number) {
    super(`Too many failed attempts from this address: try again in ${retryAfter} seconds.`);
  }
}

// Every error of a GraphQL response carries a stable code and the request id, so a client can
// branch on the one and quote the other, and an operator can find the request in the log.
// Yoga's own request errors may carry the parser's message of the body as `originalError`: dropped.
function stableCode(error: GraphQLError): string {
  const code = error.extensions?.code;
  if (typeof code === 'string') return code;
  return /^Variable "\$/.test(error.message) ? 'BAD_USER_INPUT' : 'BAD_REQUEST';
}

const errorExtensions: Plugin<Record<string, unknown>, ServerContext> = {
  onResultProcess({ result, setResult, serverContext }) {
    const requestId = serverContext.requestId;
    const tag = (one: { errors?: readonly GraphQLError[] }) => {
      if (!one.errors) return one;
      const errors = one.errors.map((e) => {
        const { originalError: _dropped, ...extensions } = (e.extensions ?? {}) as Record<string, unknown>;
        return new GraphQLError(e.message, {
          nodes: e.nodes,
          source: e.source,
          positions: e.positions,
          path: e.path,
          originalError: e.originalError,
          extensions: { ...extensions, code: stableCode(e), requestId },
        });
      });
      return { ...one, errors };
    };
    if (Symbol.asyncIterator in result) return;
    setResult(Array.isArray(result) ? result.map(tag) : tag(result));
  },
};

export const EXAMPLE_QUERY = `# Every request needs the admin key: set it in the Headers tab below.
query ConfirmedUsers {
  users(status: CONFIRMED, first: 20) {
    totalCount
    edges { node { id email status createdAt lastAuthenticatedAt activeSessionCount } }
    pageInfo { hasNextPage endCursor }
  }
}
`;

function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

function graphqlError(status: number, message: string, code: string, requestId: string, headers = {}): Response {
  return json({ errors: [{ message, extensions: { code, requestId } }] }, status, { 'x-request-id': requestId, ...headers });
}

const NO_STORE = { 'cache-control': 'no-store' };

/** A database fault met outside GraphQL execution (the admin key lookup, a plain route): always 503. */
function faultResponse(pathname: string, fault: DatabaseFault, requestId: string): Response {
  const headers = { 'retry-after': '1' };
  return pathname === '/graphql'
    ? json({ errors: [{ message: fault.message, extensions: { code: fault.code, retryable: true, requestId } }] }, 503, headers)
    : json({ error: fault.message, error_code: 'ServiceUnavailable', requestId }, 503, headers);
}

/** The masked GraphQL error of a database fault: a stable code, `retryable`, and 503 when the database is out of reach. */
function faultError(fault: DatabaseFault, located: GraphQLError | undefined): GraphQLError {
  const http = fault.httpStatus === 200 ? {} : { http: { status: fault.httpStatus, headers: { 'retry-after': '1' } } };
  return new GraphQLError(fault.message, {
    nodes: located?.nodes,
    path: located?.path,
    extensions: { code: fault.code, retryable: true, ...http },
  });
}

/** A bounded set of route names for the HTTP metrics: paths come from clients. */
function routeLabel(pathname: string, status: number): string {
  if (['/graphql', '/health', '/live', '/ready', '/metrics'].includes(pathname)) return pathname.slice(1);
  if (pathname.startsWith('/api/client/')) return 'client-api';
  return status === 404 ? 'not-found' : 'other';
}

const PROBES = new Set(['/health', '/live', '/ready', '/metrics']);

// By name, not instanceof: graphql may be loaded twice (its CommonJS and ES module builds).
function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof Error && error.name === 'GraphQLError';
}

function rootCause(error: unknown): unknown {
  let cause = error;
  while (isGraphQLError(cause) && cause.originalError) cause = cause.originalError;
  return cause;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Whether the client sends a body, whatever the method. */
function sendsBody(request: Request): boolean {
  return request.headers.has('transfer-encoding') || Number(request.headers.get('content-length') ?? 0) > 0;
}

/** The whole HTTP surface of the gateway, as one fetch handler: used by the server and by tests alike. */
export function createApp(deps: AppDeps & OperationsDeps) {
  const { database, logger } = deps;
  const db = database.db;
  const linkedData = deps.linkedData ?? [];
  const sessions = deps.revocations ? new CachedSessionStates(databaseSessionStates(db), deps.revocations) : undefined;
  const adminKeys = deps.revocations ? new CachedAdminKeys(db, deps.revocations) : null;
  const auth = createAuthDeps({ db, logger, settings: deps.auth, mailer: deps.mailer, sessions });
  const limiters = createLimiters(deps.limits, deps.now);
  const clientApi = createClientApi(auth, limiters);

  const yoga = createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug({ args }, 'yoga'),
      info: (...args) => logger.info({ args }, 'yoga'),
      warn: (...args) => logger.warn({ args }, 'yoga'),
      error: (...args) => logger.error({ args }, 'yoga'),
    },
    context: ({ operator, requestId, request }) =>
      createContext(db, operator, requestId, { auth, publicUrl: publicUrlFor(auth.settings, request) }, linkedData),
    // GraphiQL and CORS are answered before Yoga (handleGraphQL): a page built once, an allow-list.
    graphiql: false,
    cors: false,
    batching: false,
    plugins: [requestLimitsPlugin({ fieldSuggestions: !deps.production }), refuseNulCharacters, errorExtensions, useOperationMetrics()],
    maskedErrors: {
      maskError(error, message) {
        const cause = rootCause(error);
        const located = isGraphQLError(error) ? error : undefined;
        const fault = toDatabaseFault(cause);
        if (fault) {
          metrics.databaseFaults.inc({ kind: fault.kind });
          logger.warn({ err: cause, fault: fault.kind }, 'database fault in a GraphQL operation');
          return faultError(fault, located);
        }
        if (cause instanceof AppError) {
          return new GraphQLError(cause.message, {
            nodes: located?.nodes,
            path: located?.path,
            extensions: { code: cause.code, ...('field' in cause ? { field: cause.field } : {}) },
          });
        }
        // Thrown on purpose as a GraphQL error (parsing, validation, a scalar's input check).
        if (isGraphQLError(cause)) return error as GraphQLError;
        logger.error({ err: cause }, 'unexpected error in a GraphQL operation');
        return new GraphQLError(message, {
          nodes: located?.nodes,
          path: located?.path,
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        });
      },
    },
  });

  /**
   * The admin key of the request, or null. A request that sends an Authorization header without a
   * working key counts as a failure of its address; past the limit, every key check from that
   * address is refused with TooManyAttemptsError until its window ends. The check is counted
   * before the lookup starts and handed back if the key works, so concurrent bad keys cannot all
   * be looked up before the first is counted (src/limits/attempts.ts).
   */
  async function authenticate(request: Request, address: string): Promise<AdminKeyRow | null> {
    const header = request.headers.get('authorization');
    if (header === null) return null;
    const attempt = await limiters.adminKey.attempt(address);
    if (isRefusal(attempt)) throw new TooManyAttemptsError(attempt.retryAfter);
    const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
    let key: AdminKeyRow | null;
    try {
      key = match ? await (adminKeys?.findActiveKeyBySecret(match[1]!) ?? findActiveKeyBySecret(db, match[1]!)) : null;
    } catch (err) {
      attempt.abandoned();
      throw err;
    }
    if (!key) {
      attempt.failed();
      logger.warn({ address }, 'a request came with an unknown, revoked or malformed admin key');
      return null;
    }
    attempt.succeeded();
    (adminKeys?.touch(key) ?? touchAdminKey(db, key)).catch((err) => logger.warn({ err }, 'could not record admin key use'));
    return key;
  }

  const trustProxy: TrustProxy = deps.trustProxy === true ? { kind: 'hops', hops: 1 } : deps.trustProxy || NO_PROXY;
  function clientAddress(request: Request, serverContext: NodeServerContext | undefined): string {
    return pickClientAddress(trustProxy, serverContext?.req?.socket?.remoteAddress, request.headers.get('x-forwarded-for'));
  }

  const corsOrigins = deps.corsOrigins ?? [];
  const graphiql =
    deps.graphiql === false
      ? null
      : createGraphiQL({
          title: 'App Users gateway',
          defaultQuery: EXAMPLE_QUERY,
          headers: JSON.stringify({ Authorization: 'Bearer <admin key>' }, null, 2),
          shouldPersistHeaders: false,
        });

  /** The 401 of a request without a working key, sent before its body (if any) is read. */
  function unauthenticated(requestId: string, pathname: string): Response {
    const message = 'An admin key is required: send "Authorization: Bearer <admin key>".';
    const headers = { 'www-authenticate': 'Bearer realm="app-users-gateway"' };
    return pathname === '/graphql'
      ? graphqlError(401, message, 'UNAUTHENTICATED', requestId, headers)
      : json({ error: message, error_code: 'Unauthorized', requestId }, 401, headers);
  }

  // A form or multipart body is what a cross-site HTML form can send without a preflight; the API
  // takes JSON (or a GET with query parameters) only.
  const FORM_BODY = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i;

  async function handleGraphQL(incoming: Request, requestId: string, address: string): Promise<Response> {
    if (incoming.method === 'OPTIONS') return graphqlPreflight(incoming, corsOrigins);
    if (graphiql && shouldRenderGraphiQL(incoming)) return graphiql.page(incoming);
    // The key is checked from the headers before a byte of the body is read.
    const operator = await authenticate(incoming, address);
    if (!operator) return unauthenticated(requestId, '/graphql');
    if (FORM_BODY.test(incoming.headers.get('content-type') ?? '')) {
      return graphqlError(415, 'Send the request as application/json.', 'UNSUPPORTED_MEDIA_TYPE', requestId);
    }
    const request = await withBoundedBody(incoming);
    if (!request) return tooLarge('/graphql', requestId);
    const response = await yoga.fetch(request, { operator, requestId });
    // Yoga answers an unknown content type with a bare 415; say what to send instead.
    if (response.status === 415) {
      return graphqlError(415, 'Send the request as application/json.', 'UNSUPPORTED_MEDIA_TYPE', requestId);
    }
    return response;
  }

  const serveConsole = createConsoleHandler();

  async function health(): Promise<Response> {
    const ok = await database.ping();
    return json({ status: ok ? 'ok' : 'unavailable' }, ok ? 200 : 503, { 'cache-control': 'no-store' });
  }

  /** Readiness: not stopping, the database answers, and it has every migration this build ships. */
  async function ready(): Promise<Response> {
    if (deps.isStopping?.()) return json({ status: 'stopping' }, 503, NO_STORE);
    if (!(await database.ping())) return json({ status: 'unavailable' }, 503, NO_STORE);
    const pending = await pendingMigrationCount(database);
    if (pending > 0) return json({ status: 'migrations pending', pendingMigrations: pending }, 503, NO_STORE);
    return json({ status: 'ready' }, 200, NO_STORE);
  }

  /** Prometheus metrics on the main port: for holders of an admin key. */
  async function metricsForOperators(request: Request, address: string, requestId: string): Promise<Response> {
    if (deps.metricsRoute === false) return json({ error: 'Nothing at GET /metrics.', error_code: 'NotFound' }, 404);
    if (!(await authenticate(request, address))) return unauthenticated(requestId, '/metrics');
    const { body, contentType } = await metrics.renderMetrics();
    return new Response(body, { status: 200, headers: { 'content-type': contentType, ...NO_STORE } });
  }

  /**
   * The request with its body read, or a 413 response when the body is over MAX_BODY_BYTES, whether
   * it declares its length or streams in chunks.
   */
  async function withBoundedBody(request: Request): Promise<Request | null> {
    if (!request.body) return request;
    const declared = request.headers.get('content-length');
    // Node's HTTP parser hands over exactly the declared length, never more: such a body needs no
    // copy (copying it into a new Request was a tenth of the CPU of a token check).
    if (declared !== null) return Number(declared) > MAX_BODY_BYTES ? null : request;
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel().catch(() => {});
        return null;
      }
      chunks.push(value);
    }
    return new Request(request.url, { method: request.method, headers: request.headers, body: Buffer.concat(chunks) });
  }

  function tooLarge(pathname: string, requestId: string): Response {
    return refusal(pathname, 413, `The request body is larger than ${MAX_BODY_BYTES} bytes (1 MiB).`, 'PAYLOAD_TOO_LARGE', requestId);
  }

  /** POST /introspect: the admin key from the headers first, then the body. */
  async function introspect(incoming: Request, requestId: string, address: string): Promise<Response> {
    const operator = incoming.method === 'POST' ? await authenticate(incoming, address) : null;
    if (!operator) return clientApi.introspect(incoming, null);
    const request = await withBoundedBody(incoming);
    return request ? clientApi.introspect(request, operator) : tooLarge(INTROSPECTION_PATH, requestId);
  }

  function refusal(pathname: string, status: number, message: string, code: string, requestId: string, headers = {}) {
    return pathname === '/graphql'
      ? graphqlError(status, message, code, requestId, headers)
      : json({ error: message, error_code: code === 'RATE_LIMITED' ? 'TooManyRequests' : 'PayloadTooLarge' }, status, headers);
  }

  /**
   * Every request runs in its own scope: an id (the client's X-Request-Id if sane), a child logger
   * that puts it on every log line, one access-log line and the HTTP metrics.
   */
  async function observed(incomingRequest: Request, serverContext?: NodeServerContext): Promise<Response> {
    const incoming = incomingRequest.headers.get('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const log = logger.child({ requestId });
    const started = performance.now();
    const response = await withRequestScope({ requestId, logger: log }, () => route(incomingRequest, serverContext, requestId));
    const { pathname } = new URL(incomingRequest.url);
    const seconds = (performance.now() - started) / 1000;
    const routeName = routeLabel(pathname, response.status);
    const status = String(response.status);
    metrics.httpRequests.inc({ route: routeName, method: incomingRequest.method, status });
    metrics.httpRequestDuration.observe({ route: routeName, status }, seconds);
    const line = { method: incomingRequest.method, path: pathname, status: response.status, ms: Math.round(seconds * 1000) };
    if (PROBES.has(pathname) && response.status < 500) log.debug(line, 'request');
    else log.info(line, 'request');
    return response;
  }

  async function route(incomingRequest: Request, serverContext: NodeServerContext | undefined, requestId: string): Promise<Response> {
    const { pathname } = new URL(incomingRequest.url);
    const address = clientAddress(incomingRequest, serverContext);
    let response: Response;
    try {
      // Only the sign-in API reads a body before anything else (bounded); the admin routes check the
      // key from the headers first and read it after (handleGraphQL, introspect), and the others
      // never read one.
      const request = pathname.startsWith(CLIENT_API_PREFIX) ? await withBoundedBody(incomingRequest) : incomingRequest;
      if (!request) response = tooLarge(pathname, requestId);
      else if (pathname === '/graphql') response = withGraphQLCors(request, await handleGraphQL(request, requestId, address), corsOrigins);
      else if (pathname.startsWith(CLIENT_API_PREFIX)) response = await clientApi.handle(request, requestId, address);
      else if (pathname === INTROSPECTION_PATH) response = await introspect(request, requestId, address);
      else if (pathname === '/health' && request.method === 'GET') response = await health();
      else if (pathname === '/live' && request.method === 'GET') response = json({ status: 'ok' }, 200, NO_STORE);
      else if (pathname === '/ready' && request.method === 'GET') response = await ready();
      else if (pathname === '/metrics' && request.method === 'GET') response = await metricsForOperators(request, address, requestId);
      else if (isConsolePath(pathname)) response = await serveConsole(request, pathname);
      else if (graphiql && isGraphiQLAssetPath(pathname)) response = await graphiql.asset(request, pathname);
      else response = json({ error: `Nothing at ${request.method} ${pathname}.`, error_code: 'NotFound' }, 404);
    } catch (err) {
      if (err instanceof TooManyAttemptsError) {
        response = refusal(pathname, 429, err.message, 'RATE_LIMITED', requestId, retryAfterHeaders(err.retryAfter));
      } else if (toDatabaseFault(err)) {
        const fault = toDatabaseFault(err)!;
        metrics.databaseFaults.inc({ kind: fault.kind });
        logger.warn({ err, fault: fault.kind }, 'database fault');
        response = faultResponse(pathname, fault, requestId);
      } else {
        logger.error({ err, requestId }, 'request failed');
        response =
          pathname === '/graphql'
            ? graphqlError(500, 'Unexpected error.', 'INTERNAL_SERVER_ERROR', requestId)
            : json({ error: 'Unexpected error.', error_code: 'InternalServerError', requestId }, 500);
      }
    }
    response.headers.set('x-request-id', requestId);
    // Refused without reading its body (no key, too large, wrong type): close the connection after
    // the answer rather than keep it open to drain whatever the client still sends.
    // (Judged from the headers: a GET's body is not even offered to the handler, but still sent.)
    if (response.status >= 400 && sendsBody(incomingRequest) && !incomingRequest.bodyUsed) response.headers.set('connection', 'close');
    return response;
  }

  if (database.pool) metrics.observePool(database.pool);
  return createServerAdapter<NodeServerContext>(observed);
}

/** GET /metrics alone and without a key: for METRICS_PORT, a port only the monitoring network reaches. */
export function createMetricsApp() {
  return createServerAdapter(async (request: Request) => {
    const { pathname } = new URL(request.url);
    if (pathname !== '/metrics' || request.method !== 'GET') {
      return json({ error: `Nothing at ${request.method} ${pathname}.`, error_code: 'NotFound' }, 404);
    }
    const { body, contentType } = await metrics.renderMetrics();
    return new Response(body, { status: 200, headers: { 'content-type': contentType, ...NO_STORE } });
  });
}

export type App = ReturnType<typeof createApp>;
