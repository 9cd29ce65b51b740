// Every request runs in its own scope: an id (the client's X-Request-Id if sane), the client's
// address, the id on every log line (src/logger.ts), one access-log line and the HTTP metrics.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NO_PROXY, pickClientAddress, type TrustProxy } from '../client-address.js';
import { logAccess, withRequestScope, type Logger } from '../logger.js';
import * as metrics from '../metrics.js';
import { sendsBody } from './body.js';
import { headerOf } from './node-request.js';

/** What Node's HTTP server hands the fetch handler next to the request. */
export interface NodeServerContext {
  req?: { socket?: { remoteAddress?: string } };
}

export interface RequestScope {
  requestId: string;
  /** The client's address, for the per-address limits (TRUST_PROXY decides which one). */
  address: string;
}

export type ScopedHandler = (request: Request, scope: RequestScope) => Promise<Response>;

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Runs a direct path's handling of Node's own request (./direct.ts, ./graphql-direct.ts) in the
 * request's scope, as the Fetch path's requests run; a fault it throws is logged and answered 500.
 */
export function inNodeRequestScope(
  logger: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  handle: (requestId: string) => Promise<void> | void,
): true {
  const requestId = requestIdOf(headerOf(req, 'x-request-id'));
  const failed = (err: unknown) => {
    logger.error({ err, requestId }, 'request failed');
    if (!res.headersSent) res.writeHead(500, { 'x-request-id': requestId, connection: 'close' });
    res.end();
  };
  withRequestScope({ requestId }, () => {
    try {
      handle(requestId)?.catch(failed);
    } catch (err) {
      failed(err);
    }
  });
  return true;
}

/** A bounded set of route names for the HTTP metrics: paths come from clients. */
function routeLabel(pathname: string, status: number): string {
  if (['/graphql', '/health', '/live', '/ready', '/metrics'].includes(pathname)) return pathname.slice(1);
  if (pathname.startsWith('/api/client/')) return 'client-api';
  return status === 404 ? 'not-found' : 'other';
}

/** Logged at debug unless they fail: balancers and scrapers call them all the time. */
const PROBES = new Set(['/health', '/live', '/ready', '/metrics']);

/** `handler` in a request scope, as the fetch handler of the server adapter. */
export function inRequestScope(logger: Logger, trustProxy: boolean | TrustProxy | undefined, handler: ScopedHandler) {
  const trust = trustedProxies(trustProxy);

  async function answer(request: Request, serverContext: NodeServerContext | undefined, requestId: string): Promise<Response> {
    const address = pickClientAddress(trust, serverContext?.req?.socket?.remoteAddress, request.headers.get('x-forwarded-for'));
    const response = await handler(request, { requestId, address });
    response.headers.set('x-request-id', requestId);
    // Refused without reading its body (no key, too large, wrong type): close the connection after
    // the answer rather than keep it open to drain whatever the client still sends.
    // (Judged from the headers: a GET's body is not even offered to the handler, but still sent.)
    if (response.status >= 400 && sendsBody(request) && !request.bodyUsed) response.headers.set('connection', 'close');
    return response;
  }

  return async function observed(request: Request, serverContext?: NodeServerContext): Promise<Response> {
    const requestId = requestIdOf(request.headers.get('x-request-id'));
    const started = performance.now();
    const response = await withRequestScope({ requestId }, () => answer(request, serverContext, requestId));
    recordRequest(logger, request.method, new URL(request.url).pathname, response.status, started, requestId);
    return response;
  };
}

/** The request's id: the client's X-Request-Id if sane, else a new one. */
export function requestIdOf(incoming: string | null | undefined): string {
  return incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * The HTTP metrics and the access-log line of an answered request (`started`: performance.now() at
 * its start).
 */
export function recordRequest(log: Logger, method: string, pathname: string, statusCode: number, started: number, requestId: string): void {
  const seconds = (performance.now() - started) / 1000;
  const routeName = routeLabel(pathname, statusCode);
  const status = String(statusCode);
  metrics.countHttpRequest(routeName, method, status);
  metrics.httpRequestDuration.observe({ route: routeName, status }, seconds);
  const ms = Math.round(seconds * 1000);
  logAccess(log, requestId, method, pathname, statusCode, ms, PROBES.has(pathname) && statusCode < 500 ? 'debug' : 'info');
}

/** The trusted proxies of TRUST_PROXY, as pickClientAddress takes them. */
export function trustedProxies(trustProxy: boolean | TrustProxy | undefined): TrustProxy {
  return trustProxy === true ? { kind: 'hops', hops: 1 } : trustProxy || NO_PROXY;
}
