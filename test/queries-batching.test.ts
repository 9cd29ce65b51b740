import { gql } from 'graphql-request';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { seedSessions, seedUsers } from './helpers/seed.js';

// Every SQL statement the app sends goes through drizzle's logger, which counts it here.
let statements: string[] = [];
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ database: { onQuery: (query) => statements.push(query) } });
  const seeded = await seedUsers(t.database.db, 520);
  for (const u of seeded.slice(0, 30)) await seedSessions(t.database.db, u.id, { live: 2, revoked: 1 });
});
afterAll(() => t?.close());

const PAGE = gql`
  query ($first: Int) {
    users(status: CONFIRMED, first: $first) {
      totalCount
      edges {
        node {
          id email status createdAt lastAuthenticatedAt disabledAt
          activeSessionCount
          identities { providerType id }
          sessions(first: 5) { edges { node { id deviceId } } pageInfo { hasNextPage } }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

async function statementsFor(first: number): Promise<{ count: number; nodes: number; sessions: Record<number, number> }> {
  const result = await t.client.request<{ users: { edges: { node: { activeSessionCount: number } }[] } }>(PAGE, { first });
  // How many users of the page have each live-session count.
  const sessions: Record<number, number> = {};
  for (const { node } of result.users.edges) sessions[node.activeSessionCount] = (sessions[node.activeSessionCount] ?? 0) + 1;
  statements = [];
  // Measure a second run so one-time work (like the admin key's last-use write) does not count.
  await t.client.request(PAGE, { first });
  return { count: statements.length, nodes: result.users.edges.length, sessions };
}

it('a page costs the same fixed number of statements at 5, 50 and 500 users', async () => {
  const small = await statementsFor(5);
  const medium = await statementsFor(50);
  const large = await statementsFor(500);
  expect(large.nodes).toBe(500);
  // The counts come with the page: the 30 newest users have 2 live sessions each (revoked ones do not count).
  expect(large.sessions).toEqual({ 0: 470, 2: 30 });
  // admin key, page, count, identities, session counts, session pages
  expect(small.count).toBeLessThanOrEqual(6);
  expect(medium.count).toBe(small.count);
  expect(large.count).toBe(small.count);
});

it('the page asked for as nodes carries the same counts, in the same one statement as edges', async () => {
  const asked = (shape: string) => `query { users(status: CONFIRMED, first: 50) { ${shape} } }`;
  const count = async (query: string) => {
    await t.client.request(query);
    statements = [];
    const result = await t.client.request<Record<string, Record<string, unknown>>>(query);
    return { statements: statements.length, users: result.users! };
  };
  const edges = await count(asked('edges { node { id activeSessionCount } }'));
  const nodes = await count(asked('nodes { id activeSessionCount }'));
  const withoutCounts = await count(asked('nodes { id }'));
  const byEdges = (edges.users.edges as { node: { id: string; activeSessionCount: number } }[]).map((e) => e.node);
  expect(nodes.users.nodes).toEqual(byEdges);
  expect(byEdges.filter((u) => u.activeSessionCount === 2)).toHaveLength(30);
  // The counts come inside the page's statement, never as a statement of their own.
  expect(nodes.statements).toBe(edges.statements);
  expect(nodes.statements).toBe(withoutCounts.statements);
});
