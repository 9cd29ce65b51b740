// Mail that reaches people: the delivery worker against a real SMTP server in the process.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { openDatabase, type DatabaseHandle } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { mailOutbox, users } from '../src/db/schema.js';
import { createHttpServer } from '../src/http-server.js';
import { createLogger } from '../src/logger.js';
import { startMailDelivery, type MailDelivery, type MailDeliveryOptions } from '../src/mail/delivery-worker.js';
import { createSmtpTransport } from '../src/mail/mailer.js';
import { loadMailTemplates, MailTemplateError, renderMail } from '../src/mail/templates.js';
import { checkInvariants } from '../src/users/invariants.js';
import { graphql, startTestApp, type TestApp } from './helpers/app.js';
import { createMigratedDataDir, createTestDatabase, onPostgres } from './helpers/database.js';
import { forgetRealmUsers, PASSWORD, Realm, realmApp, uniqueEmail } from './helpers/realm.js';
import { startSmtpServer, type TestSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

// Retries within a fraction of a second instead of 5 s, 30 s, 2 min: the same worker, shorter waits.
const FAST: Omit<MailDeliveryOptions, 'transport' | 'from'> = { pollMs: 200, retryDelaysMs: [150, 300, 600] };
const FROM = 'App Users <no-reply@example.test>';

const MAILS = `query ($id: ID!) { user(id: $id) { mails { kind recipient status attempts lastError createdAt sentAt } } }`;

async function register(baseUrl: string, email: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${baseUrl}/api/client/v2.0/app/app-users-gateway/auth/providers/local-userpass/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(res.status).toBe(201);
}

async function userId(db: DatabaseHandle, email: string): Promise<string> {
  const [user] = await db.db.select({ id: users.id }).from(users).where(eq(users.email, email));
  return user!.id;
}

async function mailRows(db: DatabaseHandle, email: string) {
  return db.db.select().from(mailOutbox).where(eq(mailOutbox.toEmail, email));
}

/** A second gateway instance (app, HTTP server, delivery worker) on a database of its own choosing. */
const MANY_SIGN_UPS = { registerPerAddress: { limit: 1_000, windowMs: 600_000 } };

async function startInstance(database: DatabaseHandle, delivery: Omit<MailDeliveryOptions, 'from'>) {
  const logger = createLogger();
  let app: ReturnType<typeof createApp> | undefined;
  const server: Server = createHttpServer((req, res) => app!(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Sign-ups from one address are limited for the whole deployment (counted in PostgreSQL): these
  // instances take more between them than the default allows.
  app = createApp({ database, logger, auth: { publicUrl: baseUrl }, limits: MANY_SIGN_UPS });
  const worker: MailDelivery = startMailDelivery(database, logger, { from: FROM, ...delivery });
  return {
    baseUrl,
    async stop() {
      await worker.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a sign-up gets its confirmation mail, and the link in it confirms', () => {
  let smtp: TestSmtpServer;
  let t: TestApp;
  const logLines: string[] = [];
  beforeAll(async () => {
    smtp = await startSmtpServer({ starttls: true });
    t = await startTestApp({
      logger: createLogger('info', { write: (line: string) => void logLines.push(line) }),
      // The flood below signs up more users from one address than REGISTER_LIMIT's default allows.
      app: { limits: MANY_SIGN_UPS },
      mail: { delivery: { transport: createSmtpTransport(smtp.url), ...FAST } },
    });
  }, 240_000);
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });
  afterEach(forgetRealmUsers);

  it('mails the link of PUBLIC_URL over STARTTLS; realm-web confirms with it and logs in', async () => {
    const app = realmApp(t);
    const email = uniqueEmail('arrives');
    await app.emailPasswordAuth.registerUser({ email, password: PASSWORD });
    const mail = await waitFor(() => smtp.received.find((m) => m.to === email), 'the confirmation mail');

    expect(mail.secure).toBe(true);
    expect(mail.parsed.from?.value).toEqual([{ name: 'App Users', address: 'no-reply@example.test' }]);
    expect(mail.parsed.subject).toBe('Confirm your email address');
    const link = /(http\S+)/.exec(mail.parsed.text!)![1]!;
    const url = new URL(link);
    expect(`${url.origin}${url.pathname}`).toBe(`${t.baseUrl}/confirm`);
    const token = url.searchParams.get('token')!;
    const tokenId = url.searchParams.get('tokenId')!;
    expect(token.length).toBeGreaterThan(20);
    expect(mail.parsed.html).toContain(`href="${link.replace(/&/g, '&amp;')}"`);

    await app.emailPasswordAuth.confirmUser({ token, tokenId });
    const user = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    expect(user.state).toBe('active');

    // The outbox keeps the record, not the live token; the log never had it.
    const [row] = await mailRows(t.database, email);
    expect(row).toMatchObject({ status: 'sent', attempts: 1, link: null, lastError: null });
    expect(row!.body).not.toContain(token);
    expect(row!.html).not.toContain(token);
    expect(logLines.join('')).toContain('"msg":"mail queued"');
    expect(logLines.join('')).toContain('"msg":"mail sent"');
    expect(logLines.join('')).not.toContain(token);
    expect(logLines.join('')).not.toContain(email);

    const { user: seen } = await graphql(t, MAILS, { id: await userId(t.database, email) });
    expect(seen.mails).toEqual([
      expect.objectContaining({ kind: 'confirm', recipient: email, status: 'SENT', attempts: 1, lastError: null, sentAt: expect.any(String) }),
    ]);
  });

  it('builds the link from PUBLIC_URL even when the request names another Host', async () => {
    const email = uniqueEmail('forged-host');
    await register(t.baseUrl, email, { host: 'attacker.example', 'x-forwarded-host': 'attacker.example', forwarded: 'host=attacker.example' });
    const mail = await waitFor(() => smtp.received.find((m) => m.to === email), 'the confirmation mail');
    expect(mail.parsed.text).toContain(`${t.baseUrl}/confirm?token=`);
    expect(mail.parsed.text).not.toContain('attacker');
    expect(mail.parsed.html).not.toContain('attacker');
  });

  it('mails a password reset link of PUBLIC_URL (kind password_reset); realm-web resets with it, once', async () => {
    const app = realmApp(t);
    const email = uniqueEmail('reset-smtp');
    const created = await graphql(t, `mutation ($email: String!, $password: String!) { createUser(email: $email, password: $password) { __typename } }`, {
      email,
      password: PASSWORD,
    });
    expect(created.createUser.__typename).toBe('CreateUserSuccess');
    // A forged Host on the request changes nothing in the link: it comes from PUBLIC_URL.
    const res = await fetch(`${t.baseUrl}/api/client/v2.0/app/app-users-gateway/auth/providers/local-userpass/reset/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', host: 'attacker.example', 'x-forwarded-host': 'attacker.example' },
      body: JSON.stringify({ email }),
    });
    expect(res.status).toBe(204);
    const mail = await waitFor(() => smtp.received.find((m) => m.to === email), 'the password reset mail');

    expect(mail.parsed.subject).toBe('Reset your password');
    const link = /(http\S+)/.exec(mail.parsed.text!)![1]!;
    expect(link).toMatch(new RegExp(`^${t.baseUrl.replace(/[.]/g, '\\.')}/reset-password\\?token=[\\w-]{43}&tokenId=[0-9a-f-]{36}$`));
    expect(mail.parsed.html).toContain(`href="${link.replace(/&/g, '&amp;')}"`);
    expect(`${mail.parsed.text}${mail.parsed.html}`).not.toContain('attacker');
    const url = new URL(link);
    const token = url.searchParams.get('token')!;
    const tokenId = url.searchParams.get('tokenId')!;

    await app.emailPasswordAuth.resetPassword({ password: 'a brand new password', token, tokenId });
    await expect(app.emailPasswordAuth.resetPassword({ password: 'yet another password', token, tokenId })).rejects.toThrow();
    const user = await app.logIn(Realm.Credentials.emailPassword(email, 'a brand new password'));
    expect(user.state).toBe('active');

    const [row] = await mailRows(t.database, email);
    expect(row).toMatchObject({ kind: 'password_reset', status: 'sent', attempts: 1, link: null, lastError: null });
    expect(`${row!.body}${row!.html}`).not.toContain(token);
    expect(logLines.join('')).not.toContain(token);
    const { user: seen } = await graphql(t, MAILS, { id: await userId(t.database, email) });
    expect(seen.mails).toEqual([expect.objectContaining({ kind: 'password_reset', recipient: email, status: 'SENT', attempts: 1 })]);
  });

  it('an address with no account gets no reset mail, and the same 204', async () => {
    const email = uniqueEmail('reset-nobody');
    const res = await fetch(`${t.baseUrl}/api/client/v2.0/app/app-users-gateway/auth/providers/local-userpass/reset/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email }),
    });
    expect(res.status).toBe(204);
    expect(await mailRows(t.database, email)).toEqual([]);
  });

  it('resends: a second mail, a new link; every mail of every pending user is in the outbox (check-db)', async () => {
    const email = uniqueEmail('resend');
    await register(t.baseUrl, email);
    const id = await userId(t.database, email);
    await graphql(t, `mutation ($id: ID!) { resendConfirmation(id: $id) { __typename } }`, { id });
    await waitFor(() => smtp.received.filter((m) => m.to === email).length === 2, 'both mails');
    const [first, second] = smtp.received.filter((m) => m.to === email).map((m) => /token=([^&\s]+)/.exec(m.parsed.text!)![1]);
    expect(first).not.toBe(second);
    expect((await checkInvariants(t.database.db)).map((v) => v.rule)).not.toContain('confirmation-token-without-mail');

    // A token whose mail row is gone is what check-db reports.
    await t.database.db.delete(mailOutbox).where(eq(mailOutbox.toEmail, email));
    const violations = await checkInvariants(t.database.db);
    expect(violations.find((v) => v.rule === 'confirmation-token-without-mail')?.sample).toContain(id);
  });

  it('a flood of sign-ups: every one is mailed exactly once', async () => {
    const emails = Array.from({ length: 25 }, () => uniqueEmail('flood'));
    await Promise.all(emails.map((email) => register(t.baseUrl, email)));
    await waitFor(() => emails.every((e) => smtp.received.some((m) => m.to === e)), 'a mail to every sign-up', 180_000);
    const counts = async () =>
      ((await t.database.db.execute(
        sql`SELECT status, count(*)::int AS n FROM mail_outbox WHERE to_email LIKE 'flood.%' GROUP BY status`,
      )) as unknown as { rows: { status: string; n: number }[] }).rows;
    // The worker records a delivery after the mail server has taken it: wait for the record.
    await waitFor(async () => (await counts()).every((c) => c.status === 'sent'), 'every delivery recorded');
    for (const email of emails) expect(smtp.received.filter((m) => m.to === email)).toHaveLength(1);
    expect(await counts()).toEqual([{ status: 'sent', n: 25 }]);
  }, 300_000);
});

describe('a mail server that is down delays mail and loses none; a 5xx fails it for good', () => {
  let smtp: TestSmtpServer;
  let t: TestApp;
  beforeAll(async () => {
    smtp = await startSmtpServer({ refuse: (address) => address.startsWith('refused.') });
    t = await startTestApp({ app: { limits: MANY_SIGN_UPS }, mail: { delivery: { transport: createSmtpTransport(smtp.url), ...FAST } } });
  }, 240_000);
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  it('retries with backoff while the server is down, recording each attempt, and delivers once it is back', async () => {
    const metricsText = () => fetch(`${t.baseUrl}/metrics`, { headers: { authorization: `Bearer ${t.adminKey}` } }).then((r) => r.text());
    // The process's counter (files before this one may have counted too): what this test adds.
    const retried = (metrics: string) => Number(/^gateway_mails_total\{outcome="retried"\} (\S+)$/m.exec(metrics)?.[1] ?? 0);
    const retriedBefore = retried(await metricsText());
    await smtp.stop();
    const emails = Array.from({ length: 5 }, () => uniqueEmail('down'));
    for (const email of emails) await register(t.baseUrl, email);
    // Each mail has been tried and failed at least twice, and is still pending. A mail's attempts
    // count up when the worker takes it: a third has been taken only once the second failed.
    await waitFor(async () => {
      const rows = await Promise.all(emails.map((e) => mailRows(t.database, e)));
      return rows.every(([row]) => row && row.status === 'pending' && row.attempts >= 3 && row.lastError);
    }, 'failed attempts on every mail', 30_000);
    const { user } = await graphql(t, MAILS, { id: await userId(t.database, emails[0]!) });
    expect(user.mails[0]).toMatchObject({ status: 'PENDING', lastError: expect.stringMatching(/ECONNREFUSED|ECONNECTION/) });

    const metrics = await metricsText();
    expect(retried(metrics) - retriedBefore).toBeGreaterThanOrEqual(1);
    expect(Number(/^gateway_mail_oldest_unsent_age_seconds (\S+)$/m.exec(metrics)![1])).toBeGreaterThan(0);

    await smtp.start();
    await waitFor(() => emails.every((e) => smtp.received.some((m) => m.to === e)), 'every mail after the server is back', 30_000);
    // The worker records a delivery after the server took it: on a busy machine, a moment later.
    await waitFor(async () => {
      const rows = await Promise.all(emails.map((e) => mailRows(t.database, e)));
      return rows.every(([row]) => row?.status !== 'pending');
    }, 'every mail recorded as sent');
    for (const email of emails) {
      expect(smtp.received.filter((m) => m.to === email)).toHaveLength(1);
      const [row] = await mailRows(t.database, email);
      expect(row).toMatchObject({ status: 'sent', link: null });
      expect(row!.attempts).toBeGreaterThanOrEqual(3);
    }
  }, 90_000);

  it('marks a mail the server refuses for good (550) failed after one attempt, visible in GraphQL', async () => {
    const email = uniqueEmail('refused');
    await register(t.baseUrl, email);
    const id = await userId(t.database, email);
    const mails = await waitFor(async () => {
      const { user } = await graphql(t, MAILS, { id });
      return user.mails[0]?.status === 'FAILED' && user.mails;
    }, 'the mail marked failed', 30_000).catch(async (err) => {
      throw new Error(`${err.message}: ${JSON.stringify(await mailRows(t.database, email))}`);
    });
    expect(mails[0]).toMatchObject({ kind: 'confirm', recipient: email, status: 'FAILED', attempts: 1, sentAt: null });
    expect(mails[0].lastError).toMatch(/550/);
    expect(smtp.received.some((m) => m.to === email)).toBe(false);
    const [row] = await mailRows(t.database, email);
    expect(row!.link).toBeNull();
    expect(row!.body).not.toMatch(/token=/);
  });
});

describe('several instances and restarts', () => {
  let smtp: TestSmtpServer;
  let t: TestApp;
  beforeAll(async () => {
    smtp = await startSmtpServer({ delayMs: 20 });
    t = await startTestApp({ app: { limits: MANY_SIGN_UPS }, mail: { delivery: { transport: createSmtpTransport(smtp.url), ...FAST, batchSize: 2 } } });
  }, 240_000);
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  it('two instances on one database deliver each mail once', async () => {
    // On PostgreSQL the second instance has its own pool, as another process would.
    const second = onPostgres ? await openDatabase({ kind: 'postgres', url: t.database.url! }) : t.database;
    const other = await startInstance(second, { transport: createSmtpTransport(smtp.url), ...FAST, batchSize: 2 });
    try {
      const emails = Array.from({ length: 30 }, (_, i) => uniqueEmail(`twice${i}`));
      await Promise.all(emails.map((email, i) => register(i % 2 ? other.baseUrl : t.baseUrl, email)));
      await waitFor(() => emails.every((e) => smtp.received.some((m) => m.to === e)), 'a mail to every sign-up', 180_000);
      // Then: nothing left for either worker, and no mail twice.
      await waitFor(async () => {
        const [{ n }] = ((await t.database.db.execute(sql`SELECT count(*)::int AS n FROM mail_outbox WHERE status <> 'sent'`)) as unknown as {
          rows: { n: number }[];
        }).rows as [{ n: number }];
        return n === 0;
      }, 'every row sent');
      for (const email of emails) expect(smtp.received.filter((m) => m.to === email)).toHaveLength(1);
    } finally {
      await other.stop();
      if (second !== t.database) await second.close();
    }
  }, 300_000);

});

describe('a restart', () => {
  it('a restart delivers the mail that was pending when the gateway stopped', async () => {
    // A database of its own, with no other worker on it: on disk for the embedded one, so that it
    // outlives the first instance; on PostgreSQL, a fresh clone whose pools come and go.
    const dataDir = onPostgres ? null : await createMigratedDataDir('gateway-restart-');
    const clone = onPostgres ? await createTestDatabase() : null;
    const open = async () => {
      const database = dataDir ? await openDatabase({ kind: 'embedded', dataDir }) : await openDatabase({ kind: 'postgres', url: clone!.url! });
      await runMigrations(database);
      return database;
    };
    try {
      const down = await startSmtpServer();
      await down.stop();
      let database = await open();
      const before = await startInstance(database, { transport: createSmtpTransport(down.url), ...FAST });
      const emails = Array.from({ length: 3 }, () => uniqueEmail('restart'));
      for (const email of emails) await register(before.baseUrl, email);
      await waitFor(async () => (await mailRows(database, emails[2]!))[0]?.lastError, 'a failed attempt', 30_000);
      await before.stop();
      await database.close();

      await down.start();
      database = await open();
      const after = await startInstance(database, { transport: createSmtpTransport(down.url), ...FAST });
      try {
        await waitFor(() => emails.every((e) => down.received.some((m) => m.to === e)), 'the pending mail after the restart', 30_000);
        for (const email of emails) expect(down.received.filter((m) => m.to === email)).toHaveLength(1);
      } finally {
        await after.stop();
        await database.close();
        await down.close();
      }
    } finally {
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
      await clone?.close();
    }
  }, 300_000);
});

describe('templates', () => {
  it('reads MAIL_TEMPLATES_DIR: its files replace the defaults, the others stay; the HTML escapes values', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mail-templates-'));
    try {
      await writeFile(join(dir, 'confirm.subject.txt'), 'Welcome to Todo\n');
      await writeFile(join(dir, 'confirm.html'), '<p>Hi {{email}}, <a href="{{link}}">confirm</a> within {{expiresInMinutes}} min</p>');
      const templates = await loadMailTemplates(dir);
      const mail = renderMail(templates, 'confirm', { link: 'https://u.example/confirm?token=a&tokenId=b', expiresInMinutes: 30, email: '"<b>"@example.com' });
      expect(mail.subject).toBe('Welcome to Todo');
      expect(mail.html).toBe('<p>Hi &quot;&lt;b&gt;&quot;@example.com, <a href="https://u.example/confirm?token=a&amp;tokenId=b">confirm</a> within 30 min</p>');
      expect(mail.text).toContain('https://u.example/confirm?token=a&tokenId=b');
      const reset = renderMail(templates, 'password_reset', { link: 'https://u.example/reset-password?token=x&tokenId=y', expiresInMinutes: 30, email: 'a@example.com' });
      expect(reset.subject).toBe('Reset your password');
      expect(reset.text).toContain('https://u.example/reset-password?token=x&tokenId=y');

      await writeFile(join(dir, 'confirm.txt'), 'Go to {{url}}');
      await expect(loadMailTemplates(dir)).rejects.toThrow(/confirm\.txt: unknown variable \{\{url\}\}/);
      await rm(join(dir, 'confirm.txt'));
      await writeFile(join(dir, 'welcome.html'), '<p>hi</p>');
      await expect(loadMailTemplates(dir)).rejects.toThrow(MailTemplateError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await expect(loadMailTemplates('/nonexistent/templates')).rejects.toThrow(/MAIL_TEMPLATES_DIR: cannot read/);
  });
});
