// The console's sessions list in a real headless Chromium (playwright-core): an operator revokes one
// of a user's two sessions (a laptop and a phone, logged in through the Realm client API with the
// device fields realm-web sends) and the page says what happened; the phone's tokens are dead, the
// laptop's work. A viewer key sees the Revoke buttons greyed, with the reason. Browser tests cost
// seconds, so this runs on the embedded database only; the API under it runs on both
// (test/revoke-session.test.ts).
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { onPostgres } from './helpers/database.js';
import { call, PASSWORD, profile, refresh, registerConfirmed, Realm } from './helpers/realm.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const APP = '/api/client/v2.0/app/app-users-gateway';

let t: TestApp;
let browser: BrowserContext;
let profileDir: string;
let page: Page | undefined;
let pageErrors: string[] = [];

/** Logs in as realm-web would from a device: its own device id and DeviceInformation. */
async function logInFrom(email: string, device: Record<string, string>) {
  const res = await call(t, 'POST', `${APP}/auth/providers/local-userpass/login`, {
    body: { username: email, password: PASSWORD, options: { device: { sdkVersion: '2.0.1', ...device } } },
  });
  expect(res.status).toBe(200);
  return res.body as { access_token: string; refresh_token: string; user_id: string; device_id: string };
}

describe.skipIf(onPostgres)('revoking one session in the console', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    t = await startTestApp();
    profileDir = await mkdtemp(join(tmpdir(), 'console-sessions-chromium-'));
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 800 },
    });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
    await t?.close();
  });

  afterEach(async (context) => {
    if (!page || page.isClosed()) return;
    const name = context.task.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 80);
    await page.screenshot({ path: join(ARTIFACTS, `console-sessions-${name}.png`), fullPage: true });
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  /** Opens the console with `secret`, then the details of the user with `email`. */
  async function openDetails(secret: string, email: string, userId: string) {
    const p = await browser.newPage();
    page = p;
    pageErrors = [];
    p.on('pageerror', (err) => pageErrors.push(err.message));
    p.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await p.goto(`${t.baseUrl}/console`);
    await p.getByLabel('Admin key', { exact: true }).fill(secret);
    await p.getByRole('button', { name: 'Use this key' }).click();
    await p.getByRole('searchbox').fill(email).catch(() => undefined);
    const row = p.locator(`#user-rows tr[data-user-id="${userId}"]`);
    await expect.poll(() => row.count(), { timeout: 30_000 }).toBe(1);
    await row.getByRole('button', { name: `Details of ${email}` }).click();
    const detail = p.getByRole('dialog', { name: email });
    await expect.poll(() => detail.getByRole('heading', { name: 'Sessions (2)' }).count(), { timeout: 30_000 }).toBe(1);
    return { p, detail, sessions: detail.locator('section[aria-labelledby="detail-sessions"] tbody tr') };
  }

  it('an operator revokes the phone: the page says so, the phone is logged out, the laptop is not', async () => {
    const email = await registerConfirmed(t, new Realm.App({ id: 'app-users-gateway', baseUrl: t.baseUrl }));
    const laptop = await logInFrom(email, { platform: 'firefox', platformVersion: '128.0' });
    const phone = await logInFrom(email, { platform: 'chrome', platformVersion: '120.0', appVersion: '3.1' });
    const operator = await t.createKey('operator', 'console-operator');
    const { p, detail, sessions } = await openDetails(operator, email, laptop.user_id);

    // Newest first: the phone, then the laptop, each with what its SDK reported and its device id.
    expect(await sessions.count()).toBe(2);
    expect(await sessions.nth(0).textContent()).toContain('SDK 2.0.1 on chrome 120.0 (app 3.1)');
    expect(await sessions.nth(0).textContent()).toContain(phone.device_id);
    expect(await sessions.nth(1).textContent()).toContain('SDK 2.0.1 on firefox 128.0');

    await sessions.nth(0).getByRole('button', { name: /^Revoke the session on SDK 2\.0\.1 on chrome/ }).click();
    await expect
      .poll(() => p.locator('#notice').textContent(), { timeout: 30_000 })
      .toContain('Revoked the session of');
    expect(await p.locator('#notice').textContent()).toContain('on SDK 2.0.1 on chrome 120.0 (app 3.1): that device is logged out; 1 other session still signed in.');
    await expect.poll(() => detail.getByRole('heading', { name: 'Sessions (1)' }).count(), { timeout: 30_000 }).toBe(1);
    expect(await sessions.count()).toBe(1);
    expect(await sessions.first().textContent()).toContain('firefox');
    await expect.poll(() => detail.locator('section[aria-labelledby="detail-audit"]').textContent()).toMatch(/revokeSession/);

    expect((await profile(t, phone.access_token)).status).toBe(401);
    expect((await refresh(t, phone.refresh_token)).status).toBe(401);
    expect((await profile(t, laptop.access_token)).status).toBe(200);
    expect((await refresh(t, laptop.refresh_token)).status).toBe(201);
  });

  it('a viewer key sees each Revoke greyed with the reason, and cannot revoke', async () => {
    const email = await registerConfirmed(t, new Realm.App({ id: 'app-users-gateway', baseUrl: t.baseUrl }));
    const laptop = await logInFrom(email, { platform: 'firefox' });
    const phone = await logInFrom(email, { platform: 'chrome' });
    const viewer = await t.createKey('viewer', 'console-viewer');
    const { sessions } = await openDetails(viewer, email, laptop.user_id);
    for (const i of [0, 1]) {
      const button = sessions.nth(i).getByRole('button', { name: /^Revoke the session on/ });
      expect(await button.isDisabled()).toBe(true);
      expect(await sessions.nth(i).textContent()).toContain('Needs an operator key; this is a viewer key.');
    }
    await sessions.nth(0).getByRole('button', { name: /^Revoke the session on/ }).click({ force: true });
    expect(await sessions.count()).toBe(2);
    expect((await profile(t, phone.access_token)).status).toBe(200);
  });
});
