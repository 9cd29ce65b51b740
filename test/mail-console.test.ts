// The console's user details show the mails sent to the user and how their delivery went, in a real
// headless Chromium (as test/console.test.ts). Browser tests cost seconds each, so they run on the
// embedded database only; the GraphQL under them (User.mails) is tested on both in mail-delivery.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailOutbox } from '../src/db/schema.js';
import { createSmtpTransport } from '../src/mail/mailer.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { onPostgres } from './helpers/database.js';
import { PASSWORD, uniqueEmail } from './helpers/realm.js';
import { startSmtpServer, type TestSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

describe.skipIf(onPostgres)('the console shows a user\'s mails', () => {
  let smtp: TestSmtpServer;
  let t: TestApp;
  let browser: BrowserContext;
  let profileDir: string;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    smtp = await startSmtpServer({ refuse: (address) => address.startsWith('refused.') });
    t = await startTestApp({ mail: { delivery: { transport: createSmtpTransport(smtp.url), pollMs: 200, retryDelaysMs: [150] } } });
    profileDir = await mkdtemp(join(tmpdir(), 'mail-console-chromium-'));
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
    await t?.close();
    await smtp?.close();
  });

  async function register(email: string) {
    const res = await fetch(`${t.baseUrl}/api/client/v2.0/app/app-users-gateway/auth/providers/local-userpass/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(res.status).toBe(201);
  }

  it('a mail refused with 550 is shown Failed with the server\'s answer; a delivered one Sent', async () => {
    const refused = uniqueEmail('refused');
    const delivered = uniqueEmail('delivered');
    await register(refused);
    await register(delivered);
    for (const email of [refused, delivered]) {
      await waitFor(async () => {
        const [row] = await t.database.db.select().from(mailOutbox).where(eq(mailOutbox.toEmail, email));
        return row && row.status !== 'pending';
      }, `the delivery of the mail to ${email}`, 30_000);
    }

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    try {
      await page.goto(`${t.baseUrl}/console`);
      await page.getByLabel('Admin key', { exact: true }).fill(t.adminKey);
      await page.getByRole('button', { name: 'Use this key' }).click();
      await page.getByRole('tab', { name: /^Pending/ }).click();

      await page.getByRole('button', { name: `Details of ${refused}` }).click();
      const detail = page.getByRole('dialog', { name: refused });
      const mails = detail.locator('section[aria-labelledby="detail-mails"]');
      await expect.poll(() => mails.locator('tbody tr:not(.mail-error)').count(), { timeout: 30_000 }).toBe(1);
      const failed = mails.locator('tbody tr').first();
      expect(await failed.getAttribute('class')).toBe('mail-failed');
      expect(await failed.locator('[data-label="Kind"]').textContent()).toBe('Confirmation');
      expect(await failed.locator('[data-label="To"]').textContent()).toBe(refused);
      expect(await failed.locator('[data-label="Status"]').textContent()).toBe('Failed');
      expect(await failed.locator('[data-label="Attempts"]').textContent()).toBe('1');
      expect(await failed.locator('[data-label="Sent"]').textContent()).toBe('not sent');
      expect(await mails.locator('tbody tr.mail-error [data-label="Last error"]').textContent()).toMatch(/550 5\.1\.1 No such user here/);
      await page.screenshot({ path: join(ARTIFACTS, 'mail-console-failed.png'), fullPage: true });
      await page.keyboard.press('Escape');
      await expect.poll(() => detail.isVisible()).toBe(false);

      await page.getByRole('button', { name: `Details of ${delivered}` }).click();
      const other = page.getByRole('dialog', { name: delivered }).locator('section[aria-labelledby="detail-mails"] tbody tr');
      await expect.poll(() => other.count(), { timeout: 30_000 }).toBe(1);
      expect(await other.first().locator('[data-label="Status"]').textContent()).toBe('Sent');
      expect(await page.getByRole('dialog', { name: delivered }).locator('tr.mail-error').count()).toBe(0);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 120_000);
});
