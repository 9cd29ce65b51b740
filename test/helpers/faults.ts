// Small tools of the fault and operations tests: timed GraphQL calls over real HTTP, waiting for a
// condition, reading Prometheus text.
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';

export interface Call {
  /** ms since the epoch when the call was sent and when it ended. */
  startedAt: number;
  endedAt: number;
  ms: number;
  /** The HTTP status, or 0 when no response came (refused, reset). */
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
  /** The socket error when no response came: ECONNREFUSED, ECONNRESET, … */
  error?: string;
}

export interface CallOptions {
  key?: string;
  requestId?: string;
  timeoutMs?: number;
  method?: 'GET' | 'POST';
}

/**
 * One HTTP request on a connection of its own (no keep-alive), so that a refused or reset
 * connection is this request's and no other's. Never throws: failures come back as `error`.
 */
export function httpCall(url: string, body: unknown, options: CallOptions = {}): Promise<Call> {
  const startedAt = Date.now();
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve) => {
    const done = (result: Omit<Call, 'startedAt' | 'endedAt' | 'ms'>) => {
      const endedAt = Date.now();
      resolve({ startedAt, endedAt, ms: endedAt - startedAt, ...result });
    };
    const req = httpRequest(
      url,
      {
        method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
        agent: false,
        timeout: options.timeoutMs ?? 20_000,
        headers: {
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          accept: 'application/graphql-response+json, application/json',
          ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
          ...(options.requestId ? { 'x-request-id': options.requestId } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('error', (err: NodeJS.ErrnoException) =>
          done({ status: 0, body: null, headers: {}, error: err.code ?? err.message }),
        );
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          done({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => done({ status: 0, body: null, headers: {}, error: err.code ?? err.message }));
    req.end(payload);
  });
}

export function graphql(baseUrl: string, query: string, variables: Record<string, unknown> = {}, options: CallOptions = {}) {
  return httpCall(`${baseUrl}/graphql`, { query, variables }, options);
}

/** A call that got a GraphQL answer without any error. */
export function succeeded(call: Call): boolean {
  return call.status === 200 && call.body?.data != null && !call.body?.errors;
}

/** Re-exported: the fault tests wait with the tests' one waiting helper. */
export { sleep, waitFor } from './wait.js';

/** The value of one sample of a Prometheus text exposition; 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^([^{\s]+)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return 0;
}

/** A TCP port of 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
