// The direct GraphQL path (src/http/graphql-direct.ts) answers exactly as the Yoga path: each
// request is sent over real HTTP (the Node listener, where the direct path takes what it can) and
// to the app's fetch handler (always Yoga), and the two answers must match: status, body, and the
// headers a client reads.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { seedSessions, seedUsers } from './helpers/seed.js';

let t: TestApp;
let statements = 0;

beforeAll(async () => {
  t = await startTestApp({
    database: { onQuery: () => statements++ },
    app: { corsOrigins: ['https://admin.example.com'] },
  });
  const seeded = await seedUsers(t.database.db, 60);
  for (const u of seeded.slice(0, 5)) await seedSessions(t.database.db, u.id, { live: 2, revoked: 1 });
});
afterAll(() => t?.close());

interface Answer {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
}

const READ_HEADERS = ['content-type', 'access-control-allow-origin', 'access-control-expose-headers', 'vary', 'www-authenticate', 'x-request-id', 'retry-after'];

function pick(get: (name: string) => string | null | undefined): Record<string, string | undefined> {
  return Object.fromEntries(READ_HEADERS.map((name) => [name, get(name) ?? undefined]));
}

/** Over real HTTP, through Node's listener. */
function overHttp(body: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      t.graphqlUrl,
      { method: 'POST', agent: false, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: pick((name) => res.headers[name] as string | undefined), body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Through the fetch handler: the Yoga path. */
async function throughYoga(body: string, headers: Record<string, string>): Promise<Answer> {
  const response = await t.app.fetch(new Request(t.graphqlUrl, { method: 'POST', headers, body }));
  return { status: response.status, headers: pick((name) => response.headers.get(name)), body: await response.text() };
}

async function expectSameAnswer(body: unknown, extraHeaders: Record<string, string> = {}): Promise<Answer> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}`, 'x-request-id': 'parity-1', ...extraHeaders };
  const direct = await overHttp(text, headers);
  const yoga = await throughYoga(text, headers);
  expect(direct).toEqual(yoga);
  return direct;
}

const PAGE = `query Page($after: String, $first: Int) {
  users(status: CONFIRMED, first: $first, after: $after) {
    totalCount
    edges { cursor node { id email status createdAt activeSessionCount sessions(first: 2) { nodes { id } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

describe('the direct GraphQL path answers as Yoga does', () => {
  it('a page of users, with each Accept a client sends', async () => {
    for (const accept of [undefined, '*/*', 'application/json', 'application/graphql-response+json, application/json', 'application/graphql-response+json']) {
      const answer = await expectSameAnswer({ query: PAGE, variables: { first: 10 } }, accept ? { accept } : {});
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body).data.users.edges).toHaveLength(10);
    }
  });

  it('named operations, fragments and directives', async () => {
    const query = `query A { users(first: 2) { nodes { ...U } } } query B($skip: Boolean!) { users(first: 3) { totalCount nodes { id email @skip(if: $skip) } } }
      fragment U on User { id email }`;
    await expectSameAnswer({ query, operationName: 'A' });
    await expectSameAnswer({ query, operationName: 'B', variables: { skip: true } });
    await expectSameAnswer({ query, operationName: 'C' });
    await expectSameAnswer({ query });
  });

  it('CORS headers for an allowed origin and for another', async () => {
    await expectSameAnswer({ query: PAGE }, { origin: 'https://admin.example.com' });
    await expectSameAnswer({ query: PAGE }, { origin: 'https://evil.example.com' });
  });

  it('every refusal and error', async () => {
    const cases: unknown[] = [
      '{"query":',
      '[]',
      '"text"',
      { query: PAGE, extra: 1 },
      { query: 5 },
      { variables: {} },
      { query: '{ users { nodes { nope } } }' },
      { query: '{ users(first: 1) { nodes { id } } ' },
      { query: PAGE, variables: { first: 'ten' } },
      { query: PAGE, variables: { first: 501 } },
      { query: PAGE, variables: { after: 'not a cursor' } },
      { query: '{ users(first: 500) { nodes { sessions(first: 500) { nodes { id } } } } }' },
      { query: 'query ($s: Int) { users(first: $s) { nodes { sessions(first: $s) { nodes { id } } } } }', variables: { s: 500 } },
      { query: '{ users(search: "a\\u0000") { totalCount } }' },
      { query: 'query ($s: String) { users(search: $s) { totalCount } }', variables: { s: 'a\u0000' } },
      { query: 'mutation { disableUser(id: "00000000-0000-0000-0000-000000000000") { __typename } }' },
      { query: PAGE, variables: [] },
      { query: PAGE, operationName: 3 },
    ];
    for (const body of cases) await expectSameAnswer(body);
  });

  it('without a key, or with a wrong one', async () => {
    for (const authorization of ['', 'Bearer wrong']) {
      const text = JSON.stringify({ query: PAGE });
      const headers = { 'content-type': 'application/json', authorization, origin: 'https://admin.example.com', 'x-request-id': 'parity-2' };
      const direct = await overHttp(text, headers);
      const yoga = await throughYoga(text, headers);
      expect(direct).toEqual(yoga);
      expect(direct.status).toBe(401);
    }
  });

  it('runs a page with the same statements as the Yoga path', async () => {
    const text = JSON.stringify({ query: PAGE, variables: { first: 20 } });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` };
    await overHttp(text, headers);
    statements = 0;
    await overHttp(text, headers);
    const direct = statements;
    statements = 0;
    await throughYoga(text, headers);
    expect(direct).toBe(statements);
  });

  it('weighs each request of one text by its own variables: an over-cost one runs nothing, after a cheap one ran', async () => {
    // The direct path remembers an operation's cost by costKey (src/limits/cost.ts). `$e` null, for
    // the non-null endpointId, makes each of the ten fields count the largest page: over the limit.
    const deliveries = Array.from({ length: 10 }, (_, i) => `d${i}: webhookDeliveries(endpointId: $e, first: $n) { ...D }`).join(' ');
    const query = `query ($e: ID = "00000000-0000-0000-0000-000000000000", $n: Int, $u: Int, $s: Int) {
      users(first: $u) { totalCount edges { node { id sessions(first: $s) { edges { node { id } } } } } } ${deliveries} }
      fragment D on WebhookDeliveryConnection { edges { node { attempts createdAt deliveredAt endpointId eventId eventType id lastAttemptAt lastError lastStatusCode nextAttemptAt payload status } } }`;
    const sent = [
      { variables: { n: 10, u: 5, s: 5 }, refused: false },
      { variables: { e: null, n: 10, u: 5, s: 5 }, refused: true },
      { variables: { n: 10, u: 500, s: 5 }, refused: false },
      { variables: { n: 10, u: 500, s: 500 }, refused: true },
      { variables: { n: 10, u: 500, s: 10_000 }, refused: true },
      { variables: { n: 10, u: 5, s: 5 }, refused: false },
    ];
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}`, 'x-request-id': 'parity-cost' };
    await overHttp(JSON.stringify({ query: '{ users(first: 1) { totalCount } }' }), headers);
    for (const [i, { variables, refused }] of sent.entries()) {
      const text = JSON.stringify({ query, variables });
      const what = `${i}: ${JSON.stringify(variables)}`;
      statements = 0;
      const direct = await overHttp(text, headers);
      const directStatements = statements;
      statements = 0;
      const yoga = await throughYoga(text, headers);
      expect(direct, what).toEqual(yoga);
      expect(direct.body.includes('Cost limit'), what).toBe(refused);
      expect(directStatements, what).toBe(statements);
      if (!refused) expect(directStatements).toBeGreaterThan(0);
    }
  });

  it("answers null for @skip/@include's `if` (a variable with a default) with execution's error, not a 500", async () => {
    for (const directive of ['skip', 'include']) {
      const answer = await expectSameAnswer({ query: `query ($b: Boolean = true) { users @${directive}(if: $b) { totalCount } }`, variables: { b: null } });
      expect(answer.status, directive).not.toBe(500);
      expect(JSON.parse(answer.body).errors[0].message, directive).toMatch(/must not be null/);
    }
  });

  it('runs a query answered with errors once, with the statements of the Yoga path', async () => {
    // The first field reads the database; the second (nullable) fails: the answer has data and an error.
    const query = `{ users(first: 3) { totalCount nodes { id } } bad: user(id: "not an id") { id } }`;
    const text = JSON.stringify({ query });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}`, 'x-request-id': 'parity-3' };
    await overHttp(text, headers);
    statements = 0;
    const direct = await overHttp(text, headers);
    const directStatements = statements;
    statements = 0;
    const yoga = await throughYoga(text, headers);
    expect(direct).toEqual(yoga);
    const answer = JSON.parse(direct.body);
    expect(answer.errors).toHaveLength(1);
    expect(answer.data.users.nodes).toHaveLength(3);
    expect(directStatements).toBeGreaterThan(0);
    expect(directStatements).toBe(statements);
  });
});
