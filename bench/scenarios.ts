// The scenarios: what each server is asked, and what counts as a correct answer. The gateway,
// PostGraphile and the raw baseline get the same question in each one's own terms.
import { request as httpRequest } from 'node:http';
import pg from 'pg';
import { hashPassword } from '../src/users/passwords.js';
import { signRefreshToken, type RefreshTokenKeys } from '../src/tokens/refresh-tokens.js';
import { hashToken, signAccessToken, type TokenKeys } from '../src/tokens/tokens.js';
import { encodeCursor } from '../src/db/keyset.js';
import type { LoadSpec, RequestShape } from './lib/load.js';
import type { ServerKind } from './lib/servers.js';

export const ADMIN_KEY = 'agk_benchmark-owner-key-0000000000000000';
export const JWT_SECRET = 'benchmark-signing-secret-0123456789abcdef';
export const APP_ID = 'app-users-gateway';

export type ScenarioId = 'S1' | 'S2' | 'S3' | 'S4' | 'S5' | 'S6' | 'S7' | 'S8';

/** S8: the password of every user that S8 logs in (their hash is set by loadFixtures). */
export const LOGIN_PASSWORD = 'benchmark password 0123';

/** One line of the results: a scenario as one server (or one of its routes) answers it. */
export interface Variant {
  scenario: ScenarioId;
  /** e.g. "first page, edges"; the same for every server of a scenario, except S4 and S5 (one line per route or action). */
  name: string;
  /** S1, S2: what the page asks for, `edges { cursor node }` and pageInfo, or only `nodes` (the raw server answers both alike). */
  shape?: 'edges' | 'nodes';
  server: ServerKind;
  /** How the line is labelled: "gateway", "PostGraphile 4", "raw", "raw verify-only", … */
  label: string;
  /** Changes data: runs after the read-only variants, and the database is reset afterwards. */
  mutates?: boolean;
  /** Before the warm-up, send this many requests: S4 checks each token once, as an app's back end would have. */
  primeRequests?: number;
  /** A load test, or single calls timed one by one (S6). */
  load?: LoadSpec;
  calls?: { count: number; call: (baseUrl: string, i: number) => Promise<boolean> };
}

export interface Fixtures {
  /** S2: the row at about the middle of the confirmed users, newest first. */
  deep: { position: number; createdAt: Date; id: string };
  /** S3: email prefixes that each match 60 to 200 users. */
  prefixes: string[];
  /** S4: valid access tokens of many users (who are never touched by S5 or S6). */
  tokens: string[];
  /** S5: confirmed users for revokeUserSessions and for disableUser, disjoint. */
  revokeUsers: string[];
  disableUsers: string[];
  /** S6: batches of up to 10,000 confirmed users. */
  bulkBatches: string[][];
  /** S7: refresh tokens (signed as the gateway signs them) of 10,000 users, one session each. */
  refreshTokens: string[];
  /** S8: emails of users whose password is LOGIN_PASSWORD. */
  loginEmails: string[];
}

/** The device id of the sessions loadFixtures adds for S7 ("device-…" like the seeded ones: resetDatabase keeps them). */
const S7_DEVICE = 'device-s7';

/**
 * Prefixes "user<n>" that match between 60 and 200 of the users user1 … user<N> (so a full first
 * page), at any N: the same kind of search at 20,000 users as at a million.
 */
export function emailPrefixes(users: number, count = 1000): string[] {
  const matches = (n: number) => {
    let total = 0;
    for (let scale = 1; n * scale <= users; scale *= 10) total += Math.min(users, (n + 1) * scale - 1) - n * scale + 1;
    return total;
  };
  const fitting: number[] = [];
  for (let digits = 1; digits <= String(users).length && fitting.length < 50_000; digits++) {
    for (let n = 10 ** (digits - 1); n < 10 ** digits && n <= users; n++) {
      const m = matches(n);
      if (m >= 60 && m <= 200) fitting.push(n);
    }
  }
  if (fitting.length === 0) throw new Error(`no email prefix matches 60 to 200 of ${users} users`);
  return Array.from({ length: count }, () => `user${fitting[Math.floor(Math.random() * fitting.length)]}`);
}

/** The number i of a seeded user user<i>@example.com; users are split into disjoint pools by i % 10. */
const NUMBER = `substring(u.email FROM 5 FOR position('@' IN u.email) - 5)::int`;

export async function loadFixtures(url: string, users: number, keys: TokenKeys, refreshKeys: RefreshTokenKeys): Promise<Fixtures> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const confirmed = Number((await client.query(`SELECT count(*) AS n FROM users WHERE status = 'confirmed'`)).rows[0].n);
    const position = Math.max(1, Math.min(Math.floor(users / 2), confirmed - 60));
    const deepRow = (
      await client.query(
        `SELECT created_at, id FROM users WHERE status = 'confirmed' ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1`,
        [position - 1],
      )
    ).rows[0];

    const prefixes = emailPrefixes(users);

    const pool = async (remainders: number[], limit: number) =>
      (
        await client.query<{ id: string }>(
          `SELECT u.id FROM users u WHERE u.status = 'confirmed' AND ${NUMBER} % 10 = ANY($1::int[]) ORDER BY ${NUMBER} LIMIT $2`,
          [remainders, limit],
        )
      ).rows.map((r) => r.id);

    const sessions = (
      await client.query<{ id: string; user_id: string }>(
        `SELECT r.id, r.user_id FROM refresh_tokens r JOIN users u ON u.id = r.user_id
         WHERE u.status = 'confirmed' AND ${NUMBER} % 10 = 4 ORDER BY random() LIMIT 10000`,
      )
    ).rows;
    const tokens = await Promise.all(
      sessions.map(
        async (s) =>
          (await signAccessToken(keys, { sub: s.user_id, sid: s.id, deviceId: '65f0c0ffee0000000000bead', userData: {} }, 6 * 3600))
            .token,
      ),
    );

    // S7: one session of each of 10,000 users, whose refresh token is known: the rows are made here
    // (again each run, the token's key being the deployment's), with the hash the gateway looks up.
    await client.query('DELETE FROM refresh_tokens WHERE device_id = $1', [S7_DEVICE]);
    const refreshUsers = await pool([2], 10_000);
    const refreshTokens = await Promise.all(refreshUsers.map((sub) => signRefreshToken(refreshKeys, { sub, ttlSeconds: 30 * 86_400 })));
    await client.query(
      `INSERT INTO refresh_tokens (user_id, token_hash, device_id, expires_at)
       SELECT user_id, token_hash, $3, now() + interval '30 days' FROM unnest($1::uuid[], $2::bytea[]) AS t(user_id, token_hash)`,
      [refreshUsers, refreshTokens.map((t) => hashToken(t)), S7_DEVICE],
    );

    // S8: 1,000 users with one password, hashed as the gateway hashes it (one hash for all: a check costs the same).
    const loginEmails = (
      await client.query<{ email: string }>(
        `SELECT u.email FROM users u WHERE u.status = 'confirmed' AND ${NUMBER} % 10 = 1 ORDER BY ${NUMBER} LIMIT 1000`,
      )
    ).rows.map((r) => r.email);
    await client.query(
      `UPDATE user_identities SET password_hash = $2 WHERE provider_type = 'local-userpass' AND provider_id = ANY($1::text[])`,
      [loginEmails.map((e) => e.toLowerCase()), await hashPassword(LOGIN_PASSWORD)],
    );

    const bulk = await pool([7, 8, 9], 300_000);
    const bulkBatches: string[][] = [];
    for (let i = 0; i < bulk.length; i += 10_000) bulkBatches.push(bulk.slice(i, i + 10_000));

    return {
      deep: { position, createdAt: deepRow.created_at, id: deepRow.id },
      prefixes,
      tokens,
      revokeUsers: await pool([5], 200_000),
      disableUsers: await pool([6], 200_000),
      bulkBatches,
      refreshTokens,
      loginEmails,
    };
  } finally {
    await client.end();
  }
}

/**
 * A plain node:http POST on a fresh connection. (The fetch of the runner, after autocannon has run
 * in the same process, was seen to stall sending a large body until the server timed it out.)
 */
function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent: false, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const cycle = <T>(items: T[]) => {
  let i = 0;
  return () => items[i++ % items.length]!;
};
const random = <T>(items: T[]) => () => items[Math.floor(Math.random() * items.length)]!;

const json = { 'content-type': 'application/json' };
const adminJson = { ...json, authorization: `Bearer ${ADMIN_KEY}` };
const graphql = (query: string, variables: Record<string, unknown> = {}): RequestShape => ({
  method: 'POST',
  path: '/graphql',
  headers: adminJson,
  body: JSON.stringify({ query, variables }),
});
/** A GraphQL answer with data, at least one node and no error. */
const graphqlPage = (status: number, body: string) =>
  status === 200 && body.startsWith('{"data":{') && (body.includes('"node":{') || body.includes('"nodes":[{')) && !body.includes('"errors"');

const USER_FIELDS = 'id email status createdAt activeSessionCount';
const PAGE_FIELDS = `edges { cursor node { ${USER_FIELDS} } } pageInfo { hasNextPage endCursor }`;
/** The page's rows only: what a client that pages by offset, or shows one page, asks for. */
const NODES_FIELDS = `nodes { ${USER_FIELDS} }`;
const SHAPES = { edges: PAGE_FIELDS, nodes: NODES_FIELDS } as const;

const gatewayPage = (shape: keyof typeof SHAPES) => `query ($after: String) { users(status: CONFIRMED, first: 50, after: $after) { ${SHAPES[shape]} } }`;
const GATEWAY_SEARCH = `query ($search: String!) { users(search: $search, first: 50) { ${PAGE_FIELDS} } }`;
const postgraphilePage = (shape: keyof typeof SHAPES) => `query ($after: Cursor) {
  allUsers(condition: { status: CONFIRMED }, first: 50, after: $after, orderBy: [CREATED_AT_DESC, ID_DESC]) { ${SHAPES[shape]} }
}`;
const POSTGRAPHILE_SEARCH = `query ($prefix: String!) { searchUsers(prefix: $prefix, first: 50) { ${PAGE_FIELDS} } }`;

/** PostGraphile 4's cursor for an ordering: base64 of ["created_at_desc", "id_desc", [values]]. */
function postgraphileCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify(['created_at_desc', 'id_desc', [createdAt.toISOString(), id]])).toString('base64');
}

const rawUsers = (body: Record<string, unknown>): RequestShape => ({
  method: 'POST',
  path: '/users',
  headers: json,
  body: JSON.stringify(body),
});
const rawOk = (status: number, body: string) => status === 200 && body.includes('"users":[{');

export const SCENARIO_NAMES: Record<ScenarioId, string> = {
  S1: 'first page: 50 confirmed users with activeSessionCount',
  S2: 'deep page: the same at keyset position ~N/2',
  S3: 'search by email prefix',
  S4: 'token check',
  S5: 'actions on distinct users',
  S6: 'bulk: disableUsers of 10,000 users in one call',
  S7: 'token refresh: POST …/auth/session with the refresh tokens of 10,000 users',
  S8: 'password login (Argon2id-bound)',
};

export function variants(f: Fixtures): Variant[] {
  const deepGateway = encodeCursor({ createdAt: new Date(f.deep.createdAt), id: f.deep.id });
  const deepPostGraphile = postgraphileCursor(new Date(f.deep.createdAt), f.deep.id);
  const prefix = random(f.prefixes);
  // In turn, so that priming (one request per token) sees every token once.
  const token = cycle(f.tokens);
  const revokeUser = cycle(f.revokeUsers);
  const disableUser = cycle(f.disableUsers);
  const refreshToken = cycle(f.refreshTokens);
  const loginEmail = cycle(f.loginEmails);
  const bearer = (path: string): RequestShape => ({ method: 'GET', path, headers: { authorization: `Bearer ${token()}` } });

  return [
    // S1 and S2, each shape: the gateway and PostGraphile answer the same GraphQL; raw has one answer for both.
    ...(['edges', 'nodes'] as const).flatMap((shape): Variant[] => [
      { scenario: 'S1', name: `first page, ${shape}`, shape, server: 'gateway', label: 'gateway', load: { next: () => graphql(gatewayPage(shape)), valid: graphqlPage } },
      { scenario: 'S1', name: `first page, ${shape}`, shape, server: 'postgraphile', label: 'PostGraphile 4', load: { next: () => graphql(postgraphilePage(shape)), valid: graphqlPage } },
      {
        scenario: 'S2', name: `deep page (position ${f.deep.position.toLocaleString('en-US')}), ${shape}`, shape, server: 'gateway', label: 'gateway',
        load: { next: () => graphql(gatewayPage(shape), { after: deepGateway }), valid: graphqlPage },
      },
      {
        scenario: 'S2', name: `deep page (position ${f.deep.position.toLocaleString('en-US')}), ${shape}`, shape, server: 'postgraphile', label: 'PostGraphile 4',
        load: { next: () => graphql(postgraphilePage(shape), { after: deepPostGraphile }), valid: graphqlPage },
      },
    ]),
    { scenario: 'S1', name: 'first page', server: 'raw', label: 'raw', load: { next: () => rawUsers({ status: 'confirmed', first: 50 }), valid: rawOk } },
    {
      scenario: 'S2', name: `deep page (position ${f.deep.position.toLocaleString('en-US')})`, server: 'raw', label: 'raw',
      load: {
        next: () => rawUsers({ status: 'confirmed', first: 50, after: { createdAt: new Date(f.deep.createdAt).toISOString(), id: f.deep.id } }),
        valid: rawOk,
      },
    },
    // S3
    { scenario: 'S3', name: 'email prefix search', server: 'gateway', label: 'gateway', load: { next: () => graphql(GATEWAY_SEARCH, { search: prefix() }), valid: graphqlPage } },
    { scenario: 'S3', name: 'email prefix search', server: 'postgraphile', label: 'PostGraphile 4', load: { next: () => graphql(POSTGRAPHILE_SEARCH, { prefix: prefix() }), valid: graphqlPage } },
    { scenario: 'S3', name: 'email prefix search', server: 'raw', label: 'raw', load: { next: () => rawUsers({ search: prefix(), first: 50 }), valid: rawOk } },
    // S4
    {
      scenario: 'S4', name: 'token check', server: 'gateway', label: 'gateway POST /introspect', primeRequests: f.tokens.length,
      load: {
        next: () => ({
          method: 'POST',
          path: '/introspect',
          headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: `token=${token()}`,
        }),
        valid: (status, body) => status === 200 && body.includes('"active":true'),
      },
    },
    {
      scenario: 'S4', name: 'token check', server: 'gateway', label: 'gateway GET …/auth/profile', primeRequests: f.tokens.length,
      load: { next: () => bearer('/api/client/v2.0/auth/profile'), valid: (status, body) => status === 200 && body.includes('"user_id"') },
    },
    {
      scenario: 'S4', name: 'token check', server: 'raw', label: 'raw verify-only',
      load: { next: () => bearer('/verify'), valid: (status, body) => status === 200 && body.includes('"active":true') },
    },
    {
      scenario: 'S4', name: 'token check', server: 'raw', label: 'raw verify + SQL',
      load: { next: () => bearer('/verify-sql'), valid: (status, body) => status === 200 && body.includes('"active":true') },
    },
    // S5
    {
      scenario: 'S5', name: 'revokeUserSessions', server: 'gateway', label: 'gateway revokeUserSessions', mutates: true,
      load: {
        next: () => graphql('mutation ($id: ID!) { revokeUserSessions(id: $id) { __typename } }', { id: revokeUser() }),
        valid: (status, body) => status === 200 && body.includes('RevokeUserSessionsSuccess'),
      },
    },
    {
      scenario: 'S5', name: 'disableUser', server: 'gateway', label: 'gateway disableUser', mutates: true,
      load: {
        next: () => graphql('mutation ($id: ID!) { disableUser(id: $id) { __typename } }', { id: disableUser() }),
        valid: (status, body) => status === 200 && body.includes('DisableUserSuccess'),
      },
    },
    // S6
    {
      scenario: 'S6', name: `disableUsers of ${(f.bulkBatches[0]?.length ?? 0).toLocaleString('en-US')} users`, server: 'gateway',
      label: 'gateway disableUsers', mutates: true,
      calls: {
        count: 3,
        call: async (baseUrl, i) => {
          const ids = f.bulkBatches[i % f.bulkBatches.length]!;
          const body = JSON.stringify({ query: 'mutation ($ids: [ID!]!) { disableUsers(ids: $ids) { doneCount } }', variables: { ids } });
          const res = await post(`${baseUrl}/graphql`, adminJson, body);
          const done = res.status === 200 && (JSON.parse(res.text) as { data?: { disableUsers?: { doneCount: number } } }).data?.disableUsers?.doneCount;
          if (done !== ids.length) process.stderr.write(`S6: unexpected answer ${res.status}: ${res.text.slice(0, 300)}\n`);
          return done === ids.length;
        },
      },
    },
    // S7: the write hot path of a signed-in app: a new access token for a refresh token, one row update each.
    {
      scenario: 'S7', name: 'token refresh', server: 'gateway', label: 'gateway POST …/auth/session', mutates: true,
      load: {
        next: () => ({ method: 'POST', path: '/api/client/v2.0/auth/session', headers: { authorization: `Bearer ${refreshToken()}` } }),
        valid: (status, body) => status === 201 && body.includes('"access_token"'),
      },
    },
    // S8: logins by password: one Argon2id check each, then a new session.
    {
      scenario: 'S8', name: 'password login', server: 'gateway', label: 'gateway local-userpass login', mutates: true,
      load: {
        next: () => ({
          method: 'POST',
          path: `/api/client/v2.0/app/${APP_ID}/auth/providers/local-userpass/login`,
          headers: json,
          body: JSON.stringify({ username: loginEmail(), password: LOGIN_PASSWORD }),
        }),
        valid: (status, body) => status === 200 && body.includes('"refresh_token"'),
      },
    },
  ];
}
