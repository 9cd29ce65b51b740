// GET /metrics: the Prometheus text format, behind an admin key on the main port, or alone and
// without a key on METRICS_PORT.
import { createServerAdapter } from '@whatwg-node/server';
import * as metrics from '../metrics.js';
import type { AuthenticateAdminKey } from './admin-key-auth.js';
import { notFoundResponse, refusalResponse } from './errors.js';
import { NO_STORE } from './json.js';

async function metricsResponse(): Promise<Response> {
  const { body, contentType } = await metrics.renderMetrics();
  return new Response(body, { status: 200, headers: { 'content-type': contentType, ...NO_STORE } });
}

/**
 * GET /metrics on the main port, for holders of an admin key (any role); `served: false` when
 * METRICS_PORT serves them instead, and the main port has nothing there.
 */
export function createMetricsRoute(served: boolean, authenticate: AuthenticateAdminKey) {
  return async (request: Request, address: string, requestId: string): Promise<Response> => {
    if (!served) return notFoundResponse(request, '/metrics');
    if (!(await authenticate(request.headers.get('authorization'), address))) return refusalResponse('unauthenticated', 'gateway', requestId);
    return metricsResponse();
  };
}

/** GET /metrics alone and without a key: for METRICS_PORT, a port only the monitoring network reaches. */
export function createMetricsApp() {
  return createServerAdapter(async (request: Request) => {
    const { pathname } = new URL(request.url);
    if (pathname !== '/metrics' || request.method !== 'GET') return notFoundResponse(request, pathname);
    return metricsResponse();
  });
}
