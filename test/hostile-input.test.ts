// Issue 11, "Hostile clients": what a client that lies or sends garbage can do to the sign-in API
// and the cursors. Each part is a real HTTP request into a real server on 127.0.0.1.
//  - a forged Host header must not choose where confirmation links (with live tokens) point;
//  - crafted input (NUL, lone surrogates, "İ" against "i̇", far-future cursors, huge values) is a
//    400 / BAD_USER_INPUT (sign-in API: 400 BadRequest) or a clean 409, never a 500;
//  - the log never holds a token, a password, a password hash or a query's parameter values.
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { desc, eq, sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailOutbox } from '../src/db/schema.js';
import { createLogger } from '../src/logger.js';
import { postGraphQL, startTestApp, type TestApp } from './helpers/app.js';
import { distCommand, projectRoot } from './helpers/process.js';

const APP = '/api/client/v2.0/app/app-users-gateway';
const USERPASS = `${APP}/auth/providers/local-userpass`;

/** What the log received, line by line. */
const logLines: string[] = [];

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    logger: createLogger('info', { write: (line: string) => void logLines.push(line) }),
    // The fuzzing below would otherwise hit the login and sign-up limits (their own tests).
    app: {
      limits: {
        registerPerAddress: { limit: 100_000, windowMs: 60_000 },
        anonLoginPerAddress: { limit: 100_000, windowMs: 60_000 },
        confirmSendPerAddress: { limit: 100_000, windowMs: 60_000 },
        mailPerEmail: { limit: 100_000, windowMs: 60_000 },
        loginPerAddress: { limit: 100_000, windowMs: 60_000 },
        loginPerAccount: { limit: 100_000, windowMs: 60_000 },
        adminKeyPerAddress: { limit: 100_000, windowMs: 60_000 },
      },
    },
    // A database error on demand, for the log test: sign-ups of "boom…" addresses fail inside the
    // database, with the address and the password hash among the statement's parameters.
    prepare: async (database) => {
      await database.db.execute(sql.raw(`
        CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.provider_id LIKE 'boom%' THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
          RETURN NEW;
        END $$`));
      await database.db.execute(
        sql.raw('CREATE TRIGGER refuse_boom BEFORE INSERT ON user_identities FOR EACH ROW EXECUTE FUNCTION refuse_boom()'),
      );
    },
  });
});
afterAll(() => t?.close());

/** A raw HTTP request with any Host header (fetch does not let one set it). */
function send(method: string, path: string, body: string | null, headers: Record<string, string> = {}) {
  const url = new URL(t.baseUrl);
  return new Promise<{ status: number; text: string; json: any }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: url.port,
        method,
        path,
        headers: { 'content-type': 'application/json', ...(body === null ? {} : { 'content-length': Buffer.byteLength(body) }), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode!, text, json });
        });
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

const post = (path: string, body: unknown, headers?: Record<string, string>) =>
  send('POST', path, typeof body === 'string' ? body : JSON.stringify(body), headers);

async function newestLink(email: string): Promise<URL> {
  const [mail] = await t.database.db.select().from(mailOutbox).where(eq(mailOutbox.toEmail, email)).orderBy(desc(mailOutbox.createdAt)).limit(1);
  return new URL(mail!.link!);
}

describe('a forged Host header', () => {
  it('does not choose the origin of the confirmation link, at sign-up or when the mail is sent again', async () => {
    const email = 'victim@example.com';
    const registered = await post(`${USERPASS}/register`, { email, password: 'victim password' }, { host: 'attacker.example' });
    expect(registered.status).toBe(201);
    const link = await newestLink(email);
    expect(link.origin).toBe(t.baseUrl);
    expect(link.pathname).toBe('/confirm');

    const resent = await post(`${USERPASS}/confirm/send`, { email }, { host: 'attacker.example:8443' });
    expect(resent.status).toBe(204);
    expect((await newestLink(email)).origin).toBe(t.baseUrl);

    // The operator's resendConfirmation goes by configuration too.
    const { users } = (await postGraphQL(t, { query: '{ users(status: PENDING, search: "victim@") { edges { node { id } } } }' })).body.data;
    const byOperator = await post(
      '/graphql',
      { query: 'mutation ($id: ID!) { resendConfirmation(id: $id) { __typename } }', variables: { id: users.edges[0].node.id } },
      { host: 'attacker.example', authorization: `Bearer ${t.adminKey}` },
    );
    expect(byOperator.json.data.resendConfirmation.__typename).toBe('ResendConfirmationSuccess');
    expect((await newestLink(email)).origin).toBe(t.baseUrl);
  });

  it('does not choose the hostname /location hands the SDKs', async () => {
    const res = await send('GET', `${APP}/location`, null, { host: 'attacker.example' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ hostname: t.baseUrl, ws_hostname: t.baseUrl.replace(/^http/, 'ws') });
  });

  it('production without PUBLIC_URL refuses to start, naming PUBLIC_URL', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gw-public-url-'));
    const { VITEST: _v, VITEST_POOL_ID: _p, VITEST_WORKER_ID: _w, TEST_DB: _t, PUBLIC_URL: _u, CONFIRMATION_URL: _c, DATABASE_URL: _d, ...env } =
      process.env;
    try {
      const exit = await promisify(execFile)(process.execPath, distCommand('server'), {
        cwd: projectRoot,
        env: { ...env, NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
        timeout: 30_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number | null; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );
      expect(exit.code).toBe(1);
      expect(exit.stderr).toMatch(/^configuration error: PUBLIC_URL must be set in production/m);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('crafted input', () => {
  const expectBadRequest = (res: { status: number; json: any; text: string }, what: string) => {
    expect(res.status, `${what}: ${res.text}`).toBe(400);
    expect(res.json?.error_code, what).toBe('BadRequest');
  };

  it('a NUL or a lone surrogate in an email or username is a 400 BadRequest on every sign-in route', async () => {
    for (const bad of ['nul\u0000@example.com', 'lone\ud800@example.com', 'tail@example.com\udc00', '\u0000']) {
      expectBadRequest(await post(`${USERPASS}/register`, { email: bad, password: 'a good password' }), `register ${JSON.stringify(bad)}`);
      expectBadRequest(await post(`${USERPASS}/login`, { username: bad, password: 'a good password' }), `login ${JSON.stringify(bad)}`);
      expectBadRequest(await post(`${USERPASS}/confirm/send`, { email: bad }), `confirm/send ${JSON.stringify(bad)}`);
    }
    // The same through the admin API.
    const created = await postGraphQL(t, {
      query: 'mutation ($e: String!) { createUser(email: $e, password: "a good password") { __typename ... on InvalidInputError { field } } }',
      variables: { e: 'lone\ud800@example.com' },
    });
    expect(created.body.data.createUser).toEqual({ __typename: 'InvalidInputError', field: 'email' });
  });

  it('"İ…" after "i̇…" (and the other way round) is a clean 409 AccountNameInUse, not a second account or a 500', async () => {
    const pairs = [
      ['i\u0307dem@example.com', '\u0130dem@example.com'],
      ['\u0130dil@example.com', 'i\u0307dil@example.com'],
      // Composed and decomposed forms of one address are one address (NFC).
      ['caf\u00e9@example.com', 'cafe\u0301@example.com'],
    ];
    for (const [first, second] of pairs) {
      const a = await post(`${USERPASS}/register`, { email: first, password: 'a good password' });
      expect(a.status, `${first}: ${a.text}`).toBe(201);
      const b = await post(`${USERPASS}/register`, { email: second, password: 'a good password' });
      expect(b.status, `${second} after ${first}: ${b.text}`).toBe(409);
      expect(b.json.error_code).toBe('AccountNameInUse');
      const c = await postGraphQL(t, {
        query: 'mutation ($e: String!) { createUser(email: $e, password: "a good password") { __typename } }',
        variables: { e: second },
      });
      expect(c.body.data.createUser.__typename, second).toBe('EmailTakenError');
    }
  });

  it('a cursor naming a time past the year 9999 is BAD_USER_INPUT on every paged field', async () => {
    const uuid = '00000000-0000-4000-8000-000000000000';
    const cursors = ['999999999999999', '253402300800000', '300000000000000'].map((ms) => Buffer.from(`${ms}:${uuid}`).toString('base64url'));
    const queries = [
      'query ($a: String) { users(after: $a) { edges { node { id } } } }',
      'query ($a: String) { auditEvents(after: $a) { edges { node { id } } } }',
      'query ($a: String) { users(first: 1) { edges { node { sessions(after: $a) { edges { node { id } } } } } } }',
    ];
    for (const query of queries) {
      for (const after of cursors) {
        const res = await postGraphQL(t, { query, variables: { a: after } });
        const codes = (res.body.errors ?? []).map((e: any) => e.extensions.code);
        expect(codes, `${query} ${after}`).toContain('BAD_USER_INPUT');
        expect(codes, `${query} ${after}`).not.toContain('INTERNAL_SERVER_ERROR');
      }
    }
    // The last representable instant is still a cursor.
    const edge = Buffer.from(`253402300799999:${uuid}`).toString('base64url');
    const ok = await postGraphQL(t, { query: queries[0], variables: { a: edge } });
    expect(ok.body.errors).toBeUndefined();
  });

  // Strings a hostile client would try, and everything fast-check makes of them.
  const nasty = fc.constantFrom(
    '\u0000',
    'a\u0000@example.com',
    '\ud800',
    'x\udfff@example.com',
    '\ud83d',
    '\u0130@example.com',
    'i\u0307@example.com',
    '\u202e@example.com',
    '\ufeff@example.com',
    '\u{1d4ea}@example.com',
    'x'.repeat(5000),
    `${'a'.repeat(250)}@example.com`,
    '9'.repeat(400),
    '',
    ' ',
  );
  const text = fc.oneof(nasty, fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.emailAddress());
  const value = fc.oneof(
    { weight: 6, arbitrary: text },
    fc.constantFrom<unknown>(null, true, 0, -1, 1e308, 2 ** 53 + 1, [], {}, ['a@b.co'], { $ne: null }),
  );

  it('no sign-in route ever answers 500, whatever strings, numbers or shapes it is sent', async () => {
    const routes = [
      ['register', ['email', 'password']],
      ['login', ['username', 'password']],
      ['confirm', ['token', 'tokenId']],
      ['confirm/send', ['email']],
    ] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), value, value, async ([route, fields], a, b) => {
        const body = Object.fromEntries(fields.map((f, i) => [f, i === 0 ? a : b]));
        const res = await post(`${USERPASS}/${route}`, body);
        expect(res.status, `${route} ${JSON.stringify(body).slice(0, 200)}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
        expect(typeof res.json?.error_code === 'string' || res.status < 300).toBe(true);
      }),
      { numRuns: 120 },
    );
    // Huge numbers as raw JSON, which JSON.stringify would not write.
    for (const raw of ['{"email": 1e400, "password": "x"}', '{"username": 123456789012345678901234567890, "password": -0}', '{"email": "\\ud800"}']) {
      const res = await post(`${USERPASS}/register`, raw);
      expect(res.status, raw).toBe(400);
    }
  }, 120_000);

  it('no cursor argument ever fails inside, whatever it holds', async () => {
    const uuid = fc.uuid();
    const digits = fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String), fc.constantFrom('0', '9'.repeat(15), '-1', '1e3', ''));
    const cursor = fc.oneof(
      text,
      fc.tuple(digits, uuid).map(([ms, id]) => Buffer.from(`${ms}:${id}`).toString('base64url')),
      fc.tuple(digits, text).map(([ms, id]) => Buffer.from(`${ms}:${id}`).toString('base64url')),
    );
    const field = fc.constantFrom(
      'query ($a: String) { users(after: $a) { edges { node { id } } } }',
      'query ($a: String) { auditEvents(after: $a) { edges { node { id } } } }',
    );
    await fc.assert(
      fc.asyncProperty(field, cursor, async (query, after) => {
        const res = await postGraphQL(t, { query, variables: { a: after } });
        const where = `${query.slice(8, 30)} ${JSON.stringify(after).slice(0, 80)}: ${res.status}`;
        expect(res.status, where).toBeLessThan(500);
        const codes = (res.body.errors ?? []).map((e: any) => e.extensions?.code);
        for (const code of codes) expect(['BAD_USER_INPUT'], where).toContain(code);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});

describe('the log', () => {
  it('never holds a confirmation token or link, a password, a password hash or the parameters of a failed statement', async () => {
    logLines.length = 0;
    const email = 'logged.user@example.com';
    const password = 'Pa55word-never-logged';
    expect((await post(`${USERPASS}/register`, { email, password })).status).toBe(201);
    const link = await newestLink(email);
    const token = link.searchParams.get('token')!;

    // A database error in the middle of a sign-up, and of an admin's createUser.
    const boom = { email: 'boom.secret-address@example.com', password: 'Boom-password-never-logged' };
    const failed = await post(`${USERPASS}/register`, boom);
    expect(failed.status).toBe(500);
    expect(failed.text).not.toContain('boom');
    const viaAdmin = await postGraphQL(t, {
      query: 'mutation ($e: String!, $p: String!) { createUser(email: $e, password: $p) { __typename } }',
      variables: { e: 'boom.other-address@example.com', p: boom.password },
    });
    expect(viaAdmin.body.errors[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');

    const log = logLines.join('');
    for (const secret of [token, link.toString(), password, boom.password, '$argon2id$', 'scrypt$', email, 'boom.secret-address', 'boom.other-address']) {
      expect(log, `the log holds ${secret}`).not.toContain(secret);
    }
    expect(log).not.toMatch(/"params"|params: (?!\(not logged\))/);
    // The lines are there: the mail was queued, the errors were logged with their message and code.
    expect(log).toContain('mail queued');
    expect(log).toContain('refused by the test trigger');
    expect(log).toContain('"code":"P0001"');
  });
});
