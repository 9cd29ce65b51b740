import { randomUUID } from 'node:crypto';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createServerAdapter } from '@whatwg-node/server';
import { GraphQLError } from 'graphql';
import { createYoga, shouldRenderGraphiQL, type Plugin } from 'graphql-yoga';
import { findActiveKeyBySecret, touchAdminKey } from './admin/keys.js';
import { createAuthDeps, publicUrlFor } from './auth/deps.js';
import { CachedAdminKeys, CachedSessionStates, type RevocationFeed } from './auth/revocation-cache.js';
import { databaseSessionStates } from './auth/verify.js';
import type { Mailer } from './auth/mailer.js';
import { CLIENT_API_PREFIX, createClientApi, INTROSPECTION_PATH } from './auth/routes.js';
import type { AuthSettings } from './config.js';
import { createConsoleHandler, isConsolePath } from './console/serve.js';
import { createContext, type Context } from './context.js';
import type { DatabaseHandle } from './db/client.js';
import type { AdminKeyRow } from './db/schema.js';
import { AppError } from './errors.js';
import { createLimiters, retryAfterHeaders, type FailureLimits } from './limits/index.js';
import { MAX_BODY_BYTES, refuseNulCharacters, requestLimitsPlugin } from './limits/graphql.js';
import type { LinkedTable } from './linked-data/index.js';
import type { Logger } from './logger.js';
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
  /** Take the client's address from X-Forwarded-For (TRUST_PROXY): only behind a proxy that sets it. */
  trustProxy?: boolean;
  /** The clock of the rate limits, in milliseconds; tests pass their own. */
  now?: () => number;
  /**
   * Notifications of revoked sessions, disabled or deleted users and revoked admin keys: with them,
   * token and admin-key checks are answered from per-instance caches (src/auth/revocation-cache.ts);
   * without, every check reads the database.
   */
  revocations?: RevocationFeed;
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

/** The whole HTTP surface of the gateway, as one fetch handler: used by the server and by tests alike. */
export function createApp(deps: AppDeps) {
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
    graphiql: {
      title: 'App Users gateway',
      defaultQuery: EXAMPLE_QUERY,
      headers: JSON.stringify({ Authorization: 'Bearer <admin key>' }, null, 2),
      shouldPersistHeaders: false,
    },
    renderGraphiQL,
    batching: false,
    plugins: [requestLimitsPlugin({ fieldSuggestions: !deps.production }), refuseNulCharacters, errorExtensions],
    maskedErrors: {
      maskError(error, message) {
        const cause = rootCause(error);
        const located = isGraphQLError(error) ? error : undefined;
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
   * address is refused with TooManyAttemptsError until its window ends.
   */
  async function authenticate(request: Request, address: string): Promise<AdminKeyRow | null> {
    const header = request.headers.get('authorization');
    if (header === null) return null;
    const blocked = limiters.adminKey.retryAfter(address);
    if (blocked) throw new TooManyAttemptsError(blocked);
    const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
    const key = match ? await (adminKeys?.findActiveKeyBySecret(match[1]!) ?? findActiveKeyBySecret(db, match[1]!)) : null;
    if (!key) {
      limiters.adminKey.fail(address);
      logger.warn({ address }, 'a request came with an unknown, revoked or malformed admin key');
      return null;
    }
    (adminKeys?.touch(key) ?? touchAdminKey(db, key)).catch((err) => logger.warn({ err }, 'could not record admin key use'));
    return key;
  }

  function clientAddress(request: Request, serverContext: NodeServerContext | undefined): string {
    if (deps.trustProxy) {
      const forwarded = request.headers.get('x-forwarded-for')?.split(',')[0]?.trim();
      if (forwarded) return forwarded;
    }
    return serverContext?.req?.socket?.remoteAddress ?? 'unknown';
  }

  async function handleGraphQL(request: Request, requestId: string, address: string): Promise<Response> {
    if (request.method === 'OPTIONS' || shouldRenderGraphiQL(request)) {
      return yoga.fetch(request, { requestId } as ServerContext);
    }
    const operator = await authenticate(request, address);
    if (!operator) {
      return graphqlError(
        401,
        'An admin key is required: send "Authorization: Bearer <admin key>".',
        'UNAUTHENTICATED',
        requestId,
        { 'www-authenticate': 'Bearer realm="app-users-gateway"' },
      );
    }
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

  /**
   * The request with its body read, or a 413 response when the body is over MAX_BODY_BYTES, whether
   * it declares its length or streams in chunks.
   */
  async function withBoundedBody(request: Request): Promise<Request | null> {
    if (!request.body) return request;
    if (Number(request.headers.get('content-length') ?? 0) > MAX_BODY_BYTES) return null;
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

  function refusal(pathname: string, status: number, message: string, code: string, requestId: string, headers = {}) {
    return pathname === '/graphql'
      ? graphqlError(status, message, code, requestId, headers)
      : json({ error: message, error_code: code === 'RATE_LIMITED' ? 'TooManyRequests' : 'PayloadTooLarge' }, status, headers);
  }

  async function route(incomingRequest: Request, serverContext?: NodeServerContext): Promise<Response> {
    const incoming = incomingRequest.headers.get('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const { pathname } = new URL(incomingRequest.url);
    const address = clientAddress(incomingRequest, serverContext);
    let response: Response;
    try {
      const request = await withBoundedBody(incomingRequest);
      if (!request) {
        response = refusal(pathname, 413, `The request body is larger than ${MAX_BODY_BYTES} bytes (1 MiB).`, 'PAYLOAD_TOO_LARGE', requestId);
      } else if (pathname === '/graphql') response = await handleGraphQL(request, requestId, address);
      else if (pathname.startsWith(CLIENT_API_PREFIX)) response = await clientApi.handle(request, requestId, address);
      else if (pathname === INTROSPECTION_PATH) response = await clientApi.introspect(request, await authenticate(request, address));
      else if (pathname === '/health' && request.method === 'GET') response = await health();
      else if (isConsolePath(pathname)) response = await serveConsole(request, pathname);
      else response = json({ error: `Nothing at ${request.method} ${pathname}.`, error_code: 'NotFound' }, 404);
    } catch (err) {
      if (err instanceof TooManyAttemptsError) {
        response = refusal(pathname, 429, err.message, 'RATE_LIMITED', requestId, retryAfterHeaders(err.retryAfter));
      } else {
        logger.error({ err, requestId }, 'request failed');
        response =
          pathname === '/graphql'
            ? graphqlError(500, 'Unexpected error.', 'INTERNAL_SERVER_ERROR', requestId)
            : json({ error: 'Unexpected error.', error_code: 'InternalServerError', requestId }, 500);
      }
    }
    response.headers.set('x-request-id', requestId);
    return response;
  }

  return createServerAdapter<NodeServerContext>(route);
}

export type App = ReturnType<typeof createApp>;
