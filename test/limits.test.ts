// Limits against abusive requests: failed admin-key checks and failed logins (429 + Retry-After,
// and the recovery), body size, batching, and graphql-armor's document limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAuthSettings, loadConfig } from '../src/config.js';
import { admit, AttemptLimiter } from '../src/limits/index.js';
import { MAX_REQUEST_BODY_BYTES } from '../src/http/body.js';
import { parse } from 'graphql';
import { operationCost } from '../src/limits/cost.js';
import { graphqlLimits } from '../src/limits/graphql.js';
import { schema } from '../src/schema/index.js';
import { InFlight, lookUntilAnswered, type Look } from '../src/limits/in-flight.js';
import { postGraphQL, startTestApp, type TestApp } from './helpers/app.js';

let clock = Date.now();
const minute = 60_000;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    app: {
      now: () => clock,
      trustProxy: true,
      limits: {
        adminKeyPerAddress: { limit: 3, windowMs: minute },
        loginPerAddress: { limit: 5, windowMs: 10 * minute },
        loginPerAccount: { limit: 3, windowMs: 15 * minute },
      },
    },
  });
  await t.client.request('mutation { createUser(email: "alice@example.com", password: "right-password") { __typename } }');
  await t.client.request('mutation { createUser(email: "bob@example.com", password: "right-password") { __typename } }');
});
afterAll(() => t?.close());

const from = (address: string, headers: Record<string, string> = {}) => ({ 'x-forwarded-for': address, ...headers });
const QUERY = { query: '{ users { totalCount } }' };

describe('failed admin-key checks', () => {
  it('are limited per source address with 429 and Retry-After, and the address recovers when the window ends', async () => {
    const attacker = '203.0.113.7';
    for (let i = 0; i < 3; i++) {
      const res = await postGraphQL(t, QUERY, from(attacker, { authorization: `Bearer agk_guess_${i}` }));
      expect(res.status).toBe(401);
    }
    // Past the limit even the right key is refused: a guesser learns nothing from the answer.
    const limited = await postGraphQL(t, QUERY, from(attacker, { authorization: `Bearer ${t.adminKey}` }));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
    expect(limited.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(limited.body.data).toBeUndefined();

    // Other addresses are not affected.
    expect((await postGraphQL(t, QUERY, from('198.51.100.1', { authorization: `Bearer ${t.adminKey}` }))).status).toBe(200);

    clock += 30_000;
    const later = await postGraphQL(t, QUERY, from(attacker, { authorization: `Bearer ${t.adminKey}` }));
    expect(later.status).toBe(429);
    expect(later.headers.get('retry-after')).toBe('30');

    clock += 30_000;
    const recovered = await postGraphQL(t, QUERY, from(attacker, { authorization: `Bearer ${t.adminKey}` }));
    expect(recovered.status).toBe(200);
    expect(recovered.body.data.users.totalCount).toBe(2);
  });

  it('count malformed headers and revoked keys too, but not requests without any key', async () => {
    const address = '203.0.113.8';
    for (let i = 0; i < 5; i++) expect((await postGraphQL(t, QUERY, from(address))).status).toBe(401);
    for (const authorization of ['Basic eDp5', 'Bearer', `Bearer ${t.adminKey} x`]) {
      expect((await postGraphQL(t, QUERY, from(address, { authorization }))).status).toBe(401);
    }
    expect((await postGraphQL(t, QUERY, from(address, { authorization: `Bearer ${t.adminKey}` }))).status).toBe(429);
    clock += minute;
  });
});

const LOGIN = `/api/client/v2.0/app/${defaultAuthSettings.appId}/auth/providers/local-userpass/login`;

async function login(address: string, username: string, password: string) {
  const res = await fetch(`${t.baseUrl}${LOGIN}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify({ username, password }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
}

describe('the source address', () => {
  it('ignores X-Forwarded-For unless TRUST_PROXY is set, so a forged header does not dodge the limit', async () => {
    const direct = await startTestApp({ app: { now: () => clock, limits: { adminKeyPerAddress: { limit: 2, windowMs: minute } } } });
    try {
      for (const address of ['10.1.1.1', '10.1.1.2']) {
        expect((await postGraphQL(direct, QUERY, from(address, { authorization: 'Bearer agk_wrong' }))).status).toBe(401);
      }
      const res = await postGraphQL(direct, QUERY, from('10.1.1.3', { authorization: `Bearer ${direct.adminKey}` }));
      expect(res.status).toBe(429);
    } finally {
      await direct.close();
    }
    // TRUST_PROXY=true is one proxy: the rightmost entry (test/client-address.test.ts has the rest).
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toEqual({ kind: 'hops', hops: 1 });
    expect(loadConfig({}).trustProxy).toEqual({ kind: 'none' });
    expect(() => loadConfig({ TRUST_PROXY: 'sometimes' })).toThrow(/TRUST_PROXY must be true or false/);
  });
});

describe('the configuration of the limits', () => {
  it('reads each limit as <count>/<window> and names the variable at fault', () => {
    const config = loadConfig({ REGISTER_LIMIT: '5/30s', MAIL_PER_EMAIL_LIMIT: '3 / 2h', LOGIN_ACCOUNT_FAILURE_LIMIT: '10/15m', PASSWORD_HASH_QUEUE: '8' });
    expect(config.limits.registerPerAddress).toEqual({ limit: 5, windowMs: 30_000 });
    expect(config.limits.mailPerEmail).toEqual({ limit: 3, windowMs: 2 * 3_600_000 });
    expect(config.limits.loginPerAccount).toEqual({ limit: 10, windowMs: 15 * minute });
    expect(config.limits.anonLoginPerAddress).toEqual({ limit: 20, windowMs: 10 * minute });
    expect(config.limits.passwordHashing).toEqual({ concurrency: 2, maxQueued: { urgent: 64, deferrable: 8 } });
    for (const bad of ['20', '0/10m', '20/10d', '20/0s', 'lots/10m', '20/9999h']) {
      expect(() => loadConfig({ ANON_LOGIN_LIMIT: bad })).toThrow(/ANON_LOGIN_LIMIT must be "<count>\/<window>"/);
    }
    expect(() => loadConfig({ PASSWORD_HASH_CONCURRENCY: '0' })).toThrow(/PASSWORD_HASH_CONCURRENCY must be a whole number/);
    expect(loadConfig({}).auth.anonymousAuth).toBe(true);
    expect(loadConfig({ ANONYMOUS_AUTH: 'false' }).auth.anonymousAuth).toBe(false);
  });
});

describe('failed user logins', () => {
  it('are limited per account, from any address, and the account recovers when the window ends', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await login(`192.0.2.${i + 1}`, 'alice@example.com', `wrong-${i}`);
      expect(res.status).toBe(401);
      expect(res.body.error_code).toBe('InvalidPassword');
    }
    // A fourth address, the right password: still refused, without checking it.
    const limited = await login('192.0.2.50', 'ALICE@example.com', 'right-password');
    expect(limited.status).toBe(429);
    expect(limited.body.error_code).toBe('TooManyRequests');
    expect(limited.retryAfter).toBe('900');
    // Another account is fine.
    expect((await login('192.0.2.50', 'bob@example.com', 'right-password')).status).toBe(200);

    clock += 15 * minute;
    const recovered = await login('192.0.2.50', 'alice@example.com', 'right-password');
    expect(recovered.status).toBe(200);
    expect(recovered.body.access_token).toEqual(expect.any(String));
  });

  it('are limited per address, across accounts, and a success clears only the account count', async () => {
    const address = '192.0.2.99';
    expect((await login(address, 'alice@example.com', 'wrong')).status).toBe(401);
    expect((await login(address, 'alice@example.com', 'right-password')).status).toBe(200);
    for (const username of ['bob@example.com', 'nobody@example.com', 'x@example.com', 'y@example.com']) {
      expect((await login(address, username, 'wrong')).status).toBe(401);
    }
    // Five failures from this address (the success did not clear them): every account is refused.
    const limited = await login(address, 'bob@example.com', 'right-password');
    expect(limited.status).toBe(429);
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    expect((await login('192.0.2.100', 'bob@example.com', 'right-password')).status).toBe(200);

    clock += 10 * minute;
    expect((await login(address, 'bob@example.com', 'right-password')).status).toBe(200);
  });
});

describe('the attempt counter', () => {
  it('keeps a bounded number of keys, dropping the oldest windows first', () => {
    let now = 0;
    const limiter = new AttemptLimiter({ limit: 1, windowMs: 1000, maxKeys: 100, now: () => now });
    for (let i = 0; i < 1000; i++) limiter.count(`k${i}`);
    expect(limiter.size).toBe(100);
    expect(limiter.retryAfter('k999')).toBe(1);
    expect(limiter.retryAfter('k0')).toBe(0);
    now = 1000;
    expect(limiter.retryAfter('k999')).toBe(0);
    limiter.count('new');
    expect(limiter.size).toBeLessThanOrEqual(100);
  });

  it('counts attempts when they are admitted: kept ones stay counted, refunded ones are handed back', () => {
    const limiter = new AttemptLimiter({ limit: 2, windowMs: 1000, now: () => 0 });
    const a = limiter.reserve('k')!;
    const b = limiter.reserve('k')!;
    // Two in flight hold the whole allowance: a third must wait, it is not refused yet.
    expect(limiter.state('k')).toBe('full');
    expect(limiter.reserve('k')).toBeNull();
    a.refund();
    expect(limiter.state('k')).toBe('open');
    b.keep();
    b.refund(); // settling twice changes nothing
    const c = limiter.reserve('k')!;
    c.keep();
    expect(limiter.state('k')).toBe('refused');
    expect(limiter.retryAfter('k')).toBe(1);
  });

  it('makes an admission wait while attempts in flight hold the allowance, then admits or refuses it', async () => {
    const limiter = new AttemptLimiter({ limit: 1, windowMs: 60_000 });
    const first = await admit([{ limiter, key: 'k' }]);
    if (!first.admitted) throw new Error('the first attempt is admitted');
    const waiting = admit([{ limiter, key: 'k' }]);
    first.reservations[0]!.refund();
    const second = await waiting;
    expect(second.admitted).toBe(true);
    if (!second.admitted) return;
    const third = admit([{ limiter, key: 'k' }]);
    second.reservations[0]!.keep();
    expect(await third).toEqual({ admitted: false, retryAfter: 60 });
    // A wait is bounded.
    const other = new AttemptLimiter({ limit: 1, windowMs: 60_000 });
    expect(other.reserve('k')).not.toBeNull();
    expect(await admit([{ limiter: other, key: 'k' }], { maxWaitMs: 50 })).toEqual({ admitted: false, retryAfter: 1 });
  });

  it('lets at most maxWaiting admissions wait on one key and refuses the next at once (both limiters wait this way)', async () => {
    const inFlight = new InFlight();
    inFlight.begin();
    let open = false;
    const looks: string[] = [];
    const look = (who: string) => (): Look<string> => {
      looks.push(who);
      return open ? { answer: `${who} in` } : { waitOn: inFlight };
    };
    const first = lookUntilAnswered(look('first'), { maxWaiting: 1 });
    expect(inFlight.waiting).toBe(1);
    // One waits already: the next is refused without waiting, and the first keeps its place.
    const second = lookUntilAnswered(look('second'), { maxWaiting: 1, maxWaitMs: 60_000 });
    expect(inFlight.waiting).toBe(1);
    expect(await second).toEqual({ admitted: false, retryAfter: 1 });
    open = true;
    inFlight.settle();
    expect(inFlight.count).toBe(0);
    expect(await first).toBe('first in');
    expect(looks).toEqual(['first', 'second', 'first']);
    // Its place is free again; with nothing in flight there is nothing to wait for.
    open = false;
    inFlight.begin();
    const third = lookUntilAnswered(look('third'), { maxWaiting: 1 });
    expect(inFlight.waiting).toBe(1);
    open = true;
    inFlight.settle();
    expect(await third).toBe('third in');
  });
});

describe('request limits', () => {
  it(`refuses a body over ${MAX_REQUEST_BODY_BYTES} bytes with 413, declared or streamed in chunks`, async () => {
    const big = JSON.stringify({ query: '{ users { totalCount } }', variables: { pad: 'x'.repeat(MAX_REQUEST_BODY_BYTES) } });
    const declared = await postGraphQL(t, big);
    expect(declared.status).toBe(413);
    expect(declared.body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');

    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.slice(i, i + 64 * 1024));
        controller.close();
      },
    });
    const chunked = await fetch(t.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);

    const client = await fetch(`${t.baseUrl}${LOGIN}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    expect(client.status).toBe(413);
    expect((await client.json()).error_code).toBe('PayloadTooLarge');

    // Just under the limit is fine.
    const fits = JSON.stringify({ query: '{ users { totalCount } }', variables: { pad: 'x'.repeat(MAX_REQUEST_BODY_BYTES - 200) } });
    expect((await postGraphQL(t, fits)).status).toBe(200);
  });

  it('does not batch', async () => {
    const res = await postGraphQL(t, [QUERY, QUERY]);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  const nest = (depth: number) => {
    // Inline fragments count as a level, so a document can be made as deep as wanted.
    let selection = 'id';
    for (let i = 0; i < depth - 3; i++) selection = `... on User { ${selection} }`;
    return `{ users { edges { node { ${selection} } } } }`;
  };

  it.each([
    ['depth', nest(graphqlLimits.maxDepth + 1), /depth limit of 8/],
    ['aliases', `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: users { totalCount }`).join(' ')} }`, /Aliases limit of 15/],
    ['directives', `{ users { ${'totalCount @include(if: true) '.repeat(51)} } }`, /Directives limit of 50/],
    ['cost', '{ users(first: 500) { edges { node { id sessions(first: 500) { edges { node { id } } } } } } }', /Cost limit of 250000 exceeded/],
  ])('refuses a document over the %s limit with GRAPHQL_VALIDATION_FAILED, before running it', async (_name, query, message) => {
    const res = await postGraphQL(t, { query });
    expect(res.status).toBe(400);
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.body.errors[0].message).toMatch(message);
  });

  describe('the cost of a document with variables, defaults and fragments', () => {
    const PAGE = 'edges { node { id sessions(first: $s) { edges { node { id } } } } }';
    const refusedLikeTheLiteral = async (body: { query: string; variables?: Record<string, unknown> }) => {
      const res = await postGraphQL(t, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.data, JSON.stringify(body)).toBeUndefined();
      expect(res.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(res.body.errors[0].message).toMatch(/Cost limit of 250000 exceeded/);
    };

    it.each([
      ['variables', { query: `query ($u: Int, $s: Int) { users(first: $u) { ${PAGE} } }`, variables: { u: 500, s: 500 } }],
      [
        'four aliases of variables',
        {
          query: `query ($u: Int, $s: Int) { ${['a', 'b', 'c', 'd'].map((a) => `${a}: users(first: $u) { ${PAGE} }`).join(' ')} }`,
          variables: { u: 500, s: 500 },
        },
      ],
      ['variable defaults', { query: `query ($u: Int = 500, $s: Int = 500) { users(first: $u) { ${PAGE} } }` }],
      ['a page size left to its default (50 sessions)', { query: 'query ($u: Int) { users(first: $u) { edges { node { sessions { edges { node { id } } } } } } }', variables: { u: 500 } }],
      [
        'fragments',
        {
          query: 'query ($u: Int, $s: Int) { users(first: $u) { ...P } } fragment P on UserConnection { edges { node { sessions(first: $s) { pageInfo { hasNextPage } } } } }',
          variables: { u: 500, s: 500 },
        },
      ],
      ['an inline fragment', { query: 'query ($u: Int, $s: Int) { users(first: $u) { edges { node { ... on User { sessions(first: $s) { edges { node { id } } } } } } } }', variables: { u: 500, s: 500 } }],
      ['@include(if: $yes)', { query: `query ($u: Int, $s: Int, $yes: Boolean!) { users(first: $u) { edges @include(if: $yes) { node { id sessions(first: $s) { edges { node { id } } } } } } }`, variables: { u: 500, s: 500, yes: true } }],
    ])('refuses the %s form exactly like the literal one', async (_name, body) => {
      await refusedLikeTheLiteral(body);
    });

    it('weighs each request of the same text by its own variables', async () => {
      // The direct path remembers an operation's cost by the variables it depends on: page sizes and
      // @skip/@include by value, the others (the search term here) only by whether they are given.
      const query = `query ($u: Int, $s: Int, $no: Boolean!, $q: String) { users(first: $u, search: $q) { totalCount edges @skip(if: $no) { node { sessions(first: $s) { edges { node { id } } } } } } }`;
      const sent = [
        { variables: { u: 500, s: 5, no: false, q: 'a' }, refused: false },
        { variables: { u: 500, s: 500, no: false, q: 'b' }, refused: true },
        { variables: { u: 500, s: 500, no: true, q: 'c' }, refused: false },
        { variables: { u: 500, s: 500, no: false, q: 'a' }, refused: true },
        { variables: { u: 500, s: 5, no: false, q: null }, refused: false },
        { variables: { u: 500, s: 500, no: false }, refused: true },
      ];
      for (const { variables, refused } of sent) {
        if (refused) await refusedLikeTheLiteral({ query, variables });
        else {
          const res = await postGraphQL(t, { query, variables });
          expect(res.status, JSON.stringify(variables)).toBe(200);
          expect(res.body.errors, JSON.stringify(variables)).toBeUndefined();
        }
      }
    });

    it('weighs null for a non-null argument as the largest page, after the same text ran with a value', async () => {
      // `$e` has a default, so it may stand for the non-null endpointId; sent as null, the arguments
      // cannot be coerced and the field counts the largest page (src/limits/cost.ts), over the limit here.
      const aliases = Array.from({ length: 10 }, (_, i) => `d${i}: webhookDeliveries(endpointId: $e, first: $n) { ...D }`).join(' ');
      const query = `query ($e: ID = "x", $n: Int) { ${aliases} } fragment D on WebhookDeliveryConnection { edges { node { attempts createdAt deliveredAt endpointId eventId eventType id lastAttemptAt lastError lastStatusCode nextAttemptAt payload status } } }`;
      const cost = (variables: Record<string, unknown>) => operationCost(schema, parse(query), null, variables);
      expect(cost({ e: 'x', n: 10 })).toBeLessThan(graphqlLimits.maxCost);
      expect(cost({ e: null, n: 10 })).toBeGreaterThan(graphqlLimits.maxCost);
      const notRefused = async (variables: Record<string, unknown>) => {
        const res = await postGraphQL(t, { query, variables });
        expect(res.status, JSON.stringify(variables)).toBe(200);
        for (const error of res.body.errors ?? []) expect(error.message, JSON.stringify(variables)).not.toMatch(/Cost limit/);
      };
      await notRefused({ e: 'x', n: 10 });
      await refusedLikeTheLiteral({ query, variables: { e: null, n: 10 } });
      await notRefused({ n: 10 });
      await refusedLikeTheLiteral({ query, variables: { e: null, n: 10 } });
    });

    it('lets the same shapes through when they are small, or skipped', async () => {
      const ok = [
        { query: `query ($u: Int, $s: Int) { users(first: $u) { ${PAGE} } }`, variables: { u: 500, s: 5 } },
        { query: `query ($u: Int, $s: Int) { users(first: $u) { ${PAGE} } }`, variables: { u: 50, s: 50 } },
        { query: `query ($u: Int, $s: Int, $no: Boolean!) { users(first: $u) { totalCount edges @skip(if: $no) { node { sessions(first: $s) { edges { node { id } } } } } } }`, variables: { u: 500, s: 500, no: true } },
        // A page size past 500 keeps its own error, on the field that has it.
        { query: 'query ($u: Int) { users(first: $u) { edges { node { id } } } }', variables: { u: 100_000 }, code: 'BAD_USER_INPUT' },
      ];
      for (const { code, ...body } of ok) {
        const res = await postGraphQL(t, body);
        expect(res.status, JSON.stringify(body)).toBe(200);
        expect(res.body.errors?.[0]?.extensions?.code, JSON.stringify(body)).toBe(code);
      }
    });
  });

  it('refuses a document over the token limit as a parse failure', async () => {
    const res = await postGraphQL(t, { query: `{ users { ${'totalCount '.repeat(1000)} } }` });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(res.body.errors[0].message).toMatch(/Token limit of 1000/);
  });

  it('lets every query of the README, the console and GraphiQL through', async () => {
    const { EXAMPLE_QUERY } = await import('../src/http/graphql.js');
    const { getIntrospectionQuery } = await import('graphql');
    const userFields = 'id email status createdAt lastAuthenticatedAt disabledAt activeSessionCount identities { providerType }';
    const queries = [
      EXAMPLE_QUERY,
      getIntrospectionQuery(),
      '{ users(status: CONFIRMED, first: 50) { totalCount edges { node { id email status createdAt lastAuthenticatedAt activeSessionCount } } pageInfo { hasNextPage endCursor } } }',
      `{ users(first: 500) { totalCount edges { node { ${userFields} } } pageInfo { hasNextPage endCursor } } }`,
      `{ users(first: 500) { edges { node { id activeSessionCount identities { providerType id } sessions(first: 5) { edges { node { id deviceId } } pageInfo { hasNextPage } } } } } }`,
      '{ a: users(status: CONFIRMED, first: 0) { totalCount } b: users(status: PENDING, first: 0) { totalCount } c: users(status: DISABLED, first: 0) { totalCount } }',
      '{ auditEvents(first: 50) { edges { node { id at action outcome userId requestId details actor { id name role } } } pageInfo { hasNextPage endCursor } } }',
      '{ adminKeys { id name role createdAt lastUsedAt revokedAt } currentAdminKey { name role } }',
      `mutation { disableUser(id: "00000000-0000-4000-8000-000000000001") { __typename ... on DisableUserSuccess { revokedSessionCount user { ${userFields} sessions { edges { node { id } } } } } ... on Error { message } } }`,
    ];
    for (const query of queries) {
      const res = await postGraphQL(t, { query });
      expect(res.status, query).toBe(200);
      expect(res.body.errors, query).toBeUndefined();
    }
  });

  it('suggests field names in development only', async () => {
    const typo = { query: '{ users { totalCont } }' };
    const dev = await postGraphQL(t, typo);
    expect(dev.body.errors[0].message).toContain('Did you mean "totalCount"?');

    const production = await startTestApp({ app: { production: true } });
    try {
      const res = await postGraphQL(production, typo);
      expect(res.status).toBe(400);
      expect(res.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(res.body.errors[0].message).not.toContain('totalCount');
      expect(res.body.errors[0].message).not.toMatch(/Did you mean/);
    } finally {
      await production.close();
    }
  });
});
