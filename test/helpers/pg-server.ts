// A PostgreSQL server of the test's own (initdb + pg_ctl into a temporary folder, on a free port),
// for faults that would hurt anyone else sharing a server: restarts, killed connections. The
// shared server at 5432 is never touched.
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './faults.js';

const run = promisify(execFile);

export interface PostgresServer {
  port: number;
  /** A connection string to one of its databases (default `postgres`), as the superuser. */
  url(database?: string): string;
  /** Creates a database and returns its connection string. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server: `fast` ends sessions and shuts down cleanly; `immediate` is a crash. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** A one-off query as the superuser on the `postgres` database. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  /** Stops the server and removes its folder. */
  destroy(): Promise<void>;
}

/** The bin folder of the newest PostgreSQL installed under /usr/lib/postgresql, or of pg_config. */
export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  const fromPgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const dir = fromPgConfig.status === 0 ? fromPgConfig.stdout.trim() : '';
  return dir && existsSync(join(dir, 'initdb')) ? dir : null;
}

// initdb and the server refuse to run as root: as root, run them as the `postgres` system user.
function asServerUser(): { prefix: string[]; uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root, and there is no "postgres" user to run PostgreSQL as');
  return { prefix: ['runuser', '-u', 'postgres', '--'], uid, gid };
}

const running = new Set<() => void>();
process.once('exit', () => {
  for (const kill of running) kill();
});

/** initdb into a fresh temporary folder and start the server on a free port of 127.0.0.1. */
export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('no PostgreSQL server binaries (initdb, pg_ctl) found');
  const user = asServerUser();
  const root = mkdtempSync(join(tmpdir(), 'gw-pg-'));
  const dataDir = join(root, 'data');
  if (user) chownSync(root, user.uid, user.gid);
  const command = (program: string, args: string[]) =>
    user ? run(user.prefix[0]!, [...user.prefix.slice(1), join(bin, program), ...args]) : run(join(bin, program), args);

  await command('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  // Durability settings off: these tests crash clients and restart the server, never the machine.
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${root}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=60',
  ].join(' ');
  const pgCtl = (...args: string[]) => command('pg_ctl', ['-D', dataDir, ...args]);
  const start = async () => {
    await pgCtl('-l', join(root, 'server.log'), '-o', options, '-w', '-t', '30', 'start');
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    await pgCtl('-m', mode, '-w', '-t', '30', 'stop');
  };
  const killNow = () => {
    const args = [join(bin, 'pg_ctl'), '-D', dataDir, '-m', 'immediate', 'stop'];
    if (user) spawnSync(user.prefix[0]!, [...user.prefix.slice(1), ...args], { stdio: 'ignore' });
    else spawnSync(args[0]!, args.slice(1), { stdio: 'ignore' });
  };
  await start();
  running.add(killNow);

  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const query = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    try {
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    port,
    url,
    query,
    start,
    stop,
    async createDatabase(name) {
      await query(`CREATE DATABASE "${name}"`);
      return url(name);
    },
    async destroy() {
      running.delete(killNow);
      await stop('immediate').catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
}
