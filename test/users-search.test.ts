// The users page of a search, every shape of its statement (status, after a cursor, with live-session
// counts, a term that is also a user id), against the rule it implements, computed here: a user
// matches when the lower-cased email starts with the lower-cased term, or when the term is the
// user's id; newest first, ties by id. On PostgreSQL the search reads a range of the email index
// and, past a cap of rows, walks the users newest first instead (prepareSearch): both are run, the
// cap made small so that most terms here take the second way.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { users, type UserStatus } from '../src/db/schema.js';
import { userIdOrNull } from '../src/db/user-ids.js';
import { openDatabase } from '../src/db/client.js';
import { listUsers, prefixRange, SEARCH_RANGE_CAP } from '../src/users/repository.js';
import { createTestDatabase, onPostgres, type TestDatabase } from './helpers/database.js';
import { seedSessions } from './helpers/seed.js';

interface Seeded {
  id: string;
  email: string | null;
  status: UserStatus;
  createdAt: Date;
  live: number;
}

let db: TestDatabase;
const seeded: Seeded[] = [];

// Wildcards, a backslash, non-ASCII letters, the last code point and the ones around the
// surrogates (where the range's upper bound is made differently), letter case.
const EMAILS = [
  'abc1@example.com', 'abc2@example.com', 'ABD@example.com', 'ab%c@example.com', 'ab_c@example.com',
  'abxc@example.com', 'ab\\c@example.com', 'ab@example.com', 'ac@example.com', 'aa@example.com',
  'émile@example.com', 'émilie@example.com', 'emile@example.com', 'é@example.com',
  'a\u{10FFFF}b@example.com', 'a\u{10FFFF}\u{10FFFF}@example.com', 'b@example.com',
  'a\u{D7FF}z@example.com', 'a\u{E000}z@example.com', 'a\u{D7FE}@example.com',
  ...Array.from({ length: 30 }, (_, i) => `Conf${i}@example.com`),
];
const STATUSES: UserStatus[] = ['confirmed', 'pending', 'disabled'];

beforeAll(async () => {
  db = await createTestDatabase();
  const base = Date.now();
  const tie = new Date(base - 5_000);
  const rows: Seeded[] = [...EMAILS, null].map((email, i) => ({
    id: randomUUID(),
    email,
    status: STATUSES[i % 3]!,
    // Every fourth user shares one created_at: the id breaks the tie.
    createdAt: i % 4 === 0 ? tie : new Date(base - i * 1000),
    live: 0,
  }));
  // A user whose id is an email prefix of others ("ab"): the term matches both ways.
  rows.push({ id: 'ab', email: 'zz@example.com', status: 'confirmed', createdAt: new Date(base - 100_000), live: 0 });
  // And one whose email also starts with its id: found once.
  rows.push({ id: 'emile', email: 'emile2@example.com', status: 'pending', createdAt: new Date(base - 200_000), live: 0 });
  await db.db.insert(users).values(rows.map(({ live: _, ...row }) => row));
  for (const [i, row] of rows.entries()) {
    if (i % 5 !== 0) continue;
    row.live = 1 + (i % 3);
    await seedSessions(db.db, row.id, { live: row.live, revoked: 1, expired: 1 });
  }
  seeded.push(...rows);
});
afterAll(() => db?.close());

const newestFirst = (a: Seeded, b: Seeded) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

function expected(term: string, status?: UserStatus): Seeded[] {
  const id = userIdOrNull(term);
  const prefix = term.toLowerCase();
  return seeded
    .filter((u) => (u.id === id || !!u.email?.toLowerCase().startsWith(prefix)) && (!status || u.status === status))
    .sort(newestFirst);
}

/** Every page of the search, `first` at a time, through the cursors. */
async function allPages(term: string, options: { status?: UserStatus; first: number; counts: boolean; cap?: number }) {
  const found: { id: string; live: number | undefined }[] = [];
  let after: { createdAt: Date; id: string } | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const rows = await listUsers(db.db, { search: term, status: options.status }, { first: options.first, after }, {
      withActiveSessionCount: options.counts,
      searchRangeCap: options.cap,
    });
    const page = rows.slice(0, options.first);
    found.push(...page.map((r) => ({ id: r.id, live: r.activeSessionCount })));
    if (rows.length <= options.first) return found;
    after = { createdAt: page.at(-1)!.createdAt, id: page.at(-1)!.id };
  }
  throw new Error('more pages than users');
}

const TERMS = [
  'ab', 'AB', 'abc', 'ab%', 'ab_', 'ab\\', 'a%', '%', '_', '\\', 'a', 'émil', 'é', 'É', 'e',
  'a\u{10FFFF}', 'a\u{10FFFF}\u{10FFFF}', '\u{10FFFF}', 'a\u{D7FF}', 'a\u{D7FE}', 'emile', 'conf', 'CONF1', 'conf29', 'nobody', 'zz',
];

describe('search', () => {
  // The range cap matters only to the prepared search statement, which only PostgreSQL gets.
  for (const cap of onPostgres ? [undefined, 1, 3] : [undefined]) {
    it(`pages through the users matching each term, of each status, with and without counts (range cap ${cap ?? SEARCH_RANGE_CAP})`, async () => {
      // Ids: a UUID in either case, and the user without an email.
      const ids = [seeded[7]!.id.toUpperCase(), seeded[7]!.id, seeded[EMAILS.length]!.id];
      expect(seeded[EMAILS.length]!.email).toBeNull();
      for (const term of [...TERMS, ...ids]) {
        for (const status of [undefined, ...STATUSES]) {
          const want = expected(term, status);
          const counts = want.length % 2 === 0;
          const got = await allPages(term, { status, first: 4, counts, cap });
          expect(got.map((r) => r.id), `${term} ${status}`).toEqual(want.map((u) => u.id));
          if (counts) expect(got.map((r) => r.live), term).toEqual(want.map((u) => u.live));
          // One page of all: the statement without a cursor, and its limit.
          const one = await allPages(term, { status, first: 500, counts: !counts, cap });
          expect(one.map((r) => r.id), `${term} ${status}`).toEqual(want.map((u) => u.id));
        }
      }
      // The terms do tell users apart.
      expect(expected('ab').length).toBe(8 + 1);
      expect(expected('a').length).toBeGreaterThan(expected('ab').length);
    });
  }
});

describe('search plan', () => {
  // PostgreSQL plans a prepared statement with its values for five executions, then keeps a generic
  // plan if it does not look costlier than those did. The search's values reach the planner only
  // through initplans (prepareSearch), so that a plan made with them costs what the generic plan
  // costs, and PostgreSQL plans the search once per connection, not once per search.
  it.runIf(onPostgres)('settles on one generic plan per connection, which still finds what each term matches', async () => {
    // One connection, so that its prepared statements are the ones looked at; each search's statement and values kept.
    const sent: { sql: string; params: unknown[] }[] = [];
    const one = await openDatabase({ kind: 'postgres', url: db.url! }, { poolMax: 1, onQuery: (sql, params) => sent.push({ sql, params }) });
    try {
      // Narrow, broad (past the cap) and unmatched terms, each also a user id or not, with and
      // without a status: four terms for each of four statements, three times over.
      const cases = [
        { term: 'ab', cap: undefined }, { term: 'a', cap: 3 }, { term: 'nobody', cap: undefined }, { term: 'conf1', cap: 3 },
        { term: 'émil', cap: undefined }, { term: 'é', cap: 1 }, { term: 'zz%', cap: undefined }, { term: 'ab%', cap: 1 },
      ];
      // And the second page, after the first user found (or the newest user): the statements with a cursor.
      for (let round = 0; round < 3; round++) {
        for (const { term, cap } of cases) {
          for (const status of [undefined, 'confirmed' as const]) {
            const want = expected(term, status).map((u) => u.id);
            const rows = await listUsers(one.db, { search: term, status }, { first: 500, after: null }, { withActiveSessionCount: true, searchRangeCap: cap });
            expect(rows.map((r) => r.id), `${term} ${status} round ${round}`).toEqual(want);
            const first = rows[0] ?? [...seeded].sort(newestFirst)[0]!;
            const after = { createdAt: first.createdAt, id: first.id };
            const rest = await listUsers(one.db, { search: term, status }, { first: 500, after }, { withActiveSessionCount: true, searchRangeCap: cap });
            expect(rest.map((r) => r.id), `${term} ${status} round ${round}, second page`).toEqual(want.slice(1));
          }
        }
      }
      const plans = (await one.pool!.query<{ name: string; statement: string; generic_plans: string; custom_plans: string }>(
        `SELECT name, statement, generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'users\_search\_%' ORDER BY name`,
      )).rows;
      expect(plans.map((p) => p.name)).toEqual([
        'users_search_ac', 'users_search_c', 'users_search_iac', 'users_search_ic',
        'users_search_isac', 'users_search_isc', 'users_search_sac', 'users_search_sc',
      ]);
      const runsOf = (p: { statement: string }) => sent.filter((q) => q.sql === p.statement);
      for (const p of plans) {
        expect(runsOf(p).length, p.name).toBeGreaterThan(5);
        expect([Number(p.custom_plans), Number(p.generic_plans)], p.name).toEqual([5, runsOf(p).length - 5]);
      }

      // Why: planned with any search's values, each statement costs exactly what its generic plan costs.
      const literal = (value: unknown) => `'${String(value).replace(/'/g, "''")}'`;
      const cost = async (mode: string, name: string, params: unknown[]) => {
        await one.pool!.query(`SET plan_cache_mode = ${mode}`);
        const [row] = (await one.pool!.query(`EXPLAIN (FORMAT JSON) EXECUTE ${name}(${params.map(literal).join(', ')})`)).rows;
        return (row['QUERY PLAN'] as [{ Plan: { 'Total Cost': number } }])[0].Plan['Total Cost'];
      };
      for (const p of plans) {
        for (const { params } of runsOf(p).slice(0, 4)) {
          expect(await cost('force_custom_plan', p.name, params), `${p.name} ${params[0]}`).toBe(await cost('force_generic_plan', p.name, params));
        }
      }

      // The range's rows are matched on the lower(email) its read kept, not on lower() computed again.
      type PlanNode = { 'Node Type': string; 'CTE Name'?: string; Filter?: string; Plans?: PlanNode[] };
      const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];
      await one.pool!.query('SET plan_cache_mode = force_generic_plan');
      for (const p of plans) {
        const { params } = runsOf(p)[0]!;
        const [row] = (await one.pool!.query(`EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE ${p.name}(${params.map(literal).join(', ')})`)).rows;
        const filters = nodes((row['QUERY PLAN'] as [{ Plan: PlanNode }])[0].Plan)
          .filter((n) => n['Node Type'] === 'CTE Scan' && n['CTE Name'] === 'range' && n.Filter)
          .map((n) => n.Filter!);
        expect(filters, p.name).toHaveLength(1);
        expect(filters[0], p.name).toMatch(/email_key ~~/);
        expect(filters[0], p.name).not.toMatch(/lower\(/);
      }
      await one.pool!.query('RESET plan_cache_mode');
    } finally {
      await one.close();
    }
  });
});

describe('prefixRange', () => {
  it('bounds exactly the strings that start with the prefix, in code point order', () => {
    expect(prefixRange('ab')).toEqual({ lo: 'ab', hi: 'ac' });
    expect(prefixRange('a\u{D7FF}')).toEqual({ lo: 'a\u{D7FF}', hi: 'a\u{E000}' });
    expect(prefixRange('a\u{FFFF}')).toEqual({ lo: 'a\u{FFFF}', hi: 'a\u{10000}' });
    expect(prefixRange('a\u{10FFFF}')).toEqual({ lo: 'a\u{10FFFF}', hi: 'b' });
    expect(prefixRange('é\u{10FFFF}\u{10FFFF}')).toEqual({ lo: 'é\u{10FFFF}\u{10FFFF}', hi: 'ê' });
    expect(prefixRange('\u{10FFFF}')).toBeNull();
    expect(prefixRange('')).toBeNull();
  });
});
