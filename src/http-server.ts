// The Node HTTP server around the app, with the limits that keep slow or many clients from
// exhausting the process: one place, used by src/server.ts and by the tests alike.
import { createServer, type RequestListener, type Server } from 'node:http';

export interface HttpServerSettings {
  /** Connections open at once (MAX_CONNECTIONS); past it, a new connection is closed at once. */
  maxConnections: number;
  /** How long a client may take to send its request headers (HEADERS_TIMEOUT_MS); then 408 and closed. */
  headersTimeoutMs: number;
  /** How long a client may take to send its whole request, body included (REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
}

export const defaultHttpServerSettings: HttpServerSettings = {
  maxConnections: 1_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
};

/** An idle keep-alive connection is closed after this long without a new request. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export function createHttpServer(app: RequestListener, settings: Partial<HttpServerSettings> = {}): Server {
  const { maxConnections, headersTimeoutMs, requestTimeoutMs } = { ...defaultHttpServerSettings, ...settings };
  const server = createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      keepAliveTimeout: Math.min(KEEP_ALIVE_TIMEOUT_MS, headersTimeoutMs),
      // Node checks both timeouts on this interval (30 s by default, which would let a short
      // timeout run up to 30 s late).
      connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(headersTimeoutMs / 4))),
    },
    app,
  );
  server.maxConnections = maxConnections;
  return server;
}
