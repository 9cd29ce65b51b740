import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

const SCRIPTS = { server: 'start', admin: 'admin', 'check-db': 'check-db' } as const;

/**
 * `node <flags> dist/<name>.js`, as `npm start` / `npm run admin` / `npm run check-db` run it: the
 * arguments after `node` of that script in package.json, the script file made absolute (dist/ is
 * built by the global setup).
 */
export function distCommand(name: 'server' | 'admin' | 'check-db'): string[] {
  const script: string = JSON.parse(readFileSync(`${projectRoot}package.json`, 'utf8')).scripts[SCRIPTS[name]];
  const words = script.trim().split(/\s+/);
  if (words[0] !== 'node' || words.at(-1) !== `dist/${name}.js`) throw new Error(`package.json's ${SCRIPTS[name]} script should be "node … dist/${name}.js"; it is "${script}"`);
  return [...words.slice(1, -1), `${projectRoot}dist/${name}.js`];
}

export interface GatewayProcess {
  child: ChildProcess;
  baseUrl: string;
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts the gateway as `npm start` does (node dist/server.js, built by the global setup) and waits until it listens. */
export async function startGatewayProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<GatewayProcess> {
  const { VITEST: _v, VITEST_POOL_ID: _p, VITEST_WORKER_ID: _w, TEST_DB: _t, ...inherited } = process.env;
  const child = spawn(process.execPath, distCommand('server'), {
    cwd: projectRoot,
    // No drain unless a test asks for one: the tests' gateways have no load balancer to wait for.
    env: { ...inherited, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', SHUTDOWN_DRAIN_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output}`)), timeoutMs);
    const check = () => {
      const match = /GraphiQL: (http:\/\/[^/\s]+)\/graphql/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${output}`));
    });
  });
  return {
    child,
    baseUrl,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
