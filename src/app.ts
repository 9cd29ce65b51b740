import { randomUUID } from 'node:crypto';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createServerAdapter } from '@whatwg-node/server';
import { GraphQLError } from 'graphql';
import { createYoga, shouldRenderGraphiQL } from 'graphql-yoga';
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
  const clientApi = createClientApi(auth);

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

  async function authenticate(request: Request): Promise<AdminKeyRow | null> {
    const header = request.headers.get('authorization') ?? '';
    const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
    if (!match) return null;
    const key = await (adminKeys?.findActiveKeyBySecret(match[1]!) ?? findActiveKeyBySecret(db, match[1]!));
    if (key) {
      (adminKeys?.touch(key) ?? touchAdminKey(db, key)).catch((err) => logger.warn({ err }, 'could not record admin key use'));
    }
    return key;
  }

  async function handleGraphQL(request: Request, requestId: string): Promise<Response> {
    if (request.method === 'OPTIONS' || shouldRenderGraphiQL(request)) {
      return yoga.fetch(request, { requestId } as ServerContext);
    }
    const operator = await authenticate(request);
    if (!operator) {
      return graphqlError(
        401,
        'An admin key is required: send "Authorization: Bearer <admin key>".',
        'UNAUTHENTICATED',
        requestId,
        { 'www-authenticate': 'Bearer realm="app-users-gateway"' },
      );
    }
    return yoga.fetch(request, { operator, requestId });
  }

  const serveConsole = createConsoleHandler();

  async function health(): Promise<Response> {
    const ok = await database.ping();
    return json({ status: ok ? 'ok' : 'unavailable' }, ok ? 200 : 503, { 'cache-control': 'no-store' });
  }

  async function route(request: Request): Promise<Response> {
    const incoming = request.headers.get('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const { pathname } = new URL(request.url);
    let response: Response;
    try {
      if (pathname === '/graphql') response = await handleGraphQL(request, requestId);
      else if (pathname.startsWith(CLIENT_API_PREFIX)) response = await clientApi.handle(request, requestId);
      else if (pathname === INTROSPECTION_PATH) response = await clientApi.introspect(request, await authenticate(request));
      else if (pathname === '/health' && request.method === 'GET') response = await health();
      else if (isConsolePath(pathname)) response = await serveConsole(request, pathname);
      else response = json({ error: `Nothing at ${request.method} ${pathname}.`, error_code: 'NotFound' }, 404);
    } catch (err) {
      logger.error({ err, requestId }, 'request failed');
      response = json({ error: 'Unexpected error.', error_code: 'InternalServerError', requestId }, 500);
    }
    response.headers.set('x-request-id', requestId);
    return response;
  }

  return createServerAdapter(route);
}

export type App = ReturnType<typeof createApp>;
