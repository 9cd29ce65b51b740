// Attack of issue 11, part 3: the cost limit bypassed with variables. A viewer key asks for
// `users(first: $u) { … sessions(first: $s) … }` with u = s = 500, under 1 and 4 aliases, of a
// gateway process (as `npm start` runs it) on 500 users with 500 live sessions each. Before the fix
// each alias returned 250,000 sessions; now each request is refused before it runs.
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/attacks/cost-variables.ts
//   (ALIASES=1,4 by default: the alias counts to try)
//
// Bounded: one database (gw_attack_cost, dropped at the end), one gateway on 127.0.0.1, one request
// per form with a 60 s timeout; it stops by itself.
import pg from 'pg';
import { startServer } from '../lib/servers.js';

const admin = process.env.DATABASE_URL;
if (!admin) {
  console.error('Set DATABASE_URL to a PostgreSQL server where this may create a database.');
  process.exit(2);
}
const USERS = 500;
const SESSIONS = 500;
const name = 'gw_attack_cost';
const url = new URL(admin);
url.pathname = `/${name}`;

const root = new pg.Client({ connectionString: admin });
await root.connect();
await root.query(`DROP DATABASE IF EXISTS ${name}`);
await root.query(`CREATE DATABASE ${name}`);
const ownerKey = `attack-owner-${'x'.repeat(20)}`;
const server = await startServer('gateway', {
  DATABASE_URL: url.toString(),
  ADMIN_API_KEY: ownerKey,
  PUBLIC_URL: 'http://127.0.0.1',
  LOG_LEVEL: 'warn',
});
try {
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  await db.query(`INSERT INTO users (email, status) SELECT 'attack' || i || '@example.com', 'confirmed' FROM generate_series(1, ${USERS}) i`);
  await db.query(`INSERT INTO refresh_tokens (user_id, token_hash, expires_at)
    SELECT u.id, sha256(convert_to(u.id::text || ':' || s, 'UTF8')), now() + interval '1 day' FROM users u, generate_series(1, ${SESSIONS}) s`);
  await db.end();

  const graphql = async (key: string, body: unknown) => {
    const started = Date.now();
    const res = await fetch(`${server.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    return { status: res.status, bytes: text.length, ms: Date.now() - started, text };
  };
  const made = await graphql(ownerKey, {
    query: 'mutation { createAdminKey(name: "viewer", role: VIEWER) { ... on CreateAdminKeySuccess { secret } } }',
  });
  const viewer = JSON.parse(made.text).data.createAdminKey.secret as string;
  const page = 'edges { node { id sessions(first: $s) { edges { node { id deviceId createdAt } } } } }';
  console.log(`gateway RSS before: ${server.rssMb().toFixed(0)} MB`);
  for (const aliases of (process.env.ALIASES ?? '1,4').split(',').map(Number)) {
    const fields = Array.from({ length: aliases }, (_, i) => `a${i}: users(first: $u) { ${page} }`).join(' ');
    const res = await graphql(viewer, { query: `query ($u: Int, $s: Int) { ${fields} }`, variables: { u: USERS, s: SESSIONS } });
    const code = res.status === 200 ? '' : ` ${JSON.parse(res.text).errors?.[0]?.extensions?.code}`;
    const rows = (res.text.match(/"deviceId"/g) ?? []).length;
    console.log(
      `${aliases} alias(es): HTTP ${res.status}${code}, ${rows.toLocaleString()} session rows, ${(res.bytes / 1e6).toFixed(1)} MB, ${res.ms} ms, gateway RSS ${server.rssMb().toFixed(0)} MB`,
    );
  }
} finally {
  await server.stop();
  await root.query(`DROP DATABASE IF EXISTS ${name}`);
  await root.end();
}
