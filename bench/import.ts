// `npm run bench -- --scenarios import [--import-lines N] [--batch-size B]`: the bulk import on
// PostgreSQL. Writes an N-line file in our export format (jsonl), runs `npm run admin -- import
// --from jsonl` as an operator would (its own process) into a fresh database gw_bench_import, and
// quotes users/s (the command's own figure, from its first line read to its last batch committed,
// and end to end with start-up and migrations) and the peak RSS of the import process.
// Goal (issue 17): ≥ 20,000 users/s and < 300 MB of RSS at 1,000,000 lines.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
// @ts-expect-error: a plain JavaScript module without types
import { buildDist } from '../scripts/build.mjs';
import type { ExportedUser } from '../src/users/export.js';
import { ARGON2_PARAMS } from '../src/users/passwords.js';
import { postgresCpuMs, processCpuMs } from './lib/cpu.js';
import { projectRoot } from './lib/servers.js';
import { databaseUrl } from './seed.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

/** A realistic spread: 80% confirmed with a password, 15% pending, 5% disabled; ids as Atlas makes them. */
function line(i: number, hashes: string[]): ExportedUser {
  const created = new Date(Date.UTC(2020, 0, 1) + i * 1000);
  const status = i % 20 === 0 ? 'disabled' : i % 20 <= 3 ? 'pending' : 'confirmed';
  const id = Math.floor(created.getTime() / 1000).toString(16).padStart(8, '0') + i.toString(16).padStart(16, '0');
  return {
    id,
    email: `user${i}@import.example`,
    status,
    createdAt: created.toISOString(),
    lastAuthenticatedAt: status === 'confirmed' ? new Date(created.getTime() + 86_400_000).toISOString() : null,
    disabledAt: status === 'disabled' ? new Date(created.getTime() + 2 * 86_400_000).toISOString() : null,
    customData: i % 4 === 0 ? { plan: 'pro', seats: i % 10 } : {},
    identities: [{ providerType: 'local-userpass', providerId: `user${i}@import.example`, passwordHash: status === 'pending' ? null : hashes[i % hashes.length]! }],
  };
}

async function writeFile(path: string, lines: number): Promise<void> {
  // A few distinct hashes of our Argon2id form (their content is not checked at import, only their form).
  const { memoryKiB, timeCost, parallelism } = ARGON2_PARAMS;
  const unpadded = (bytes: number) => randomBytes(bytes).toString('base64').replace(/=+$/, '');
  const hashes = Array.from({ length: 16 }, () => `$argon2id$v=19$m=${memoryKiB},t=${timeCost},p=${parallelism}$${unpadded(16)}$${unpadded(32)}`);
  const out = createWriteStream(path);
  let chunk = '';
  for (let i = 1; i <= lines; i++) {
    chunk += `${JSON.stringify(line(i, hashes))}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      chunk = '';
    }
  }
  out.end(chunk);
  await new Promise<void>((resolve, reject) => out.on('finish', () => resolve()).on('error', reject));
}

/** Peak resident set (VmHWM) of a running process, in bytes; null once it is gone. */
function peakRss(pid: number): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export async function runImportBenchmark(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: { 'import-lines': { type: 'string', default: '1000000' }, 'batch-size': { type: 'string' }, scenarios: { type: 'string' } },
  });
  const lines = Number(String(values['import-lines']).replace(/_/g, ''));
  if (!Number.isInteger(lines) || lines < 1) throw new Error(`--import-lines must be a whole number ≥ 1; got "${values['import-lines']}"`);
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl || !/^postgres(ql)?:\/\//.test(adminUrl)) throw new Error('DATABASE_URL must name a PostgreSQL server (postgres://…) on which the benchmark may create its database.');

  const name = 'gw_bench_import';
  const url = databaseUrl(adminUrl, name);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();

  const file = join(tmpdir(), `gw-bench-import-${lines}.jsonl`);
  const written = performance.now();
  await writeFile(file, lines);
  log(`wrote ${lines} lines to ${file} in ${((performance.now() - written) / 1000).toFixed(1)} s`);

  const { VITEST: _v, ...env } = process.env;
  // The CLI as `npm run admin` runs it: compiled, plain node.
  await buildDist();
  const args = ['--enable-source-maps', 'dist/admin.js', 'import', '--from', 'jsonl', file];
  if (typeof values['batch-size'] === 'string') args.push('--batch-size', values['batch-size']);
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: projectRoot, env: { ...env, DATABASE_URL: url, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  let peak = 0;
  child.stderr!.on('data', (d) => {
    stderr += d;
    process.stderr.write(d);
  });
  // CPU time of the import process and of the PostgreSQL backends serving it, read while they live
  // (the backends end with the process): where the time goes, per 1,000 users.
  const postgresAtStart = postgresCpuMs(name);
  let importCpuMs = 0;
  let postgresCpu = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, peakRss(child.pid!) ?? 0);
    importCpuMs = Math.max(importCpuMs, processCpuMs(child.pid!));
    postgresCpu = Math.max(postgresCpu, postgresCpuMs(name) - postgresAtStart);
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  rmSync(file, { force: true });

  const check = new pg.Client({ connectionString: url });
  await check.connect();
  const { rows } = await check.query('SELECT count(*)::int AS n FROM users');
  await check.end();
  const commandRate = Number(/\(\d+ lines in [\d.]+ s, (\d+) users\/s\)/.exec(stderr)?.[1] ?? NaN);
  const result = {
    scenario: 'import',
    at: new Date().toISOString(),
    lines,
    exitCode: code,
    usersInDatabase: rows[0].n as number,
    usersPerSecond: commandRate,
    usersPerSecondEndToEnd: Math.round(lines / seconds),
    seconds: Math.round(seconds * 10) / 10,
    peakRssMb: Math.round(peak / 2 ** 20),
    importCpuMsPer1000Users: Math.round((importCpuMs / lines) * 1000),
    postgresCpuMsPer1000Users: Math.round((postgresCpu / lines) * 1000),
  };
  log(
    `import of ${lines} jsonl lines: ${result.usersPerSecond} users/s (${result.usersPerSecondEndToEnd} users/s end to end, ${result.seconds} s), ` +
      `peak RSS ${result.peakRssMb} MB, CPU per 1,000 users: import process ${result.importCpuMsPer1000Users} ms, PostgreSQL backends ${result.postgresCpuMsPer1000Users} ms, exit ${code}, ${result.usersInDatabase} users in the database`,
  );
  mkdirSync(join(projectRoot, 'bench/results'), { recursive: true });
  writeFileSync(join(projectRoot, `bench/results/${result.at.replace(/[:.]/g, '-')}-import-${lines}-lines.json`), `${JSON.stringify(result, null, 2)}\n`);
  if (code !== 0 || result.usersInDatabase !== lines) throw new Error('the import did not bring every line in');
}
