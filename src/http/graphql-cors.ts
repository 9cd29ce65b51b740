// Cross-origin access to /graphql: only the pages of CORS_ORIGINS may call it from a browser
// (none by default), and never with credentials: the admin API authenticates by the
// Authorization header, which a page must hold itself, never by cookies a browser would add.
// (The sign-in API under /api/client/ answers any origin: src/http/client-api.ts.)

const ALLOWED_METHODS = 'GET, POST, OPTIONS';
const ALLOWED_HEADERS = 'authorization, content-type, accept, x-request-id';

/** The Access-Control-Allow-Origin value for this request, or null when its origin is not allowed. */
function allowedOrigin(request: Request, origins: readonly string[]): string | null {
  return allowedOriginOf(request.headers.get('origin'), origins);
}

function allowedOriginOf(origin: string | null, origins: readonly string[]): string | null {
  if (!origin || origins.length === 0) return null;
  if (origins[0] === '*') return '*';
  return origins.includes(origin.toLowerCase()) ? origin : null;
}

/** An OPTIONS request to /graphql: 204, with the CORS headers only when the origin is allowed. */
export function graphqlPreflight(request: Request, origins: readonly string[]): Response {
  const response = new Response(null, { status: 204, headers: { 'content-length': '0' } });
  const allowed = allowedOrigin(request, origins);
  if (allowed) {
    response.headers.set('access-control-allow-methods', ALLOWED_METHODS);
    response.headers.set('access-control-allow-headers', ALLOWED_HEADERS);
    response.headers.set('access-control-max-age', '600');
  }
  return withGraphQLCors(request, response, origins);
}

/** Adds Access-Control-Allow-Origin for an allowed origin; drops any CORS header otherwise. */
export function withGraphQLCors(request: Request, response: Response, origins: readonly string[]): Response {
  return withGraphQLCorsFor(request.headers.get('origin'), response, origins);
}

/** withGraphQLCors for a request from `origin` (the direct path's, which has no Fetch-API Request). */
export function withGraphQLCorsFor(origin: string | null, response: Response, origins: readonly string[]): Response {
  for (const name of [...response.headers.keys()]) {
    if (name.startsWith('access-control-allow-origin') || name === 'access-control-allow-credentials') response.headers.delete(name);
  }
  for (const [name, value] of Object.entries(graphqlCorsHeaders(origin, origins))) {
    if (name === 'vary') response.headers.append(name, value);
    else response.headers.set(name, value);
  }
  return response;
}

/** The CORS headers of an answer to a request from `origin`: what withGraphQLCors adds (the direct path writes them itself). */
export function graphqlCorsHeaders(origin: string | null, origins: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  if (origins.length > 0 && origins[0] !== '*') headers.vary = 'Origin';
  const allowed = allowedOriginOf(origin, origins);
  if (allowed) {
    headers['access-control-allow-origin'] = allowed;
    headers['access-control-expose-headers'] = 'x-request-id, retry-after';
  }
  return headers;
}
