// Shared bits of the bounded attack scripts: start the gateway as `npm start` does on a fresh
// embedded database, read its resident memory, and time GET /live while an attack runs.
// Everything targets 127.0.0.1 only, and every attack stops by itself.
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createMigratedDataDir } from './database.js';
import { startGatewayProcess, type GatewayProcess } from './process.js';

export interface Gateway extends GatewayProcess {
  pid: number;
  /** Resident memory of the gateway process, in MB (from /proc). */
  rssMb(): number;
  /** Resolves when the process has exited. */
  stopped: Promise<void>;
  close(): Promise<void>;
}

export async function startGateway(env: Record<string, string> = {}, startTimeoutMs = 90_000): Promise<Gateway> {
  const dataDir = await createMigratedDataDir('gateway-attack-');
  const gateway = await startGatewayProcess({ DATA_DIR: dataDir, ...env }, startTimeoutMs);
  const pid = gateway.child.pid!;
  const stopped = new Promise<void>((r) => (gateway.child.exitCode !== null ? r() : gateway.child.once('exit', () => r())));
  return {
    stopped,
    ...gateway,
    pid,
    rssMb: () => rssMb(pid),
    async close() {
      await gateway.stop('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 1024);
}

/** One GET on a fresh connection; resolves with its status (0 when refused or cut) and ms. */
export function timedGet(url: string, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<{ status: number; ms: number; bytes: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (status: number, bytes: number) => resolve({ status, ms: Math.round(performance.now() - started), bytes });
    const req = request(url, { agent: false, headers, timeout: timeoutMs }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => done(res.statusCode ?? 0, bytes));
      res.on('error', () => done(0, bytes));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => done(0, 0));
    req.end();
  });
}

/** Polls GET /live every `everyMs` until stopped; returns the slowest answer and any failure. */
export function watchLive(baseUrl: string, everyMs = 100) {
  let stopped = false;
  const samples: { status: number; ms: number }[] = [];
  const loop = (async () => {
    while (!stopped) {
      samples.push(await timedGet(`${baseUrl}/live`, {}, 30_000));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { samples: samples.length, slowestMs: Math.max(0, ...samples.map((s) => s.ms)), failed: samples.filter((s) => s.status !== 200).length };
    },
  };
}

export interface RawSocket {
  socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves when the server (or we) closed it, with the ms since it was opened. */
  closed: Promise<number>;
}

/** A TCP connection to 127.0.0.1 that sends exactly what it is told to, when it is told to. */
export function openRaw(port: number, read = true): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let data = '';
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<number>((r) => socket.once('close', () => r(performance.now() - started)));
    socket.on('error', () => {});
    if (read) socket.on('data', (d) => (data += d));
    else socket.pause();
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** Re-exported: the attacks poll for states with the tests' one waiting helper. */
export { pollUntil } from './wait.js';
