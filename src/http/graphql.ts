// POST/GET /graphql: the Yoga instance over the schema, behind the admin key, the body limit and
// the CORS allow-list; GraphiQL for browsers.
import { GraphQLError, parse, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { createYoga, shouldRenderGraphiQL, type Plugin } from 'graphql-yoga';
import { createGraphiQL } from '../console/graphiql.js';
import { createContext, type Context } from '../context.js';
import type { Database } from '../db/client.js';
import type { AdminKeyRow } from '../db/schema.js';
import { graphqlLimits, refuseNulCharacters, requestLimitsPlugin } from '../limits/graphql.js';
import type { LinkedTable } from '../linked-data/index.js';
import type { WebhookServiceSettings } from '../webhooks/service.js';
import type { Logger } from '../logger.js';
import { publicUrlFor, type AuthDeps } from '../signin/deps.js';
import { schema } from '../schema/index.js';
import type { AuthenticateAdminKey } from './admin-key-auth.js';
import { FORM_BODY, withBoundedBody } from './body.js';
import { maskGraphQLError, refusalResponse, stableCode } from './errors.js';
import { graphqlPreflight, withGraphQLCors } from './graphql-cors.js';
import { useOperationMetrics } from './operation-metrics.js';

export const EXAMPLE_QUERY = `# Every request needs the admin key: set it in the Headers tab below.
query ConfirmedUsers {
  users(status: CONFIRMED, first: 20) {
    totalCount
    edges { node { id email status createdAt lastAuthenticatedAt activeSessionCount } }
    pageInfo { hasNextPage endCursor }
  }
}
`;

interface ServerContext {
  adminKey: AdminKeyRow;
  requestId: string;
  /** The result the direct path (./graphql-direct.ts) already computed for this request's operation. */
  executed?: ExecutionResult;
}

// A result the direct path computed is answered as Yoga answers any (masking, error codes, metrics),
// but not computed again: its operation is executed once. The execute function is replaced, not
// the execution stopped, so every plugin's onExecute and onExecuteDone still run (masking among them).
const executedOnce: Plugin<Record<string, unknown>, ServerContext> = {
  onExecute({ args, setExecuteFn }) {
    const executed = (args.contextValue as Partial<ServerContext>).executed;
    if (executed) setExecuteFn(() => executed);
  },
};

// Yoga's own request errors may carry the parser's message of the body as `originalError`: dropped.
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

export interface GraphQLSurfaceDeps {
  db: Database;
  logger: Logger;
  production?: boolean;
  auth: AuthDeps;
  linkedData: readonly LinkedTable[];
  /** Which endpoint URLs are allowed and how signing secrets are stored. */
  webhooks: WebhookServiceSettings;
  authenticate: AuthenticateAdminKey;
  corsOrigins: readonly string[];
  /** Serve GraphiQL to browsers at GET /graphql; on unless false. */
  graphiql?: boolean;
}

export interface GraphQLSurface {
  /** Answers a request to /graphql; `address` is the client's, for the admin-key limit. */
  handle(request: Request, requestId: string, address: string): Promise<Response>;
  /** GraphiQL's page and files, or null when GRAPHIQL=false. */
  graphiql: ReturnType<typeof createGraphiQL> | null;
  /** What the direct path (./graphql-direct.ts) shares with this surface. */
  direct: DirectGraphQLSurface;
}

export interface DirectGraphQLSurface {
  schema: GraphQLSchema;
  authenticate: AuthenticateAdminKey;
  corsOrigins: readonly string[];
  /** The document of `query` if Yoga would run it: parsed and validated by Yoga's own parse and validate (its limits and rules); null otherwise. */
  checkedDocument(query: string): DocumentNode | null;
  /** The execution context of a request, as Yoga's builds it. */
  context(adminKey: AdminKeyRow, requestId: string): Context;
  /**
   * An authenticated request answered the Yoga way (body checks, Yoga, CORS headers); with
   * `executed`, the result of its operation the direct path computed, which Yoga answers instead of
   * executing the operation.
   */
  answerAuthenticated(request: Request, adminKey: AdminKeyRow, requestId: string, executed?: ExecutionResult): Promise<Response>;
}

export function createGraphQLSurface(deps: GraphQLSurfaceDeps): GraphQLSurface {
  const { db, logger, auth, linkedData, authenticate, corsOrigins, webhooks } = deps;
  const context = (adminKey: AdminKeyRow, requestId: string, request?: Request) =>
    createContext(db, adminKey, requestId, { auth, publicUrl: publicUrlFor(auth.settings, request) }, linkedData, webhooks);
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
    context: ({ adminKey, requestId, request }) => context(adminKey, requestId, request),
    // GraphiQL and CORS are answered before Yoga (handle): a page built once, an allow-list.
    graphiql: false,
    cors: false,
    batching: false,
    plugins: [requestLimitsPlugin({ fieldSuggestions: !deps.production }), refuseNulCharacters, errorExtensions, useOperationMetrics(), executedOnce],
    maskedErrors: { maskError: (error, message) => maskGraphQLError(error, message, logger) },
  });

  const graphiql =
    deps.graphiql === false
      ? null
      : createGraphiQL({
          title: 'App Users gateway',
          defaultQuery: EXAMPLE_QUERY,
          headers: JSON.stringify({ Authorization: 'Bearer <admin key>' }, null, 2),
          shouldPersistHeaders: false,
        });

  async function answer(incoming: Request, requestId: string, address: string): Promise<Response> {
    if (incoming.method === 'OPTIONS') return graphqlPreflight(incoming, corsOrigins);
    if (graphiql && shouldRenderGraphiQL(incoming)) return graphiql.page(incoming);
    // The key is checked from the headers before a byte of the body is read.
    const adminKey = await authenticate(incoming.headers.get('authorization'), address);
    if (!adminKey) return refusalResponse('unauthenticated', 'graphql', requestId);
    return authenticated(incoming, adminKey, requestId);
  }

  async function authenticated(incoming: Request, adminKey: AdminKeyRow, requestId: string, executed?: ExecutionResult): Promise<Response> {
    if (FORM_BODY.test(incoming.headers.get('content-type') ?? '')) return refusalResponse('unsupportedMediaType', 'graphql', requestId);
    const request = await withBoundedBody(incoming);
    if (!request) return refusalResponse('payloadTooLarge', 'graphql', requestId);
    const response = await yoga.fetch(request, executed ? { adminKey, requestId, executed } : { adminKey, requestId });
    // Yoga answers an unknown content type with a bare 415; say what to send instead.
    if (response.status === 415) return refusalResponse('unsupportedMediaType', 'graphql', requestId);
    return response;
  }

  function checkedDocument(query: string): DocumentNode | null {
    // Parsed with the token limit graphql-armor sets on Yoga's parse (counted alike), but not by
    // Yoga's parse, whose cache of failures would change how Yoga then words them; validated by
    // Yoga's own validate, with every plugin's rules (graphql-armor's, the NUL rule).
    let document: DocumentNode;
    try {
      document = parse(query, { maxTokens: graphqlLimits.maxTokens });
    } catch {
      return null;
    }
    const enveloped = yoga.getEnveloped({});
    try {
      return enveloped.validate(enveloped.schema, document).length === 0 ? document : null;
    } catch {
      return null;
    }
  }

  return {
    graphiql,
    direct: {
      schema,
      authenticate,
      corsOrigins,
      checkedDocument,
      context: (adminKey, requestId) => context(adminKey, requestId),
      answerAuthenticated: async (request, adminKey, requestId, executed) =>
        withGraphQLCors(request, await authenticated(request, adminKey, requestId, executed), corsOrigins),
    },
    async handle(request, requestId, address) {
      return withGraphQLCors(request, await answer(request, requestId, address), corsOrigins);
    },
  };
}
