// One measurement: fixed connections for a fixed time with autocannon, every response checked, and
// the server's resident memory sampled throughout.
import autocannon from 'autocannon';
import type { RunningServer } from './servers.js';

export interface RequestShape {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadSpec {
  /** The request; called for every request so that each can name another user, token or prefix. */
  next: () => RequestShape;
  /** Whether a response is a correct answer (a GraphQL error with status 200 is not). */
  valid: (status: number, body: string) => boolean;
}

export interface Measurement {
  rps: number;
  p50: number;
  p99: number;
  /** The highest resident memory of the server process seen during the run, in MB. */
  rssMb: number;
  requests: number;
  /**
   * The server's CPU time per request (user + system), in ms: what a request costs, less at the mercy
   * of a machine shared with the load generator and other work than req/s.
   */
  cpuMsPerRequest: number;
  /** Responses that came back but were not a correct answer. */
  bad: number;
  errors: number;
  /**
   * CPU time per request, in ms, of the other processes a request makes work for (PostgreSQL's
   * backends of the benchmark's database, the webhook receiver): bench/lib/cpu.ts.
   */
  sideCpuMsPerRequest?: Record<string, number>;
}

export async function measureLoad(
  server: RunningServer,
  spec: LoadSpec,
  options: { connections: number; duration: number } | { connections: number; amount: number },
): Promise<Measurement> {
  let bad = 0;
  let rssMb = server.rssMb();
  const cpuBefore = server.cpuMs();
  const sampler = setInterval(() => (rssMb = Math.max(rssMb, server.rssMb())), 250);
  try {
    const result = await autocannon({
      url: server.baseUrl,
      ...options,
      timeout: 30,
      requests: [
        {
          setupRequest: (request) => {
            const shape = spec.next();
            return { ...request, method: shape.method, path: shape.path, headers: shape.headers ?? {}, body: shape.body };
          },
          onResponse: (status, body) => {
            if (!spec.valid(status, body)) bad += 1;
          },
        },
      ],
    });
    return {
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      rssMb: Math.max(rssMb, server.rssMb()),
      requests: result.requests.total,
      cpuMsPerRequest: (server.cpuMs() - cpuBefore) / Math.max(1, result.requests.total),
      bad,
      errors: result.errors + result.timeouts,
    };
  } finally {
    clearInterval(sampler);
  }
}

/** One request at a time, `count` times: for actions too big to run side by side (S6). */
export async function measureCalls(
  server: RunningServer,
  count: number,
  call: (i: number) => Promise<boolean>,
): Promise<Measurement & { seconds: number[] }> {
  let rssMb = server.rssMb();
  const cpuBefore = server.cpuMs();
  const sampler = setInterval(() => (rssMb = Math.max(rssMb, server.rssMb())), 100);
  const seconds: number[] = [];
  let bad = 0;
  try {
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      if (!(await call(i))) bad += 1;
      seconds.push((performance.now() - started) / 1000);
    }
  } finally {
    clearInterval(sampler);
  }
  const sorted = [...seconds].sort((a, b) => a - b);
  const total = seconds.reduce((a, b) => a + b, 0);
  return {
    rps: seconds.length / total,
    p50: median(sorted) * 1000,
    p99: sorted.at(-1)! * 1000,
    rssMb: Math.max(rssMb, server.rssMb()),
    requests: seconds.length,
    cpuMsPerRequest: (server.cpuMs() - cpuBefore) / Math.max(1, seconds.length),
    bad,
    errors: 0,
    seconds,
  };
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
