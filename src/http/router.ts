// Which handler answers a path; an error a handler throws is answered by the table of ./errors.ts.
import { isGraphiQLAssetPath } from '../console/graphiql.js';
import { isConsolePath } from '../console/serve.js';
import type { Logger } from '../logger.js';
import { CLIENT_API_PREFIX, INTROSPECTION_PATH, type ClientApi } from './client-api.js';
import { notFoundResponse, thrownErrorResponse } from './errors.js';
import type { GraphQLSurface } from './graphql.js';
import { isProbePath, type createProbes } from './probes.js';
import type { RequestScope, ScopedHandler } from './request-scope.js';
import { isWellKnownPath } from './well-known.js';

export interface Routes {
  graphql: GraphQLSurface;
  clientApi: ClientApi;
  probes: ReturnType<typeof createProbes>;
  metrics: (request: Request, address: string, requestId: string) => Promise<Response>;
  console: (request: Request, pathname: string) => Promise<Response>;
  /** The JWKS and OpenID configuration (./well-known.ts). */
  wellKnown: (request: Request, pathname: string) => Promise<Response>;
}

export function createRouter(routes: Routes, logger: Logger): ScopedHandler {
  const { graphql, clientApi, probes } = routes;

  async function dispatch(request: Request, pathname: string, { requestId, address }: RequestScope): Promise<Response> {
    if (pathname === '/graphql') return graphql.handle(request, requestId, address);
    if (pathname.startsWith(CLIENT_API_PREFIX)) return clientApi.handle(request, requestId, address);
    if (pathname === INTROSPECTION_PATH) return clientApi.introspect(request, requestId, address);
    if (isProbePath(pathname) && request.method === 'GET') return probes[pathname]();
    if (pathname === '/metrics' && request.method === 'GET') return routes.metrics(request, address, requestId);
    if (isWellKnownPath(pathname)) return routes.wellKnown(request, pathname);
    if (isConsolePath(pathname)) return routes.console(request, pathname);
    if (graphql.graphiql && isGraphiQLAssetPath(pathname)) return graphql.graphiql.asset(request, pathname);
    return notFoundResponse(request, pathname);
  }

  return async (request, scope) => {
    const { pathname } = new URL(request.url);
    try {
      return await dispatch(request, pathname, scope);
    } catch (err) {
      return thrownErrorResponse(err, pathname, scope.requestId, logger);
    }
  };
}
