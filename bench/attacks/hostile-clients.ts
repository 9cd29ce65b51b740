// Issue 11's hostile clients, against a real gateway process (`npm start`'s, on a fresh embedded
// database in a temporary directory, listening on 127.0.0.1 only), bounded in count and time:
//   1. a login burst: GUESSES concurrent wrong passwords at one account from one address;
//   2. a sign-up flood: SIGNUPS concurrent registrations from SIGNUPS addresses, with a real login
//      in the middle, timed.
// `npx tsx bench/attacks/hostile-clients.ts [--guesses 60] [--signups 150]`
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from '../lib/servers.js';

const { values } = parseArgs({
  options: { guesses: { type: 'string', default: '60' }, signups: { type: 'string', default: '150' } },
});
const GUESSES = Math.min(Number(values.guesses), 1_000);
const SIGNUPS = Math.min(Number(values.signups), 1_000);
const ADMIN_KEY = 'attack-bench-owner-key-0123456789';
const PASSWORD = 'correct horse battery';
const userpass = '/api/client/v2.0/app/app-users-gateway/auth/providers/local-userpass';

const dataDir = mkdtempSync(join(tmpdir(), 'gateway-attacks-'));
// X-Forwarded-For is sent with a single entry: the same address whichever entry TRUST_PROXY takes.
const server = await startServer('gateway', { DATA_DIR: dataDir, ADMIN_API_KEY: ADMIN_KEY, TRUST_PROXY: 'true', LOG_LEVEL: 'warn' });

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const started = performance.now();
  const res = await fetch(`${server.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  await res.text();
  return { status: res.status, ms: performance.now() - started };
}

async function createUser(email: string) {
  const res = await post(
    '/graphql',
    { query: 'mutation ($e: String!, $p: String!) { createUser(email: $e, password: $p) { __typename } }', variables: { e: email, p: PASSWORD } },
    { authorization: `Bearer ${ADMIN_KEY}` },
  );
  if (res.status !== 200) throw new Error(`createUser answered ${res.status}`);
}

/** gateway_password_hashes_total{kind="check"}, or null when this build has no such metric. */
async function passwordChecks(): Promise<number | null> {
  const res = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const text = await res.text();
  if (!text.includes('gateway_password_hashes_total')) return null;
  return Number(/gateway_password_hashes_total\{kind="check"\} (\d+)/.exec(text)?.[1] ?? 0);
}

const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((a, s) => ({ ...a, [s]: (a[s] ?? 0) + 1 }), {});

try {
  // 1. Login burst.
  await createUser('victim@example.com');
  const checksBefore = await passwordChecks();
  const burst = await Promise.all(
    Array.from({ length: GUESSES }, (_, i) => post(`${userpass}/login`, { username: 'victim@example.com', password: `guess-${i}` }, { 'x-forwarded-for': '203.0.113.1' })),
  );
  const checksAfter = await passwordChecks();
  const right = await post(`${userpass}/login`, { username: 'victim@example.com', password: PASSWORD }, { 'x-forwarded-for': '203.0.113.2' });
  console.log(
    `login burst: ${GUESSES} concurrent wrong passwords → ${JSON.stringify(tally(burst.map((r) => r.status)))}; ` +
      `password checks: ${checksBefore === null ? 'n/a (no metric)' : checksAfter! - checksBefore}; then the right password → ${right.status}`,
  );

  // 2. Sign-up flood with a login in the middle.
  await createUser('legit@example.com');
  const flood = Array.from({ length: SIGNUPS }, (_, i) =>
    post(`${userpass}/register`, { email: `flood${i}@example.com`, password: PASSWORD }, { 'x-forwarded-for': `10.20.${Math.floor(i / 250)}.${(i % 250) + 1}` }),
  );
  await new Promise((r) => setTimeout(r, 300));
  const login = await post(`${userpass}/login`, { username: 'legit@example.com', password: PASSWORD }, { 'x-forwarded-for': '192.0.2.1' });
  const floodStarted = performance.now();
  const results = await Promise.all(flood);
  console.log(
    `sign-up flood: ${SIGNUPS} concurrent sign-ups from ${SIGNUPS} addresses → ${JSON.stringify(tally(results.map((r) => r.status)))}, ` +
      `slowest ${Math.round(Math.max(...results.map((r) => r.ms)))} ms; a login during it → ${login.status} in ${Math.round(login.ms)} ms ` +
      `(flood done ${Math.round(performance.now() - floodStarted)} ms after the login)`,
  );
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
