// `npx tsx bench/startup.ts [--runs N]`: how long the gateway takes from spawn to answering /ready,
// and its resident memory (RSS) once idle, run as `npm start` runs it now (node dist/server.js) and
// as it ran before (tsx src/server.ts). Needs DATABASE_URL (a PostgreSQL server where it may create
// the database gw_startup); the first start of each command migrates and is not counted.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import pg from 'pg';
// @ts-expect-error: a plain JavaScript module without types
import { buildDist } from '../scripts/build.mjs';
import { databaseUrl } from '../test/helpers/global-setup.js';
import { freePort } from '../test/helpers/faults.js';
import { distCommand } from '../test/helpers/process.js';
import { processCpuMs } from './lib/cpu.js';
import { median } from './lib/load.js';
import { projectRoot, rssMbOf } from './lib/servers.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, 'idle-seconds': { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const idleMs = Number(values['idle-seconds']) * 1000;
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('DATABASE_URL must name a PostgreSQL server where gw_startup may be created');

const commands = {
  'node dist/server.js (npm start)': distCommand('server'),
  'tsx src/server.ts (before)': ['--import', 'tsx', 'src/server.ts'],
};

async function startOnce(args: string[], url: string): Promise<{ readyMs: number; cpuMs: number; idleRssMb: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: projectRoot,
    env: { ...process.env, DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'production', PUBLIC_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'warn', ADMIN_API_KEY: 'agk_startup-benchmark-key-000000000000000', JWT_SECRET: 'startup-benchmark-secret-0123456789abcdef' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const readyMs = performance.now() - started;
    const cpuMs = processCpuMs(child.pid!);
    await new Promise((r) => setTimeout(r, idleMs));
    return { readyMs, cpuMs, idleRssMb: rssMbOf(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

await buildDist();
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query('DROP DATABASE IF EXISTS gw_startup WITH (FORCE)');
await admin.query('CREATE DATABASE gw_startup');
await admin.end();
const url = databaseUrl(adminUrl, 'gw_startup');
const results: Record<string, { readyMs: number[]; cpuMs: number[]; idleRssMb: number[] }> = {};
for (const name of Object.keys(commands)) results[name] = { readyMs: [], cpuMs: [], idleRssMb: [] };
for (const args of Object.values(commands)) await startOnce(args, url);
// Alternating, so that a change of the machine's load falls on both alike.
for (let run = 0; run < runs; run++) {
  for (const [name, args] of Object.entries(commands)) {
    const r = await startOnce(args, url);
    results[name]!.readyMs.push(r.readyMs);
    results[name]!.cpuMs.push(r.cpuMs);
    results[name]!.idleRssMb.push(r.idleRssMb);
    process.stderr.write(`${name}: ready in ${r.readyMs.toFixed(0)} ms (${r.cpuMs.toFixed(0)} ms of CPU), idle RSS ${r.idleRssMb.toFixed(0)} MB\n`);
  }
}
console.log(`\n| command | start to /ready (median of ${runs}) | CPU used until ready | idle RSS |\n| --- | ---: | ---: | ---: |`);
for (const [name, r] of Object.entries(results)) {
  console.log(`| ${name} | ${median(r.readyMs).toFixed(0)} ms | ${median(r.cpuMs).toFixed(0)} ms | ${median(r.idleRssMb).toFixed(0)} MB |`);
}
