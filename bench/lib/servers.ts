// Starting and stopping the servers under test, each as a process of its own, so that its memory
// (RSS) is its own and nothing else of the benchmark runs inside it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/faults.js';
import { distCommand } from '../../test/helpers/process.js';
import { processCpuMs } from './cpu.js';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export type ServerKind = 'gateway' | 'postgraphile' | 'raw';

export interface RunningServer {
  kind: ServerKind;
  baseUrl: string;
  pid: number;
  /** Resident memory of the process now, in MB. */
  rssMb(): number;
  /** CPU time (user + system) the process has used so far, in ms. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/**
 * What each kind runs, all on plain node in production mode (NODE_ENV=production): the gateway
 * exactly as `npm start` does (dist/server.js, built by the benchmark first); PostGraphile and the
 * raw baseline as plain JavaScript modules (no TypeScript loader in their processes either).
 */
const commands: Record<ServerKind, string[]> = {
  gateway: distCommand('server'),
  postgraphile: ['bench/servers/postgraphile.mjs'],
  raw: ['bench/servers/raw.mjs'],
};

export function rssMbOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

/** `nodeArgs`: extra flags for node, e.g. `--cpu-prof` (bench --profile). */
export async function startServer(kind: ServerKind, env: Record<string, string>, nodeArgs: string[] = []): Promise<RunningServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...commands[kind]], {
    cwd: projectRoot,
    env: { ...process.env, NODE_ENV: 'production', HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}`, ...env, PORT: String(port) },
    // The gateway logs a JSON line per request, as in production: written, then thrown away.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr!.on('data', (d) => (errors = (errors + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const readyPath = kind === 'gateway' ? '/health' : kind === 'raw' ? '/verify' : '/graphql';
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${kind} exited with ${child.exitCode}:\n${errors}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${kind} did not start within 60 s:\n${errors}`);
    }
    const ok = await fetch(`${baseUrl}${readyPath}`, { method: readyPath === '/graphql' ? 'POST' : 'GET' })
      .then(() => true)
      .catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    kind,
    baseUrl,
    pid: child.pid!,
    rssMb: () => rssMbOf(child.pid!),
    cpuMs: () => processCpuMs(child.pid!),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
