// Every line logged while a request is handled names the request, on the direct paths too (POST
// /introspect and the common POST /graphql, answered on Node's own request in the same request scope,
// src/logger.ts), and a line logged outside any request names none.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminKey } from '../src/admin/keys.js';
import { createApp } from '../src/app.js';
import { createLogger, withRequestScope } from '../src/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { seedUsers } from './helpers/seed.js';

function capture(level = 'debug') {
  const lines: Record<string, any>[] = [];
  const logger = createLogger(level, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('over HTTP, on the direct paths', () => {
  let database: TestDatabase;
  let server: Server;
  let baseUrl: string;
  let key: string;
  const { logger, lines } = capture();

  beforeAll(async () => {
    database = await createTestDatabase();
    server = createServer(createApp({ database, logger }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    key = (await createAdminKey(database.db, { name: 'request-log-test', role: 'owner' })).secret;
    await seedUsers(database.db, 1);
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await database?.close();
  });

  const post = (path: string, requestId: string, authorization: string, contentType: string, body: string) =>
    fetch(`${baseUrl}${path}`, { method: 'POST', headers: { authorization, 'content-type': contentType, 'x-request-id': requestId }, body });
  const graphql = (requestId: string, authorization: string, query: string) =>
    post('/graphql', requestId, authorization, 'application/json', JSON.stringify({ query }));

  it('names the request on the unknown-key warning, the unexpected error handed to Yoga and the access line', async () => {
    lines.length = 0;
    expect((await post('/introspect', 'log-introspect', 'Bearer agk_no-such-key', 'application/x-www-form-urlencoded', 'token=x')).status).toBe(401);
    expect((await graphql('log-graphql-key', 'Bearer agk_no-such-key', '{ users(first: 1) { totalCount } }')).status).toBe(401);
    expect((await graphql('log-graphql-ok', `Bearer ${key}`, '{ users(first: 1) { totalCount } }')).status).toBe(200);
    // A fault that is neither expected nor a database outage: the direct path's result with an
    // error goes to Yoga, whose masking logs it.
    await database.db.execute(sql`ALTER TABLE refresh_tokens RENAME TO refresh_tokens_away`);
    try {
      const bug = await graphql('log-graphql-bug', `Bearer ${key}`, '{ users(first: 1) { edges { node { activeSessionCount } } } }');
      expect((await bug.json()).errors[0].extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', requestId: 'log-graphql-bug' });
    } finally {
      await database.db.execute(sql`ALTER TABLE refresh_tokens_away RENAME TO refresh_tokens`);
    }

    const ids = ['log-introspect', 'log-graphql-key', 'log-graphql-ok', 'log-graphql-bug'];
    expect(lines.filter((l) => !ids.includes(l.requestId))).toEqual([]);
    const unknownKey = lines.filter((l) => l.level === 40 && /unknown, revoked or malformed admin key/.test(l.msg));
    expect(unknownKey.map((l) => l.requestId)).toEqual(['log-introspect', 'log-graphql-key']);
    for (const id of ids) expect(lines.filter((l) => l.requestId === id && l.msg === 'request')).toHaveLength(1);
    const bugLines = lines.filter((l) => l.requestId === 'log-graphql-bug' && l.level === 50);
    expect(bugLines.some((l) => /refresh_tokens/.test(JSON.stringify(l.err ?? l.args)))).toBe(true);
  });
});

describe('the request scope', () => {
  it('tags the lines of each of two overlapping handlings with its own id, the later one after the first ended', async () => {
    const { logger, lines } = capture();
    let release!: () => void;
    const later = new Promise<void>((resolve) => (release = resolve));
    const first = withRequestScope({ requestId: 'first' }, async () => {
      await Promise.resolve();
      logger.info('one');
    });
    const second = withRequestScope({ requestId: 'second' }, async () => {
      await later;
      logger.info('two');
    });
    await first;
    release();
    await second;
    logger.info('outside');
    expect(lines.map((l) => [l.msg, l.requestId])).toEqual([
      ['one', 'first'],
      ['two', 'second'],
      ['outside', undefined],
    ]);
  });
});
