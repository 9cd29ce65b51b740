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
  /**
   * How long an idle keep-alive connection stays open for the next request (KEEP_ALIVE_TIMEOUT_MS).
   * Longer than the idle timeouts of clients and load balancers (undici 4 s, most balancers 60 s),
   * so the client always closes first: a server that closes first races the client's next request
   * on that connection, which then fails with ECONNRESET.
   */
  keepAliveTimeoutMs: number;
}

export const defaultHttpServerSettings: HttpServerSettings = {
  maxConnections: 1_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
};

export function createHttpServer(app: RequestListener, settings: Partial<HttpServerSettings> = {}): Server {
  const { maxConnections, headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = { ...defaultHttpServerSettings, ...settings };
  const server = createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      keepAliveTimeout: keepAliveTimeoutMs,
      // Node checks both timeouts on this interval (30 s by default, which would let a short
      // timeout run up to 30 s late).
      connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(headersTimeoutMs / 4))),
    },
    app,
  );
  server.maxConnections = maxConnections;
  return server;
}
