// What an attacker or a broken client sends. Every request gets a clear 4xx or a GraphQL error
// with a stable code, nothing internal leaks, and afterwards the data is exactly as it was.
import fc from 'fast-check';
import { asc } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminKeys, refreshTokens, users } from '../src/db/schema.js';
import { postGraphQL, startTestApp, type TestApp } from './helpers/app.js';
import { seedSessions, seedUsers, type SeededUser } from './helpers/seed.js';

let t: TestApp;
let seeded: SeededUser[];

beforeAll(async () => {
  // Forged and malformed keys are part of the diet: the key limit has its own test file.
  t = await startTestApp({ app: { limits: { adminKeyPerAddress: { limit: 100_000, windowMs: 60_000 } } } });
  seeded = [
    ...(await seedUsers(t.database.db, 4)),
    ...(await seedUsers(t.database.db, 2, { status: 'disabled', emailPrefix: 'off' })),
    ...(await seedUsers(t.database.db, 2, { status: 'pending', emailPrefix: 'new' })),
  ];
  for (const u of seeded.slice(0, 3)) await seedSessions(t.database.db, u.id, { live: 2 });
});
afterAll(() => t?.close());

/** Everything a bad request could have changed. */
async function snapshot() {
  const db = t.database.db;
  return JSON.stringify({
    users: await db.select().from(users).orderBy(asc(users.id)),
    sessions: await db.select({ id: refreshTokens.id, revokedAt: refreshTokens.revokedAt }).from(refreshTokens).orderBy(asc(refreshTokens.id)),
    keys: await db.select({ id: adminKeys.id, revokedAt: adminKeys.revokedAt }).from(adminKeys).orderBy(asc(adminKeys.id)),
  });
}

const LEAKS = /\bat [\w.<>]+ \(|node_modules|\.ts:\d+|\bstack\b|SELECT |INSERT |relation "|syntax error at or near|drizzle|pglite/i;
const STABLE_CODES = new Set([
  'BAD_REQUEST',
  'BAD_USER_INPUT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'UNAUTHENTICATED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'OPERATION_RESOLUTION_FAILURE',
]);

async function raw(body: BodyInit | null, headers: Record<string, string>, method = 'POST', url = t.graphqlUrl) {
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, json, headers: res.headers };
}

/** A 4xx with a GraphQL error whose code is stable, and nothing internal in the body. */
function expectClearRefusal(res: { status: number; text: string; json: any }, codes: string[]) {
  expect(res.status, res.text).toBeGreaterThanOrEqual(400);
  expect(res.status, res.text).toBeLessThan(500);
  expect(res.json?.errors?.length, res.text).toBeGreaterThan(0);
  for (const error of res.json.errors) {
    expect(codes, res.text).toContain(error.extensions?.code);
    expect(typeof error.extensions.requestId === 'string' || error.extensions.code === 'UNAUTHENTICATED').toBe(true);
  }
  expect(res.text).not.toMatch(LEAKS);
}

const owner = () => ({ authorization: `Bearer ${t.adminKey}` });
const jsonHeaders = () => ({ 'content-type': 'application/json', accept: 'application/graphql-response+json', ...owner() });

describe('malformed HTTP requests', () => {
  it('answers each with a clear 4xx and changes nothing', async () => {
    const before = await snapshot();
    const query = JSON.stringify({ query: 'mutation { deleteUser(id: "x") { __typename } }' });
    const cases: [string, () => ReturnType<typeof raw>, string[]][] = [
      ['truncated JSON', () => raw('{"query": "{ users { totalCount }', jsonHeaders()), ['BAD_REQUEST']],
      ['not JSON at all', () => raw('<xml/>', jsonHeaders()), ['BAD_REQUEST']],
      ['JSON that is not an object', () => raw('"{ users { totalCount } }"', jsonHeaders()), ['BAD_REQUEST']],
      ['JSON null', () => raw('null', jsonHeaders()), ['BAD_REQUEST']],
      ['a number as query', () => raw('{"query": 42}', jsonHeaders()), ['BAD_REQUEST']],
      ['no query', () => raw('{"variables": {}}', jsonHeaders()), ['BAD_REQUEST']],
      ['variables as a string', () => raw('{"query": "{ users { totalCount } }", "variables": "{}"}', jsonHeaders()), ['BAD_REQUEST']],
      ['an empty body', () => raw('', jsonHeaders()), ['BAD_REQUEST']],
      ['text/plain', () => raw(query, { ...owner(), 'content-type': 'text/plain' }), ['UNSUPPORTED_MEDIA_TYPE']],
      ['XML', () => raw('<query/>', { ...owner(), 'content-type': 'application/xml' }), ['UNSUPPORTED_MEDIA_TYPE']],
      ['no content type', () => raw(query, owner()), ['UNSUPPORTED_MEDIA_TYPE', 'BAD_REQUEST']],
      ['a mutation over GET', () => raw(null, { ...owner(), accept: 'application/json' }, 'GET', `${t.graphqlUrl}?query=${encodeURIComponent('mutation { deleteUser(id: "x") { __typename } }')}`), ['BAD_REQUEST']],
      ['PUT', () => raw(query, jsonHeaders(), 'PUT'), ['BAD_REQUEST']],
      ['two operations, none named', () => raw(JSON.stringify({ query: 'query A { users { totalCount } } query B { users { totalCount } }' }), jsonHeaders()), ['OPERATION_RESOLUTION_FAILURE']],
      ['an unknown operation name', () => raw(JSON.stringify({ query: 'query A { users { totalCount } }', operationName: 'B' }), jsonHeaders()), ['OPERATION_RESOLUTION_FAILURE']],
      ['a batch', () => raw(JSON.stringify([{ query: '{ users { totalCount } }' }]), jsonHeaders()), ['BAD_REQUEST']],
      ['no key', () => raw(query, { 'content-type': 'application/json' }), ['UNAUTHENTICATED']],
      ['a forged key', () => raw(query, { 'content-type': 'application/json', authorization: 'Bearer agk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }), ['UNAUTHENTICATED']],
      ['a key with SQL in it', () => raw(query, { 'content-type': 'application/json', authorization: "Bearer ' OR '1'='1" }), ['UNAUTHENTICATED']],
      ['a JWT instead of a key', () => raw(query, { 'content-type': 'application/json', authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.' }), ['UNAUTHENTICATED']],
    ];
    for (const [name, send, codes] of cases) {
      const res = await send();
      expect(res.headers.get('x-request-id'), name).toBeTruthy();
      try {
        expectClearRefusal(res, codes);
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}`);
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it('replaces a forged request id instead of echoing it', async () => {
    for (const forged of ['x'.repeat(500), 'id with spaces', '<script>', 'a\u0000b']) {
      const res = await fetch(t.graphqlUrl, {
        method: 'POST',
        headers: { ...jsonHeaders(), 'x-request-id': encodeURIComponent(forged) === forged ? forged : 'bad id%00' },
        body: JSON.stringify({ query: '{ users { totalCount } }' }),
      }).catch(() => null);
      if (!res) continue;
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe('bad GraphQL documents and variables', () => {
  it('answers each with a stable code and changes nothing', async () => {
    const before = await snapshot();
    const id = seeded[0]!.id;
    const cases: [string, { query: string; variables?: unknown }, string[]][] = [
      ['an unknown field', { query: '{ users { totalCount password } }' }, ['GRAPHQL_VALIDATION_FAILED']],
      ['an unknown argument', { query: '{ users(where: "1=1") { totalCount } }' }, ['GRAPHQL_VALIDATION_FAILED']],
      ['an unknown mutation', { query: 'mutation { dropTable(name: "users") }' }, ['GRAPHQL_VALIDATION_FAILED']],
      ['introspection of a missing type', { query: '{ __type(name: 1) { name } }' }, ['GRAPHQL_VALIDATION_FAILED']],
      ['a syntax error', { query: '{ users { totalCount }' }, ['GRAPHQL_PARSE_FAILED']],
      ['an id of the wrong type', { query: 'query ($id: ID!) { user(id: $id) { id } }', variables: { id: { $gt: '' } } }, ['BAD_USER_INPUT']],
      ['an Int that is a string', { query: 'query ($n: Int) { users(first: $n) { totalCount } }', variables: { n: '10; DROP TABLE users' } }, ['BAD_USER_INPUT']],
      ['an Int out of range', { query: 'query ($n: Int) { users(first: $n) { totalCount } }', variables: { n: 2 ** 40 } }, ['BAD_USER_INPUT']],
      ['an unknown enum value', { query: 'query ($s: UserStatus) { users(status: $s) { totalCount } }', variables: { s: 'ADMIN' } }, ['BAD_USER_INPUT']],
      ['a role that does not exist', { query: 'mutation ($r: AdminRole!) { createAdminKey(name: "x", role: $r) { __typename } }', variables: { r: 'ROOT' } }, ['BAD_USER_INPUT']],
      ['a missing variable', { query: 'mutation ($id: ID!) { deleteUser(id: $id) { __typename } }' }, ['BAD_USER_INPUT']],
      ['an object as search', { query: 'query ($s: String) { users(search: $s) { totalCount } }', variables: { s: { $regex: '.*' } } }, ['BAD_USER_INPUT']],
      ['deep nesting', { query: `{ users { edges { node { ${'... on User { '.repeat(20)}id${' }'.repeat(20)} } } } }` }, ['GRAPHQL_VALIDATION_FAILED']],
      ['many aliases', { query: `mutation { ${Array.from({ length: 50 }, (_, i) => `a${i}: deleteUser(id: "${id}") { __typename }`).join(' ')} }` }, ['GRAPHQL_VALIDATION_FAILED']],
      ['a fragment cycle', { query: '{ users { ...A } } fragment A on UserConnection { ...B } fragment B on UserConnection { ...A }' }, ['GRAPHQL_VALIDATION_FAILED']],
      ['a huge document', { query: `{ users { ${'totalCount '.repeat(5000)} } }` }, ['GRAPHQL_PARSE_FAILED']],
    ];
    for (const [name, body, codes] of cases) {
      const res = await raw(JSON.stringify(body), jsonHeaders());
      try {
        if (res.status === 200) {
          // graphql-response+json not asked for: Yoga may answer variable errors with 200.
          expect(res.json.data ?? null).toBeNull();
          for (const error of res.json.errors) expect(codes).toContain(error.extensions.code);
          expect(res.text).not.toMatch(LEAKS);
        } else {
          expectClearRefusal(res, codes);
        }
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}`);
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it('treats SQL and JSON in search as text: no error, no match, nothing changed', async () => {
    const before = await snapshot();
    const q = 'query ($s: String) { users(search: $s) { totalCount edges { node { id } } } }';
    for (const search of [
      "' OR '1'='1",
      "'; DROP TABLE users; --",
      '%',
      '_',
      '\\',
      '%@%',
      '") OR 1=1 --',
      '{"$gt": ""}',
      '[]',
      "user0%' --",
      `${seeded[0]!.id}' OR '1'='1`,
      'é'.repeat(254),
    ]) {
      const res = await postGraphQL(t, { query: q, variables: { s: search } });
      expect(res.status, search).toBe(200);
      expect(res.body.errors, search).toBeUndefined();
      expect(res.body.data.users.totalCount, search).toBe(0);
    }
    // A real prefix still matches, so the zeros above mean something.
    const ok = await postGraphQL(t, { query: q, variables: { s: 'user' } });
    expect(ok.body.data.users.totalCount).toBe(4);
    const huge = await postGraphQL(t, { query: q, variables: { s: 'a'.repeat(100_000) } });
    expect(huge.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'search' });
    // PostgreSQL text cannot hold NUL: refused up front, in variables and in the document alike.
    for (const body of [{ query: q, variables: { s: 'a\u0000b' } }, { query: '{ users(search: "a\\u0000") { totalCount } }' }]) {
      const nul = await postGraphQL(t, body);
      expect(nul.status).toBe(400);
      expect(nul.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    }
    expect(await snapshot()).toBe(before);
  });

  it('refuses malformed ids in every mutation, by name (user ids: 1–128 of [A-Za-z0-9_-]; admin keys: UUIDs)', async () => {
    const before = await snapshot();
    const ids = ['1', "1' OR '1'='1", '../../etc/passwd', '00000000-0000-0000-0000-00000000000g', ' '.repeat(10), 'x'.repeat(100_000), 'x'.repeat(129)];
    for (const mutation of ['disableUser', 'enableUser', 'deleteUser', 'revokeUserSessions', 'revokeAdminKey']) {
      // '1' and the UUID with a "g" are user ids of the accepted shape (merely unknown ones).
      const malformed = mutation === 'revokeAdminKey' ? ids : ids.filter((id) => !/^[A-Za-z0-9_-]{1,128}$/.test(id));
      for (const id of malformed) {
        const res = await postGraphQL(t, { query: `mutation ($id: ID!) { ${mutation}(id: $id) { __typename } }`, variables: { id } });
        expect(res.status).toBe(200);
        expect(res.body.errors?.[0]?.extensions, `${mutation}(${id.slice(0, 20)})`).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
        expect(JSON.stringify(res.body)).not.toMatch(LEAKS);
      }
    }
    expect(await snapshot()).toBe(before);
  });
});

describe('a property-based pass over the mutation inputs', () => {
  const nasty = fc.constantFrom(
    '',
    ' ',
    "' OR '1'='1",
    '"; DROP TABLE users; --',
    '{"$ne": null}',
    '\u0000',
    '\ud83d\ude00',
    '%',
    'a@b.c',
    '00000000-0000-4000-8000-000000000000',
    'x'.repeat(300),
  );
  const text = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 40 }), nasty);
  const id = fc.oneof(text, fc.uuid());

  /** Sends one mutation; asserts the answer is a result-union member or a BAD_USER_INPUT error. */
  async function check(query: string, variables: Record<string, unknown>, allowed: string[]) {
    const res = await postGraphQL(t, { query, variables });
    const where = `${query.slice(0, 40)} ${JSON.stringify(variables).slice(0, 120)}`;
    // 400 only for what is refused before it runs (a NUL character); the rest is answered in GraphQL.
    expect(res.status === 200 || (res.status === 400 && res.body.errors?.[0]?.extensions?.code === 'BAD_USER_INPUT'), `${where}: ${res.status}`).toBe(true);
    expect(JSON.stringify(res.body), where).not.toMatch(LEAKS);
    if (res.body.errors) {
      for (const error of res.body.errors) expect(STABLE_CODES.has(error.extensions?.code), where).toBe(true);
      expect(res.body.errors.map((e: any) => e.extensions.code), where).not.toContain('INTERNAL_SERVER_ERROR');
      return null;
    }
    const result = Object.values(res.body.data)[0] as { __typename: string };
    expect(allowed, where).toContain(result.__typename);
    return result;
  }

  it('user actions on arbitrary ids never fail inside and never touch the seeded users', async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('disableUser', 'enableUser', 'deleteUser', 'revokeUserSessions', 'confirmUser'), id, async (mutation, value) => {
        await check(`mutation ($id: ID!) { ${mutation}(id: $id) { __typename } }`, { id: value }, [
          'UserNotFoundError',
          'PendingUserError',
        ]);
      }),
      { numRuns: 150 },
    );
    expect(await snapshot()).toBe(before);
  });

  it('createUser takes only what it can store and reports the rest by field', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(text, fc.emailAddress()),
        fc.oneof(text, fc.string({ minLength: 6, maxLength: 20 })),
        async (email, password) => {
          const result = (await check(
            'mutation ($e: String!, $p: String!) { createUser(email: $e, password: $p) { __typename ... on CreateUserSuccess { user { email status } } ... on InvalidInputError { field } } }',
            { e: email, p: password },
            ['CreateUserSuccess', 'InvalidInputError', 'EmailTakenError'],
          )) as { __typename: string; user?: { email: string; status: string }; field?: string } | null;
          if (result?.__typename === 'CreateUserSuccess') {
            expect(result.user!.email).toBe(email.trim());
            expect(result.user!.status).toBe('CONFIRMED');
            expect(password.length).toBeGreaterThanOrEqual(6);
          }
          if (result?.__typename === 'InvalidInputError') expect(['email', 'password']).toContain(result.field);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('admin key management takes only sane names and existing ids', async () => {
    const keysBefore = (await t.database.db.select().from(adminKeys)).filter((k) => !k.revokedAt).length;
    let created = 0;
    await fc.assert(
      fc.asyncProperty(text, fc.constantFrom('VIEWER', 'OPERATOR', 'OWNER'), id, async (name, role, keyId) => {
        const made = await check(
          'mutation ($n: String!, $r: AdminRole!) { createAdminKey(name: $n, role: $r) { __typename ... on InvalidInputError { field } } }',
          { n: name, r: role },
          ['CreateAdminKeySuccess', 'InvalidInputError'],
        );
        if (made?.__typename === 'CreateAdminKeySuccess') created++;
        await check('mutation ($id: ID!) { revokeAdminKey(id: $id) { __typename } }', { id: keyId }, ['AdminKeyNotFoundError']);
      }),
      { numRuns: 80 },
    );
    // No existing key was revoked by a guessed id.
    const active = (await t.database.db.select().from(adminKeys)).filter((k) => !k.revokedAt).length;
    expect(active).toBe(keysBefore + created);
  });
});
