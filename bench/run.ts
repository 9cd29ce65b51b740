// `npm run bench -- [--users N] [--duration S] [--connections 10,20] [--rounds R] [--scenarios S1,S2,…] [--servers …] [--profile]`
// The gateway side by side with PostGraphile 4 and a raw node:http + pg baseline, on one seeded
// PostgreSQL database (DATABASE_URL names the server; the benchmark's database is gw_bench_<N>).
// In each round every server runs, and each scenario is measured on them back to back (the order
// rotated by round); ratios are the median of the rounds' ratios, other figures medians of rounds.
import { hashRawSync } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { relative } from 'node:path';
import pg from 'pg';
// @ts-expect-error: a plain JavaScript module without types
import { buildDist } from '../scripts/build.mjs';
import { createTokenKeys } from '../src/tokens/tokens.js';
import { createRefreshTokenKeys } from '../src/tokens/refresh-tokens.js';
import { ARGON2_PARAMS } from '../src/users/passwords.js';
import { writeProfileSummary } from './lib/profile.js';
import { openDatabase } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { cpuMeter, postgresBackendCpuMs, treeCpuMs } from './lib/cpu.js';
import { measureCalls, measureLoad, median, type Measurement } from './lib/load.js';
import { projectRoot, startServer, type RunningServer, type ServerKind } from './lib/servers.js';
import { ADMIN_KEY, APP_ID, JWT_SECRET, SCENARIO_NAMES, loadFixtures, variants, type ScenarioId, type Variant } from './scenarios.js';
import { createPostGraphileFunctions, prepareDatabase, resetDatabase } from './seed.js';
import { setWebhookEndpoint, startBenchReceiver, waitForDeliveries, type BenchReceiver } from './lib/webhook-receiver.js';

const GATEWAY_PUBLIC_URL = 'http://127.0.0.1';
const ALL: ScenarioId[] = ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8'];
const SERVER_ORDER: ServerKind[] = ['gateway', 'postgraphile', 'raw'];

function options() {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '1000000' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '10,20' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '2' },
      'server-warmup': { type: 'string', default: '3' },
      scenarios: { type: 'string', default: ALL.join(',') },
      servers: { type: 'string', default: SERVER_ORDER.join(',') },
      algorithm: { type: 'string', default: 'HS256' },
      'log-level': { type: 'string', default: 'info' },
      fresh: { type: 'boolean', default: false },
      readme: { type: 'boolean', default: false },
      webhook: { type: 'boolean', default: false },
      'compare-webhook': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(`npm run bench -- [options]
  --users N          users to seed (default 1000000); the database gw_bench_N is reused when complete
  --duration S       seconds of load per measurement (default 10)
  --connections LIST concurrent connections, each a line of its own (default 10,20)
  --rounds R         rounds (default 3): each starts every server, measures each read-only scenario at
                     each number of connections on all of them back to back (gateway, PostGraphile,
                     raw in round 1; PostGraphile, raw, gateway in round 2; …), then the gateway's
                     scenarios that change data; medians of rounds are quoted, a ratio as the
                     median of the rounds' ratios of such paired measurements
  --warmup S         seconds of unmeasured load before each measurement (default 2)
  --server-warmup S  seconds of each of its scenarios' load a freshly started server gets before its
                     first measurement (default 3): a cold process (lazy compilation, JIT, pool
                     connections, caches) would make its first line slow
  --scenarios LIST   e.g. S1,S2,S3 (default all: ${ALL.join(',')}); 'import' alone: the bulk import (--import-lines N)
  --servers LIST     which servers run (default all: ${SERVER_ORDER.join(',')}), e.g. gateway alone
  --algorithm A      the gateway's ACCESS_TOKEN_ALGORITHM: HS256 (default, with JWT_SECRET), EdDSA, ES256 or RS256
  --log-level L      the gateway's LOG_LEVEL (default info, as in production)
  --fresh            seed again even if a complete database of that size exists
  --webhook          subscribe one webhook endpoint (a local receiver) to every event, to compare S5 with and without
  --compare-webhook  the gateway twice a round, without and with that endpoint, in alternating order (one line each)
  --profile          a CPU profile of the gateway per scenario (node --cpu-prof; a gateway process per
                     scenario, started at its first line and warmed then, while the other servers
                     run once a round as usual), with a summary of where the time went, in
                     bench/results/profiles/<run>/
  --readme           also write the results into README.md's Performance section
Needs DATABASE_URL: a PostgreSQL server where the benchmark may create databases.`);
    process.exit(0);
  }
  const int = (name: string, value: string, min: number) => {
    const n = Number(value.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}; got "${value}"`);
    return n;
  };
  const scenarios = values.scenarios!.split(',').map((s) => s.trim().toUpperCase()) as ScenarioId[];
  for (const s of scenarios) if (!ALL.includes(s)) throw new Error(`--scenarios: unknown scenario "${s}" (${ALL.join(', ')})`);
  const servers = values.servers!.split(',').map((s) => s.trim().toLowerCase()) as ServerKind[];
  for (const s of servers) if (!SERVER_ORDER.includes(s)) throw new Error(`--servers: unknown server "${s}" (${SERVER_ORDER.join(', ')})`);
  return {
    users: int('users', values.users!, 1000),
    duration: int('duration', values.duration!, 1),
    connections: [...new Set(values.connections!.split(',').map((c) => int('connections', c.trim(), 1)))].sort((a, b) => a - b),
    rounds: int('rounds', values.rounds!, 1),
    warmup: int('warmup', values.warmup!, 0),
    serverWarmup: int('server-warmup', values['server-warmup']!, 0),
    scenarios,
    servers,
    algorithm: ((a) => {
      if (!['HS256', 'EdDSA', 'ES256', 'RS256'].includes(a)) throw new Error(`--algorithm must be HS256, EdDSA, ES256 or RS256; got "${a}"`);
      return a as 'HS256' | 'EdDSA' | 'ES256' | 'RS256';
    })(values.algorithm!),
    logLevel: values['log-level']!,
    fresh: values.fresh!,
    readme: values.readme!,
    webhook: values.webhook!,
    compareWebhook: values['compare-webhook']!,
    profile: values.profile!,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');

async function machine(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query('SHOW server_version');
  await client.end();
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    loadAverageAtStart: loadavg().map((n) => Math.round(n * 100) / 100),
    node: process.version,
    postgres: rows[0].server_version as string,
  };
}

interface Line {
  variant: Variant;
  /** Concurrent connections of its load; null for a variant of single calls (S6). */
  connections: number | null;
  /** Measured with the webhook endpoint subscribed. */
  webhook: boolean;
  rounds: Measurement[];
}

async function main() {
  const opts = options();
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl || !/^postgres(ql)?:\/\//.test(adminUrl)) {
    throw new Error('DATABASE_URL must name a PostgreSQL server (postgres://…) on which the benchmark may create its database.');
  }
  const started = new Date();
  // The gateway runs as `npm start` runs it: dist/, built from this checkout now.
  await buildDist();
  const seed = await prepareDatabase(adminUrl, opts.users, { fresh: opts.fresh, log });
  await createPostGraphileFunctions(seed.url);
  const reset = await resetDatabase(seed.url);
  if (reset.users + reset.sessions > 0) log(`put back ${reset.users} users and ${reset.sessions} sessions changed by an earlier run`);

  // The fixtures' tokens are signed as the gateway signs them: with JWT_SECRET (HS256), or with the
  // deployment's current key from signing_keys (made to exist here, of --algorithm).
  const hs256 = opts.algorithm === 'HS256';
  const signingDatabase = await openDatabase({ kind: 'postgres', url: seed.url }, {});
  await runMigrations(signingDatabase);
  const auth = { appId: APP_ID, publicUrl: GATEWAY_PUBLIC_URL, jwtSecret: hs256 ? JWT_SECRET : null, accessTokenAlgorithm: opts.algorithm };
  const keys = createTokenKeys(signingDatabase.db, auth);
  const refreshKeys = createRefreshTokenKeys(signingDatabase.db, { appId: APP_ID });
  const fixtures = await loadFixtures(seed.url, opts.users, keys, refreshKeys).finally(() => signingDatabase.close());
  // The raw baseline verifies HS256 with JWT_SECRET only: with another algorithm, the gateway alone runs.
  const selected = variants(fixtures).filter(
    (v) => opts.scenarios.includes(v.scenario) && opts.servers.includes(v.server) && (hs256 || v.server === 'gateway'),
  );
  // The gateway's webhook states a round runs: with --compare-webhook both, the order alternating by round.
  const webhookStates = opts.compareWebhook ? [false, true] : [opts.webhook];
  const lines: Line[] = selected.flatMap((variant) =>
    webhookStates
      .filter((webhook) => !webhook || variant.server === 'gateway')
      .flatMap((webhook) =>
        (variant.load ? opts.connections : [null]).map((connections) => ({
          variant: opts.compareWebhook && webhook ? { ...variant, label: `${variant.label} + webhook` } : variant,
          webhook,
          connections,
          rounds: [] as Measurement[],
        })),
      ),
  );
  const env: Record<ServerKind, Record<string, string>> = {
    gateway: {
      DATABASE_URL: seed.url,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      ADMIN_API_KEY: ADMIN_KEY,
      ...(hs256 ? { JWT_SECRET } : {}),
      ACCESS_TOKEN_ALGORITHM: opts.algorithm,
      APP_ID,
      LOG_LEVEL: opts.logLevel,
      PUBLIC_URL: GATEWAY_PUBLIC_URL,
    },
    postgraphile: { DATABASE_URL: seed.url },
    raw: { DATABASE_URL: seed.url, JWT_SECRET, APP_ID },
  };

  const receiver = opts.webhook || opts.compareWebhook ? await startBenchReceiver() : null;
  if (receiver) log(`--webhook: one endpoint subscribed to every event, POSTing to ${receiver.url}`);
  const profileDir = `${projectRoot}/bench/results/profiles/${started.toISOString().replace(/[:.]/g, '-')}`;
  if (opts.profile) mkdirSync(profileDir, { recursive: true });
  const bench: Bench = { opts, databaseUrl: seed.url, database: new URL(seed.url).pathname.slice(1), env, receiver, webhookStates, profileDir, lines };
  const idleCpuByRound: IdleCpu[] = [];
  for (let round = 1; round <= opts.rounds; round++) idleCpuByRound.push(await runRound(bench, round));

  if (receiver) await receiver.close();
  const kdf = selected.some((v) => v.scenario === 'S8') ? measureKdf() : null;
  const report = summarize(lines, opts, seed, await machine(seed.url), started, fixtures.bulkBatches[0]?.length ?? 0, kdf);
  console.log(report.table);
  mkdirSync(`${projectRoot}/bench/results`, { recursive: true });
  const file = `${projectRoot}/bench/results/${started.toISOString().replace(/[:.]/g, '-')}-${opts.users}-users.json`;
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ ...report.json, idleCpuByRound }, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  log(`results written to ${relative(projectRoot, file)}`);
  if (opts.readme) {
    writeReadme(report.markdown);
    log('README.md: Performance section updated');
  }
}

/** What every round of a run works with. */
interface Bench {
  opts: ReturnType<typeof options>;
  databaseUrl: string;
  /** The benchmark database's name, to find its PostgreSQL backends. */
  database: string;
  env: Record<ServerKind, Record<string, string>>;
  receiver: BenchReceiver | null;
  /** The gateway's webhook states: without and with an endpoint for --compare-webhook, else one. */
  webhookStates: boolean[];
  profileDir: string;
  lines: Line[];
}

/** A server's turn in a round: its kind, and for the gateway whether its webhook endpoint is subscribed. */
interface Turn {
  kind: ServerKind;
  webhook: boolean;
}

/** CPU each server used while another one was measured, and for how long: an idle server should use next to none. */
type IdleCpu = Partial<Record<ServerKind, { cpuMs: number; seconds: number }>>;

/**
 * One round: every server started at its start and warmed; each read-only scenario at each number of
 * connections measured on every server back to back (pairedOrder), so that a ratio compares
 * measurements taken seconds apart, not minutes, on a machine whose speed drifts; then the lines that
 * change data (the gateway's alone) and the database put back.
 */
async function runRound(bench: Bench, round: number): Promise<IdleCpu> {
  const turns = roundTurns(bench, round);
  const servers = new RoundServers(bench, round);
  try {
    await servers.startAll([...new Set(turns.map((t) => t.kind))]);
    for (const unit of pairedUnits(bench.lines)) {
      const order = pairedOrder(unit, turns);
      await servers.prepare(order);
      for (const line of order) await measureLine(bench, servers, line, round);
    }
    await measureChangingLines(bench, servers, round);
    // The ratios pair each line's measurements by round: every line has one a round.
    const missed = bench.lines.filter((l) => l.rounds.length !== round);
    if (missed.length > 0) throw new Error(`round ${round} did not measure ${missed.map((l) => `${l.variant.scenario} ${l.variant.label}`).join(', ')}`);
    return servers.logIdleCpu();
  } finally {
    await servers.stopAll();
  }
}

/**
 * The order of a round's servers, rotated by round so that none is always first: gateway,
 * PostGraphile, raw in round 1; PostGraphile, raw, gateway in round 2; raw, gateway, PostGraphile in
 * round 3; … The gateway's webhook states (--compare-webhook) take its turn one after the other,
 * which one first alternating by round.
 */
function roundTurns(bench: Bench, round: number): Turn[] {
  const kinds = SERVER_ORDER.filter((kind) => bench.lines.some((l) => l.variant.server === kind));
  const shift = (round - 1) % kinds.length;
  const states = round % 2 === 1 ? bench.webhookStates : [...bench.webhookStates].reverse();
  return [...kinds.slice(shift), ...kinds.slice(0, shift)].flatMap((kind) => (kind === 'gateway' ? states : [false]).map((webhook) => ({ kind, webhook })));
}

/** The read-only lines by scenario and number of connections: each such unit's lines are measured back to back. */
function pairedUnits(lines: Line[]): Line[][] {
  const units = new Map<string, Line[]>();
  for (const line of lines.filter((l) => !l.variant.mutates)) {
    const key = `${line.variant.scenario} ${line.connections}`;
    units.set(key, [...(units.get(key) ?? []), line]);
  }
  return [...units.values()];
}

/**
 * A unit's lines in the order a round measures them, in blocks: the first shape's lines (S1, S2:
 * edges), then the second's, or for lines without shapes the first line of each server, then the
 * second (S4: /introspect with verify-only, then …/auth/profile with verify + SQL); in each block
 * the servers in the round's order, so that the two lines of a ratio follow each other. The raw
 * server's one line for both shapes goes in the first block (round 1: gateway edges, PostGraphile
 * edges, raw, gateway nodes, PostGraphile nodes).
 */
function pairedOrder(unit: Line[], turns: Turn[]): Line[] {
  const shapes = [...new Set(unit.map((l) => l.variant.shape).filter((shape) => shape !== undefined))];
  const blocks: Line[][] = [];
  for (const turn of turns) {
    const mine = unit.filter((l) => l.variant.server === turn.kind && l.webhook === turn.webhook);
    const unshaped = mine.filter((l) => l.variant.shape === undefined);
    for (const line of mine) {
      const block = line.variant.shape === undefined ? unshaped.indexOf(line) : shapes.indexOf(line.variant.shape);
      (blocks[block] ??= []).push(line);
    }
  }
  return blocks.flat();
}

/**
 * The gateway's lines that change data, after every read-only line as before: per webhook state
 * (alternating by round), the gateway warmed with them first, then (--webhook) the deliveries
 * checked, and the database put back.
 */
async function measureChangingLines(bench: Bench, servers: RoundServers, round: number): Promise<void> {
  const states = round % 2 === 1 ? bench.webhookStates : [...bench.webhookStates].reverse();
  for (const webhook of states) {
    const changing = bench.lines.filter((l) => l.variant.mutates && l.webhook === webhook);
    if (changing.length === 0) continue;
    await servers.beginChanges(changing, webhook);
    for (const line of changing) await measureLine(bench, servers, line, round);
    if (webhook && bench.receiver) await logDeliveries(bench.databaseUrl, bench.receiver, round);
    await resetDatabase(bench.databaseUrl);
  }
}

/** Measures `line` on its server of the round and logs it; the other servers idle meanwhile. */
async function measureLine(bench: Bench, servers: RoundServers, line: Line, round: number): Promise<void> {
  const server = await servers.serverFor(line);
  // Where a request also makes PostgreSQL (and, with --webhook, the receiver) work, their CPU too.
  const receiver = line.webhook ? bench.receiver : null;
  const side = cpuMeter({
    postgres: () => postgresBackendCpuMs(bench.database),
    ...(receiver ? { receiver: () => treeCpuMs(receiver.pid) } : {}),
  });
  const idleDone = servers.watchIdle(server);
  const m = await measure(server, line, bench.opts, side);
  idleDone();
  // What the load left behind (the last responses, a collection, PostgreSQL still running the
  // statements of requests autocannon gave up on) must not run into the next measurement, often
  // another server's.
  await untilIdle(server, bench.database);
  line.rounds.push(m);
  const sideCpu = Object.entries(m.sideCpuMsPerRequest ?? {})
    .map(([name, ms]) => `, ${name} ${fmt(ms, 2)}`)
    .join('');
  log(
    `round ${round} ${line.variant.scenario} ${`${line.variant.label}${line.variant.shape ? ` (${line.variant.shape})` : ''}`.padEnd(36)} ${line.connections === null ? '' : `${line.connections} conn `}${fmt(m.rps).padStart(7)} req/s  p50 ${fmt(m.p50, 1)} ms  p99 ${fmt(m.p99, 1)} ms  RSS ${fmt(m.rssMb)} MB  CPU ${fmt(m.cpuMsPerRequest, 2)}${sideCpu} ms/req  load ${loadavg()[0]!.toFixed(2)}${m.bad || m.errors ? `  ${m.bad} bad, ${m.errors} errors` : ''}`,
  );
}

/** --webhook: whether every event the lines committed reached the receiver, and how late. */
async function logDeliveries(databaseUrl: string, receiver: BenchReceiver, round: number): Promise<void> {
  const outbox = await waitForDeliveries(databaseUrl);
  const got = await receiver.received();
  const latency = [...got.latencyMs].sort((a, b) => a - b);
  const at = (q: number) => latency[Math.min(latency.length - 1, Math.floor(q * latency.length))] ?? NaN;
  const complete = outbox.pending === 0 && outbox.failed === 0 && outbox.delivered === outbox.events && got.distinct === outbox.events;
  log(
    `round ${round} --webhook: ${outbox.events} events committed, ${outbox.delivered} delivered, ${outbox.pending} pending, ${outbox.failed} failed ` +
      `(drained ${fmt(outbox.drainSeconds, 1)} s after the load); the receiver got ${got.distinct} distinct ids in ${got.posts} POSTs, ` +
      `event → receiver p50 ${fmt(at(0.5))} ms, p99 ${fmt(at(0.99))} ms, max ${fmt(latency.at(-1) ?? NaN)} ms${complete ? '' : '  INCOMPLETE'}`,
  );
}

/**
 * The server processes of a round: each kind started once at its start and warmed with its
 * read-only lines, idle while the others are measured, stopped at its end. With --profile the
 * gateway runs a process per scenario instead (node --cpu-prof), started at its scenario's first
 * line, so that each profile is of one scenario alone.
 */
class RoundServers {
  private readonly running = new Map<ServerKind, RunningServer>();
  /** With --profile, the profile the running gateway writes when it stops. */
  private profileName: string | null = null;
  /** Whether the gateway's webhook endpoint is subscribed; null: to be set anew. */
  private endpoint: boolean | null = null;
  private readonly idle: IdleCpu = {};

  constructor(
    private readonly bench: Bench,
    private readonly round: number,
  ) {}

  async startAll(kinds: ServerKind[]): Promise<void> {
    const { env, lines, opts } = this.bench;
    for (const kind of kinds) {
      if (kind === 'gateway' && opts.profile) continue;
      const server = await startServer(kind, env[kind]);
      this.running.set(kind, server);
      if (kind === 'gateway') await this.setEndpoint(server, false);
      await warmServer(server, lines.filter((l) => l.variant.server === kind && !l.variant.mutates), this.bench);
    }
  }

  /** --profile: the gateway process of these lines' scenario started and warmed before the first of them is measured. */
  async prepare(lines: Line[]): Promise<void> {
    const gatewayLine = lines.find((l) => l.variant.server === 'gateway');
    if (gatewayLine && this.bench.opts.profile) await this.startProfiledGateway(gatewayLine);
  }

  /** The process that measures `line`, with the gateway's webhook endpoint as the line needs it. */
  async serverFor(line: Line): Promise<RunningServer> {
    const kind = line.variant.server;
    if (kind === 'gateway' && this.bench.opts.profile) await this.startProfiledGateway(line);
    const server = this.running.get(kind)!;
    if (kind === 'gateway') await this.setEndpoint(server, line.webhook);
    return server;
  }

  /**
   * Before the lines that change data of one webhook state: the endpoint set anew (an empty outbox,
   * the receiver's counts reset) and the gateway warmed with those lines; with --profile, each
   * scenario's process is warmed as it starts.
   */
  async beginChanges(changing: Line[], webhook: boolean): Promise<void> {
    this.endpoint = null;
    if (this.bench.opts.profile) return;
    const gateway = this.running.get('gateway')!;
    await this.setEndpoint(gateway, webhook);
    await warmServer(gateway, changing, this.bench);
  }

  /** --profile: the gateway process of `line`'s scenario (and webhook state, where it changes data), started and warmed if not running. */
  private async startProfiledGateway(line: Line): Promise<void> {
    const { env, lines, profileDir } = this.bench;
    const group = lines.filter(
      (l) => l.variant.server === 'gateway' && l.variant.scenario === line.variant.scenario && (!line.variant.mutates || l.webhook === line.webhook),
    );
    const name = `${line.variant.scenario}-round${this.round}${group.every((l) => l.webhook) ? '-webhook' : ''}.cpuprofile`;
    if (this.profileName === name) return;
    await this.stop('gateway');
    const server = await startServer('gateway', env.gateway, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}`]);
    this.running.set('gateway', server);
    this.profileName = name;
    await this.setEndpoint(server, line.webhook);
    await warmServer(server, group, this.bench);
  }

  private async setEndpoint(gateway: RunningServer, webhook: boolean): Promise<void> {
    if (this.endpoint === webhook) return;
    await setWebhookEndpoint(this.bench.databaseUrl, gateway.baseUrl, ADMIN_KEY, webhook ? this.bench.receiver : null);
    this.endpoint = webhook;
  }

  /** Starts counting the CPU of the servers other than `measured`; the function returned stops it. */
  watchIdle(measured: RunningServer): () => void {
    const started = performance.now();
    const others = [...this.running.values()].filter((s) => s !== measured).map((server) => ({ server, cpuMs: server.cpuMs() }));
    return () => {
      const seconds = (performance.now() - started) / 1000;
      for (const { server, cpuMs } of others) {
        const idle = (this.idle[server.kind] ??= { cpuMs: 0, seconds: 0 });
        idle.cpuMs += server.cpuMs() - cpuMs;
        idle.seconds += seconds;
      }
    };
  }

  logIdleCpu(): IdleCpu {
    const idle = Object.entries(this.idle).map(([kind, { cpuMs, seconds }]) => `${kind} ${fmt(cpuMs)} ms in ${fmt(seconds)} s`);
    if (idle.length > 0) log(`round ${this.round}: CPU of each server while another was measured: ${idle.join(', ')}`);
    return this.idle;
  }

  private async stop(kind: ServerKind): Promise<void> {
    const server = this.running.get(kind);
    if (!server) return;
    this.running.delete(kind);
    await server.stop();
    if (kind === 'gateway' && this.profileName) {
      log(`profile: ${relative(projectRoot, writeProfileSummary(`${this.bench.profileDir}/${this.profileName}`))}`);
      this.profileName = null;
    }
  }

  async stopAll(): Promise<void> {
    for (const kind of [...this.running.keys()]) await this.stop(kind);
  }
}

async function measure(
  server: RunningServer,
  line: Line,
  opts: ReturnType<typeof options>,
  side: ReturnType<typeof cpuMeter>,
): Promise<Measurement> {
  const { variant } = line;
  if (variant.calls) return measureCalls(server, variant.calls.count, (i) => variant.calls!.call(server.baseUrl, i));
  const load = variant.load!;
  const connections = line.connections!;
  // S4: each token checked once just before, as an app's back end checking its users' tokens would
  // have; the warm-up alone cycles too slowly through them once the session cache's entries are past
  // their minute (a line measured a minute after the server's warm-up measured that cold case instead).
  if (variant.primeRequests) await measureLoad(server, load, { connections, amount: variant.primeRequests });
  if (opts.warmup > 0) await measureLoad(server, load, { connections, duration: opts.warmup });
  const before = side.sample();
  const m = await measureLoad(server, load, { connections, duration: opts.duration });
  return { ...m, sideCpuMsPerRequest: side.perRequest(before, side.sample(), m.requests) };
}

/**
 * A freshly started server's warm-up, before the first of `lines` is measured: each variant under
 * its own load for --server-warmup seconds, at the most connections measured (S4's priming is
 * measure's, just before each of its lines).
 */
async function warmServer(server: RunningServer, lines: Line[], { opts, database }: Bench): Promise<void> {
  const connections = opts.connections.at(-1)!;
  // By load, not by line: --compare-webhook's "+ webhook" lines share theirs with the lines without.
  for (const load of new Set(lines.map((l) => l.variant.load))) {
    if (!load) continue;
    if (opts.serverWarmup > 0) await measureLoad(server, load, { connections, duration: opts.serverWarmup });
  }
  await untilIdle(server, database);
}

/**
 * Waits (up to 30 s) until the server and the PostgreSQL backends of `database` have used under
 * 20 ms of CPU in a quarter second: work queued by a warm-up or a measurement (S8's password
 * hashes, 19 MiB each; PostGraphile's S2 statements, a second each) must not run into the next one.
 */
async function untilIdle(server: RunningServer, database: string): Promise<void> {
  const meter = cpuMeter({ server: () => server.cpuMs(), postgres: () => postgresBackendCpuMs(database) });
  const deadline = Date.now() + 30_000;
  let before = meter.sample();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const now = meter.sample();
    const used = Object.values(meter.perRequest(before, now, 1)).reduce((a, b) => a + b, 0);
    if (used < 20) return;
    before = now;
  }
}

/** S8: the CPU cost of the password hash alone (Argon2id with the gateway's parameters), on this process's thread. */
function measureKdf(): { params: string; msPerHash: number } {
  const { memoryKiB, timeCost, parallelism } = ARGON2_PARAMS;
  // Algorithm 2 is Argon2id (a const enum of @node-rs/argon2: no value at run time).
  const options = { algorithm: 2, memoryCost: memoryKiB, timeCost, parallelism, salt: randomBytes(16), outputLen: 32 };
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const cpuBefore = process.cpuUsage();
    hashRawSync('benchmark', options);
    const cpu = process.cpuUsage(cpuBefore);
    times.push((cpu.user + cpu.system) / 1000);
  }
  return { params: `m=${memoryKiB} KiB, t=${timeCost}, p=${parallelism}`, msPerHash: median(times) };
}

interface Summary {
  scenario: ScenarioId;
  name: string;
  label: string;
  server: ServerKind;
  connections: number | null;
  rps: number;
  p50: number;
  p99: number;
  rssMb: number;
  maxRssMb: number;
  cpuMsPerRequest: number;
  bad: number;
  errors: number;
  rounds: Measurement[];
  /** Each the median of `ratiosByRound`. */
  ratios: Record<string, number>;
  /** Each round's ratio of two lines measured one shortly after the other in that round. */
  ratiosByRound: Record<string, number[]>;
}

function summarize(
  lines: Line[],
  opts: ReturnType<typeof options>,
  seed: Awaited<ReturnType<typeof prepareDatabase>>,
  host: Awaited<ReturnType<typeof machine>>,
  started: Date,
  bulkSize: number,
  kdf: { params: string; msPerHash: number } | null,
) {
  const rows: Summary[] = lines.map(({ variant, connections, rounds }) => ({
    scenario: variant.scenario,
    name: variant.name,
    label: variant.label,
    server: variant.server,
    connections,
    rps: median(rounds.map((m) => m.rps)),
    p50: median(rounds.map((m) => m.p50)),
    p99: median(rounds.map((m) => m.p99)),
    rssMb: median(rounds.map((m) => m.rssMb)),
    maxRssMb: Math.max(...rounds.map((m) => m.rssMb)),
    cpuMsPerRequest: median(rounds.map((m) => m.cpuMsPerRequest)),
    bad: rounds.reduce((n, m) => n + m.bad, 0),
    errors: rounds.reduce((n, m) => n + m.errors, 0),
    rounds,
    ratios: {},
    ratiosByRound: {},
  }));
  /** The line of a scenario's server at the same connections; `name` when the scenario has several (S1, S2: the shape). */
  const find = (of: Pick<Summary, 'scenario' | 'connections'>, label: string, name?: string) =>
    rows.find((r) => r.scenario === of.scenario && r.connections === of.connections && r.label === label && (name === undefined || r.name === name));
  /**
   * A ratio of `r` to `other`, paired: in each round, of the two measurements that round took one
   * shortly after the other (every line is measured once a round), then the median of those.
   */
  const pair = (r: Summary, name: string, other: Summary | undefined, of = (m: Measurement, o: Measurement) => m.rps / o.rps) => {
    if (!other) return;
    r.ratiosByRound[name] = r.rounds.map((m, i) => (other.rounds[i] ? of(m, other.rounds[i]) : NaN));
    r.ratios[name] = median(r.ratiosByRound[name]);
  };
  /** A ratio's rounds as the checks quote them, "by round 1.53, 1.71, 1.62"; '' with one round. */
  const byRound = (r: Summary, name: string, digits = 2, unit = '') =>
    r.rounds.length > 1 ? `by round ${r.ratiosByRound[name]!.map((x) => `${fmt(x * (unit === '%' ? 100 : 1), digits)}${unit}`).join(', ')}` : '';
  /** A ratio as the checks quote it: "1.62; by round 1.53, 1.71, 1.62". */
  const quote = (r: Summary, name: string, digits = 2, unit = '') =>
    [`${fmt(r.ratios[name]! * (unit === '%' ? 100 : 1), digits)}${unit}`, byRound(r, name, digits, unit)].filter(Boolean).join('; ');
  for (const r of rows) {
    if (r.server !== 'gateway') continue;
    if (['S1', 'S2', 'S3'].includes(r.scenario)) {
      pair(r, 'gateway/PostGraphile', find(r, 'PostGraphile 4', r.name));
      // The raw server answers both shapes with the same rows.
      pair(r, 'gateway/raw', find(r, 'raw'));
    }
    if (r.scenario === 'S4') {
      pair(r, 'gateway/raw verify-only', find(r, 'raw verify-only'));
      pair(r, 'gateway/raw verify+SQL', find(r, 'raw verify + SQL'));
    }
  }

  // The bars of issue 18, checked where this run has the figures, at each number of connections.
  const checks: string[] = [];
  const check = (ok: boolean, what: string) => checks.push(`${ok ? 'meets' : 'MISSES'}: ${what}`);
  const p99Connections = opts.connections.includes(20) ? 20 : opts.connections.at(-1)!;
  for (const g of rows.filter((r) => r.label === 'gateway' && ['S1', 'S2', 'S3'].includes(r.scenario))) {
    const at = `${g.scenario} ${g.name}, ${g.connections} connections`;
    const vsPgl = g.ratios['gateway/PostGraphile'];
    const vsRaw = g.ratios['gateway/raw'];
    if (vsPgl !== undefined) check(vsPgl >= 1.5, `${at}: gateway/PostGraphile ≥ 1.5 (${quote(g, 'gateway/PostGraphile')})`);
    if (vsRaw !== undefined && g.scenario !== 'S3') check(vsRaw >= 0.6, `${at}: gateway/raw ≥ 0.6 (${quote(g, 'gateway/raw')})`);
    if (g.connections === p99Connections) check(g.p99 < 50, `${at}: gateway p99 < 50 ms (${fmt(g.p99, 1)} ms)`);
  }
  for (const introspect of rows.filter((r) => r.label === 'gateway POST /introspect')) {
    const vsVerify = introspect.ratios['gateway/raw verify-only'];
    const vsSql = introspect.ratios['gateway/raw verify+SQL'];
    if (vsVerify !== undefined) check(vsVerify >= 0.8, `S4 /introspect ≥ 0.8 of verify-only at ${introspect.connections} connections (${quote(introspect, 'gateway/raw verify-only')})`);
    if (vsSql !== undefined) check(vsSql > 1, `S4 /introspect above verify+SQL at ${introspect.connections} connections (${quote(introspect, 'gateway/raw verify+SQL')})`);
  }
  const bulk = rows.find((r) => r.label === 'gateway disableUsers');
  if (bulk) check(bulk.p50 < 5000, `S6 ${fmt(bulkSize)} users disabled in one call < 5 s (median ${fmt(bulk.p50 / 1000, 2)} s)`);
  // Issue 15: an action is no more than 10% slower with one webhook endpoint subscribed.
  for (const r of rows.filter((row) => row.label.endsWith(' + webhook'))) {
    const without = find(r, r.label.slice(0, -' + webhook'.length), r.name);
    if (!without) continue;
    pair(r, 'webhook/without', without);
    check(r.ratios['webhook/without']! >= 0.9, `${r.scenario} ${r.name} at ${r.connections} connections with a webhook endpoint ≥ 90% of without (${quote(r, 'webhook/without', 0, '%')})`);
    // The same comparison in CPU per request, which other work on the machine moves less: the
    // throughput the extra CPU allows where the CPU is the limit, as a share of the throughput without.
    const cpuOf = (rounds: Measurement[]) =>
      median(rounds.map((m) => m.cpuMsPerRequest + Object.values(m.sideCpuMsPerRequest ?? {}).reduce((a, b) => a + b, 0)));
    const cpuWith = cpuOf(r.rounds);
    const cpuWithout = cpuOf(without.rounds);
    if (cpuWith > 0 && cpuWithout > 0) {
      pair(r, 'webhook/without by CPU', without, (m, o) => cpuOf([o]) / cpuOf([m]));
      checks.push(
        `${r.scenario} ${r.name} at ${r.connections} connections: CPU per request ${fmt(cpuWithout, 2)} ms without an endpoint, ${fmt(cpuWith, 2)} ms with one ` +
          `(gateway, its PostgreSQL backends and the receiver; medians), so ${fmt(r.ratios['webhook/without by CPU']! * 100, 0)}% of the throughput without where CPU is the limit` +
          `${r.rounds.length > 1 ? ` (${byRound(r, 'webhook/without by CPU', 0, '%')})` : ''}`,
      );
    }
  }
  // S8: what logins by password cost, and what 5,000 a second would take.
  const logins = rows.filter((r) => r.scenario === 'S8');
  if (kdf && logins.length > 0) {
    const best = Math.max(...logins.map((r) => r.rps));
    const perCore = 1000 / kdf.msPerHash;
    checks.push(
      `S8: one Argon2id hash (${kdf.params}) costs ${fmt(kdf.msPerHash, 1)} ms of CPU, so at most ${fmt(perCore)} logins/s per core; ` +
        `one instance here (${host.cores} cores, PASSWORD_HASH_CONCURRENCY default) answered ${fmt(best)} logins/s; ` +
        `5,000 logins/s take ${fmt(Math.ceil(5000 / best))} such instances (${fmt(Math.ceil(5000 / perCore))} cores of hashing alone)`,
    );
  }
  const gatewayRss = Math.max(...rows.filter((r) => r.server === 'gateway' && r.connections !== null).map((r) => r.maxRssMb));
  if (Number.isFinite(gatewayRss)) check(gatewayRss < 200, `gateway RSS < 200 MB under load (max ${fmt(gatewayRss)} MB)`);
  const invalid = rows.filter((r) => r.bad || r.errors);
  for (const r of invalid) checks.push(`WARNING: ${r.scenario} ${r.label}: ${r.bad} wrong answers, ${r.errors} errors`);

  const header = '| | server | conns | req/s | p50 ms | p99 ms | RSS MB | CPU ms/req | vs PostGraphile | vs raw |';
  const table = [
    header,
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => {
      const vsPgl = r.ratios['gateway/PostGraphile'];
      const vsRaw = r.ratios['gateway/raw'] ?? r.ratios['gateway/raw verify-only'];
      const vsRawText =
        r.ratios['gateway/raw verify-only'] !== undefined
          ? `${fmt(r.ratios['gateway/raw verify-only'], 2)} (verify-only), ${fmt(r.ratios['gateway/raw verify+SQL'] ?? NaN, 2)} (+SQL)`
          : vsRaw !== undefined
            ? fmt(vsRaw, 2)
            : '';
      return `| ${r.scenario} ${r.name} | ${r.label} | ${r.connections ?? ''} | ${fmt(r.rps)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.rssMb)} | ${fmt(r.cpuMsPerRequest, 2)} | ${vsPgl !== undefined ? fmt(vsPgl, 2) : ''} | ${vsRawText} |`;
    }),
  ].join('\n');
  const setup =
    `${fmt(opts.users)} users (${seed.reused ? 'reused' : `seeded in ${fmt(seed.seedSeconds ?? NaN, 1)} s`}), ` +
    `${opts.connections.join(' and ')} connections, ${opts.duration} s per measurement after ${opts.warmup} s of warm-up (each server first warmed with ${opts.serverWarmup} s of each of its scenarios), ` +
    `median of ${opts.rounds} round${opts.rounds === 1 ? '' : 's'}, each measuring the servers of a scenario back to back (order rotated by round); ` +
    `ratios: the median of each round's ratio of those paired measurements; S6: median of ${opts.rounds * 3} calls, p99 column = slowest.`;
  const machineLine =
    `${host.cores} × ${host.cpu}, ${host.memoryGb} GB, Node ${host.node}, PostgreSQL ${host.postgres} on the same machine; ` +
    `load average at start ${host.loadAverageAtStart.join(' / ')}.`;
  const markdown = [
    `Run of ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC: ${setup}`,
    '',
    `Machine: ${machineLine}`,
    '',
    table,
    '',
    ...checks.map((c) => `- ${c}`),
  ].join('\n');
  return {
    table: `\n${setup}\n${machineLine}\n\n${table}\n\n${checks.join('\n')}\n`,
    markdown,
    json: {
      startedAt: started.toISOString(),
      options: opts,
      seed,
      machine: host,
      scenarios: Object.fromEntries(ALL.map((s) => [s, SCENARIO_NAMES[s]])),
      results: rows,
      checks,
    },
  };
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/** Replaces what stands between the markers of README.md's Performance section, nothing else. */
function writeReadme(markdown: string) {
  const path = `${projectRoot}/README.md`;
  const readme = readFileSync(path, 'utf8');
  const from = readme.indexOf(START);
  const to = readme.indexOf(END);
  if (from < 0 || to < from) throw new Error(`README.md has no ${START} … ${END} markers`);
  writeFileSync(path, `${readme.slice(0, from + START.length)}\n${markdown}\n${readme.slice(to)}`);
}

// `--scenarios import` is the bulk-import benchmark (bench/import.ts): it needs no seeded database.
const importScenario = /(^|\s)--scenarios[= ]import(\s|$)/.test(process.argv.slice(2).join(' '));
(importScenario ? import('./import.js').then((m) => m.runImportBenchmark(process.argv.slice(2))) : main()).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
