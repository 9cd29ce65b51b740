// The App Users console (/console) and GraphiQL (/graphql) in a real headless Chromium, driven by
// playwright-core, against the production app over real HTTP with seeded users. Browser tests
// cost seconds each, so they run on the embedded database only; the API under them is tested on both.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { onPostgres } from './helpers/database.js';
import { call, DEFAULT_APP_ID, PASSWORD, refresh, uniqueEmail } from './helpers/realm.js';
import { seedSessions, seedUsers, type SeededUser } from './helpers/seed.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

let t: TestApp;
let browser: BrowserContext;
let profileDir: string;
let page: Page;
/** Every URL the page asked for, in order. */
let requested: string[];
/** Uncaught errors and console errors of the page: a test fails with any. */
let pageErrors: string[] = [];

let confirmed: SeededUser[];
let pending: SeededUser[];
let disabled: SeededUser[];

async function launchChromium(): Promise<BrowserContext> {
  profileDir = await mkdtemp(join(tmpdir(), 'console-chromium-'));
  // A fresh profile each run; nothing in the browser reaches out on its own.
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
  });
}

describe.skipIf(onPostgres)('the App Users console in a real browser', () => {
  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    // The app's own data, as the seed's example has it: todo_items.owner_id points at users.
    t = await startTestApp({
      prepare: async (database) => {
        await database.db.execute(sql.raw('CREATE TABLE todo_items (id serial PRIMARY KEY, owner_id uuid NOT NULL, title text NOT NULL)'));
      },
      linkedData: [{ table: 'todo_items', column: 'owner_id' }],
    });
    const db = t.database.db;
    confirmed = await seedUsers(db, 3, { status: 'confirmed', emailPrefix: 'confirmed' });
    pending = await seedUsers(db, 2, { status: 'pending', emailPrefix: 'pending' });
    disabled = await seedUsers(db, 1, { status: 'disabled', emailPrefix: 'disabled' });
    await seedSessions(db, confirmed[0]!.id, { live: 2, revoked: 1 });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
    await t?.close();
  });

  async function openPage(path: string): Promise<Page> {
    page = await browser.newPage();
    requested = [];
    pageErrors = [];
    page.on('request', (request) => requested.push(request.url()));
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (message) => {
      // A refused key is a 401 the page expects; Chromium logs every failed load anyway.
      if (message.type() === 'error' && !/^Failed to load resource: .* 401/.test(message.text())) {
        pageErrors.push(message.text());
      }
    });
    await page.goto(`${t.baseUrl}${path}`);
    return page;
  }

  afterEach(async (context) => {
    if (!page || page.isClosed()) return;
    const name = context.task.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 80);
    await page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true });
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  /** Opens the console and enters the key as a person would. */
  async function signIn(secret = t.adminKey): Promise<Page> {
    const p = await openPage('/console');
    await p.getByLabel('Admin key', { exact: true }).fill(secret);
    await p.getByRole('button', { name: 'Use this key' }).click();
    await expect.poll(() => p.locator('#users').isVisible()).toBe(true);
    await waitForList(p);
    return p;
  }

  async function waitForList(p: Page) {
    await expect.poll(() => p.locator('#users-panel').getAttribute('aria-busy')).toBe(null);
  }

  const row = (p: Page, id: string): Locator => p.locator(`#user-rows tr[data-user-id="${id}"]`);

  async function tab(p: Page, status: 'Confirmed' | 'Pending' | 'Disabled') {
    await p.getByRole('tab', { name: new RegExp(`^${status}`) }).click();
    await waitForList(p);
  }

  /** The labels of the row's … menu, each with whether it is disabled and why. */
  async function menuOf(p: Page, id: string) {
    await row(p, id).getByRole('button', { name: /^Actions for/ }).click();
    const menu = row(p, id).getByRole('menu');
    await expect.poll(() => menu.isVisible()).toBe(true);
    const items = await menu.getByRole('menuitem').all();
    return Promise.all(
      items.map(async (item) => ({
        label: (await item.locator('.menu-label').textContent())!,
        disabled: (await item.getAttribute('aria-disabled')) === 'true',
        reason: (await item.locator('.menu-reason').count()) ? await item.locator('.menu-reason').textContent() : null,
        item,
      })),
    );
  }

  /** The notice an action ends with: the one shown while it runs ends with "…". */
  async function notice(p: Page): Promise<string> {
    await expect.poll(() => p.locator('#notice').isVisible()).toBe(true);
    const text = () => p.locator('#notice .notice-text').textContent();
    await expect.poll(async () => (await text())?.endsWith('…'), { timeout: 30_000 }).toBe(false);
    return (await text())!;
  }

  async function gqlUser(id: string) {
    const { user } = await t.client.request<{ user: any }>(
      'query ($id: ID!) { user(id: $id) { id status activeSessionCount } }',
      { id },
    );
    return user;
  }

  async function addTodos(userId: string, n: number) {
    for (let i = 0; i < n; i++) {
      await t.database.db.execute(sql`INSERT INTO todo_items (owner_id, title) VALUES (${userId}, ${`todo ${i}`})`);
    }
  }

  async function todoCount(userId: string): Promise<number> {
    const result = (await t.database.db.execute(
      sql`SELECT count(*)::int AS n FROM todo_items WHERE owner_id = ${userId}`,
    )) as unknown as { rows: { n: number }[] };
    return result.rows[0]!.n;
  }

  it('1. asks for the key, lists the Confirmed users with counts, and switches to Pending', async () => {
    const p = await openPage('/console');
    // The key field is labelled and focused; nothing is listed before a key is given.
    await expect.poll(() => p.evaluate(() => document.activeElement?.id)).toBe('key-input');
    expect(await p.locator('#users').isVisible()).toBe(false);

    await p.getByLabel('Admin key', { exact: true }).fill('agk_wrong');
    await p.keyboard.press('Enter');
    await expect.poll(() => p.locator('#key-error').textContent()).toMatch(/not accepted/);

    await p.getByLabel('Admin key', { exact: true }).fill(t.adminKey);
    await p.keyboard.press('Enter');
    await waitForList(p);
    await expect.poll(() => p.locator('#user-rows tr').count()).toBe(3);
    for (const user of confirmed) {
      await expect.poll(() => row(p, user.id).locator('.cell-email').textContent()).toBe(user.email);
    }
    expect(await row(p, confirmed[0]!.id).locator('.cell-sessions').textContent()).toBe('2');
    expect(await row(p, confirmed[0]!.id).getByRole('cell').nth(1).textContent()).toContain('email/password');
    expect(await p.locator('[data-count="CONFIRMED"]').textContent()).toBe('3');
    expect(await p.locator('[data-count="PENDING"]').textContent()).toBe('2');
    expect(await p.locator('[data-count="DISABLED"]').textContent()).toBe('1');
    // Kept for the tab only.
    expect(await p.evaluate(() => sessionStorage.length)).toBe(1);
    expect(await p.evaluate(() => localStorage.length)).toBe(0);

    // Pending, with the keyboard: arrows move along the tabs.
    await p.getByRole('tab', { name: /^Confirmed/ }).focus();
    await p.keyboard.press('ArrowRight');
    await waitForList(p);
    expect(await p.getByRole('tab', { name: /^Pending/ }).getAttribute('aria-selected')).toBe('true');
    await expect.poll(() => p.locator('#user-rows tr').count()).toBe(2);
    for (const user of pending) expect(await row(p, user.id).count()).toBe(1);
    expect(await row(p, confirmed[1]!.id).count()).toBe(0);

    // Search by email prefix, then by id.
    await p.getByLabel('Search by email prefix or user id').fill(pending[1]!.email!.slice(0, 9));
    await p.keyboard.press('Enter');
    await waitForList(p);
    await expect.poll(() => p.locator('#user-rows tr').count()).toBe(1);
    expect(await row(p, pending[1]!.id).count()).toBe(1);
    await p.getByLabel('Search by email prefix or user id').fill(disabled[0]!.id);
    await p.keyboard.press('Enter');
    await expect.poll(() => p.locator('[data-count="DISABLED"]').textContent()).toBe('1');
    await expect.poll(() => p.locator('[data-count="PENDING"]').textContent()).toBe('0');
    await expect.poll(() => p.locator('#list-status').textContent()).toMatch(/^No pending users matching/);
    await p.getByLabel('Search by email prefix or user id').fill('');
    await p.keyboard.press('Enter');
    await waitForList(p);

    // At a phone's width: no sideways scrolling, each user a card, the menu inside the screen.
    await p.setViewportSize({ width: 375, height: 740 });
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    const menu = await menuOf(p, pending[0]!.id);
    const box = (await row(p, pending[0]!.id).getByRole('menu').boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(375);
    expect(menu.map((m) => m.label)).toEqual(['Delete User', 'Confirm', 'Resend confirmation']);
    await p.screenshot({ path: join(ARTIFACTS, 'console-1-narrow.png'), fullPage: true });
    await p.keyboard.press('Escape');
    expect(await p.evaluate(() => document.activeElement?.getAttribute('aria-haspopup'))).toBe('menu');

    // The page's own requests: the console files and /graphql, nothing else.
    for (const url of requested) expect(new URL(url).origin).toBe(t.baseUrl);
  });

  it('2. disables a confirmed user from its menu: it moves to Disabled and its sessions are gone', async () => {
    // A real user with two real sessions, logged in through the sign-in API.
    const email = uniqueEmail('realm');
    const created = await t.client.request<any>(
      'mutation ($email: String!, $password: String!) { createUser(email: $email, password: $password) { ... on CreateUserSuccess { user { id } } } }',
      { email, password: PASSWORD },
    );
    const id: string = created.createUser.user.id;
    const refreshTokens: string[] = [];
    for (let i = 0; i < 2; i++) {
      const login = await call(t, 'POST', `/api/client/v2.0/app/${DEFAULT_APP_ID}/auth/providers/local-userpass/login`, {
        body: { username: email, password: PASSWORD },
      });
      expect(login.status).toBe(200);
      refreshTokens.push(login.body.refresh_token);
    }
    expect((await refresh(t, refreshTokens[0]!)).status).toBe(201);

    const p = await signIn();
    await expect.poll(() => row(p, id).locator('.cell-sessions').textContent()).toBe('2');
    const menu = await menuOf(p, id);
    expect(menu.map((m) => m.label)).toEqual(['Disable User', 'Delete User', 'Revoke all sessions', 'Send password reset']);
    expect(menu.every((m) => !m.disabled)).toBe(true);
    await menu.find((m) => m.label === 'Disable User')!.item.click();

    expect(await notice(p)).toBe(`Disabled ${email}: 2 sessions revoked.`);
    await expect.poll(() => row(p, id).count()).toBe(0);
    await tab(p, 'Disabled');
    await expect.poll(() => row(p, id).count()).toBe(1);
    expect(await row(p, id).locator('.cell-sessions').textContent()).toBe('0');
    const actions = await menuOf(p, id);
    expect(actions.map((m) => m.label)).toEqual(['Enable User', 'Delete User']);
    await p.keyboard.press('Escape');

    expect(await gqlUser(id)).toMatchObject({ status: 'DISABLED', activeSessionCount: 0 });
    for (const token of refreshTokens) {
      const attempt = await refresh(t, token);
      expect(attempt.status).toBe(401);
      expect(attempt.body.error_code).toBe('InvalidSession');
    }
  });

  it('3. deletes a pending user after typing its email; Disable is not offered for it; its data stays', async () => {
    const [user] = pending;
    await addTodos(user!.id, 2);
    const p = await signIn();
    await tab(p, 'Pending');
    const menu = await menuOf(p, user!.id);
    expect(menu.map((m) => m.label)).toEqual(['Delete User', 'Confirm', 'Resend confirmation']);
    expect(menu.some((m) => /disable/i.test(m.label))).toBe(false);
    await menu[0]!.item.click();

    const dialog = p.getByRole('dialog', { name: `Delete ${user!.email}` });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    // previewDeleteUser: the app's rows that point at the user, and that they stay.
    const preview = dialog.locator('#delete-preview');
    await expect.poll(() => preview.getByRole('table').count()).toBe(1);
    expect(await preview.getByRole('row').nth(1).innerText()).toMatch(/^public\.todo_items\s+owner_id\s+2$/);
    expect(await preview.textContent()).toContain('These 2 rows stay in the database after the deletion unless an owner ticks "also delete this data".');
    const purge = dialog.getByLabel('Also delete this data');
    expect(await purge.isChecked()).toBe(false);
    expect(await purge.isEnabled()).toBe(true);

    const submit = dialog.getByRole('button', { name: 'Delete user' });
    const confirmation = dialog.getByLabel(/Type the user's email/);
    expect(await submit.isDisabled()).toBe(true);
    await confirmation.fill('someone-else@example.com');
    expect(await submit.isDisabled()).toBe(true);
    await confirmation.fill(user!.email!.toUpperCase());
    expect(await submit.isDisabled()).toBe(false);
    await p.screenshot({ path: join(ARTIFACTS, 'console-3-delete-dialog.png') });
    await submit.click();

    expect(await notice(p)).toBe(
      `Deleted ${user!.email}: 0 sessions revoked. 2 rows of the app's data left in place (public.todo_items.owner_id: 2).`,
    );
    await expect.poll(() => row(p, user!.id).count()).toBe(0);
    await expect.poll(() => p.locator('[data-count="PENDING"]').textContent()).toBe('1');
    expect(await gqlUser(user!.id)).toBeNull();
    expect(await todoCount(user!.id)).toBe(2);
  });

  it('4. revokes all sessions of a user: the counter drops to 0, and the detail panel lists them first', async () => {
    const [user] = await seedUsers(t.database.db, 1, { status: 'confirmed', emailPrefix: 'revoke' });
    await seedSessions(t.database.db, user!.id, { live: 3, expired: 1 });
    const p = await signIn();
    await expect.poll(() => row(p, user!.id).locator('.cell-sessions').textContent()).toBe('3');

    // The detail panel: its live sessions with device, created, last used and expiry.
    await row(p, user!.id).getByRole('button', { name: `Details of ${user!.email}` }).click();
    const detail = p.getByRole('dialog', { name: user!.email! });
    await expect.poll(() => detail.getByRole('heading', { name: 'Sessions (3)' }).count()).toBe(1);
    const sessionRows = detail.locator('section[aria-labelledby="detail-sessions"] tbody tr');
    expect(await sessionRows.count()).toBe(3);
    expect(await sessionRows.first().textContent()).toContain('device-live-0');
    await p.keyboard.press('Escape');
    await expect.poll(() => detail.isVisible()).toBe(false);

    // With the keyboard: focus the menu button, open with ArrowDown, move to the third item.
    // The closed dialog hands focus back to its opener; wait for that before moving focus on.
    const actions = row(p, user!.id).getByRole('button', { name: /^Actions for/ });
    await expect
      .poll(async () => {
        await actions.focus();
        return p.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
      })
      .toMatch(/^Actions for/);
    await p.keyboard.press('ArrowDown');
    await expect.poll(() => p.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('menuitem');
    await p.keyboard.press('End');
    await p.keyboard.press('ArrowUp');
    await expect.poll(() => p.evaluate(() => document.activeElement?.textContent)).toBe('Revoke all sessions');
    await p.keyboard.press('Enter');

    expect(await notice(p)).toBe(`3 sessions of ${user!.email} revoked.`);
    await expect.poll(() => row(p, user!.id).locator('.cell-sessions').textContent()).toBe('0');
    expect(await gqlUser(user!.id)).toMatchObject({ status: 'CONFIRMED', activeSessionCount: 0 });

    // And the audit trail shows it in the panel.
    await row(p, user!.id).getByRole('button', { name: `Details of ${user!.email}` }).click();
    await expect.poll(() => detail.getByRole('heading', { name: 'Sessions (0)' }).count()).toBe(1);
    expect(await detail.textContent()).toContain('No live sessions.');
    await expect.poll(() => detail.locator('section[aria-labelledby="detail-audit"]').textContent()).toMatch(/revokeUserSessions/);
  });

  it('5. a viewer key sees the menus with every action disabled, and why', async () => {
    const viewer = await t.createKey('viewer', 'console-viewer');
    const target = confirmed[2]!;
    const p = await signIn(viewer);
    await expect.poll(() => p.locator('#key-summary').textContent()).toMatch(/^Viewer key/);
    const menu = await menuOf(p, target.id);
    expect(menu.map((m) => m.label)).toEqual(['Disable User', 'Delete User', 'Revoke all sessions', 'Send password reset']);
    for (const entry of menu) {
      expect(entry.disabled).toBe(true);
      expect(entry.reason).toMatch(/this is a viewer key/);
    }
    // Choosing one (the menu opened with the first item focused) does nothing.
    expect(await p.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('menuitem');
    await p.keyboard.press('Enter');
    expect(await p.locator('#notice').isVisible()).toBe(false);
    expect(await gqlUser(target.id)).toMatchObject({ status: 'CONFIRMED' });

    // Forgetting the key takes it out of the tab and goes back to the key form.
    await p.keyboard.press('Escape');
    await p.getByRole('button', { name: 'Forget key' }).click();
    await expect.poll(() => p.locator('#sign-in').isVisible()).toBe(true);
    expect(await p.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('5b. sends a confirmed user a password reset link from its menu', async () => {
    const email = uniqueEmail('reset');
    const created = await t.client.request<any>(
      'mutation ($email: String!, $password: String!) { createUser(email: $email, password: $password) { ... on CreateUserSuccess { user { id } } } }',
      { email, password: PASSWORD },
    );
    const id: string = created.createUser.user.id;
    const p = await signIn();
    await tab(p, 'Confirmed');
    const menu = await menuOf(p, id);
    await menu.find((m) => m.label === 'Send password reset')!.item.click();
    expect(await notice(p)).toBe(`A password reset link is on its way to ${email}.`);
    const mails = await t.database.db.execute(sql`SELECT kind, link FROM mail_outbox WHERE user_id = ${id}`);
    expect((mails as unknown as { rows: { kind: string; link: string }[] }).rows).toEqual([
      { kind: 'password_reset', link: expect.stringMatching(/\/reset-password\?token=[\w-]{43}&tokenId=[0-9a-f-]{36}$/) },
    ]);
    // Gone again, so the later steps see the users they expect (GraphiQL's example lists the newest).
    await t.client.request(`mutation ($id: ID!) { deleteUser(id: $id) { __typename } }`, { id });
  });

  it('6. GraphiQL loads with no request leaving the machine, runs the example query and shows the data', async () => {
    const p = await openPage('/graphql');
    const text = (locator: Locator) => locator.innerText().then((s) => s.replace(/\u00a0/g, ' '));
    const run = p.getByRole('button', { name: /^Execute query/ });
    await expect.poll(() => run.isVisible(), { timeout: 30_000 }).toBe(true);
    // The example query, and the Authorization header ready to be filled in.
    await expect.poll(() => text(p.locator('.graphiql-query-editor'))).toContain('users(status: CONFIRMED');
    const headers = p.locator('.monaco-editor[data-uri$="request-headers.json"]');
    await expect.poll(() => text(headers)).toContain('"Authorization": "Bearer <admin key>"');

    // As a person would: select the placeholder "<admin key>" at the end of line 2 and paste the key.
    await headers.click();
    await p.keyboard.press('ControlOrMeta+End');
    await p.keyboard.press('ArrowUp');
    await p.keyboard.press('End');
    await p.keyboard.press('ArrowLeft');
    for (let i = 0; i < '<admin key>'.length; i++) await p.keyboard.press('Shift+ArrowLeft');
    await p.keyboard.insertText(t.adminKey);
    await expect.poll(() => text(headers)).toContain(`"Authorization": "Bearer ${t.adminKey}"`);
    await run.click();
    const response = p.locator('.graphiql-response');
    await expect.poll(() => text(response), { timeout: 30_000 }).toContain('"totalCount"');
    const shown = await text(response);
    expect(shown).not.toContain('"errors"');
    const { users } = await t.client.request<any>('{ users(status: CONFIRMED, first: 20) { totalCount } }');
    expect(shown).toContain(`"totalCount": ${users.totalCount}`);
    expect(shown).toContain(confirmed[1]!.email);

    // Every request of the page went to this server (or is a blob: it made itself).
    expect(requested.length).toBeGreaterThan(1);
    for (const url of requested) {
      const inner = url.startsWith('blob:') ? url.slice('blob:'.length) : url;
      if (inner.startsWith('data:')) continue;
      expect(new URL(inner).origin, url).toBe(t.baseUrl);
    }
  });

  it('7. an owner may also delete the linked data; an operator sees why it may not', async () => {
    const [alpha, beta] = await seedUsers(t.database.db, 2, { status: 'disabled', emailPrefix: 'purge' });
    await addTodos(alpha!.id, 3);
    await addTodos(beta!.id, 1);

    // An operator may not delete users at all: the menu says so.
    const operator = await t.createKey('operator', 'console-operator');
    let p = await signIn(operator);
    await tab(p, 'Disabled');
    const menu = await menuOf(p, alpha!.id);
    expect(menu.map((m) => [m.label, m.disabled])).toEqual([
      ['Enable User', false],
      ['Delete User', true],
    ]);
    expect(menu[1]!.reason).toBe('Needs an owner key; this is an operator key.');
    await p.close();

    p = await signIn();
    await tab(p, 'Disabled');
    await (await menuOf(p, alpha!.id))[1]!.item.click();
    const dialog = p.getByRole('dialog', { name: `Delete ${alpha!.email}` });
    await expect.poll(() => dialog.locator('#delete-preview').getByRole('table').count()).toBe(1);
    await dialog.getByLabel('Also delete this data').check();
    await dialog.getByLabel(/Type the user's email/).fill(alpha!.id);
    await dialog.getByRole('button', { name: 'Delete user' }).click();
    expect(await notice(p)).toBe(
      `Deleted ${alpha!.email}: 0 sessions revoked. 3 rows of the app's data deleted with it (public.todo_items.owner_id: 3).`,
    );
    expect(await todoCount(alpha!.id)).toBe(0);
    expect(await todoCount(beta!.id)).toBe(1);
    // Focus went back to the list, not lost with the removed row.
    expect(await p.evaluate(() => document.activeElement?.closest('#users') !== null)).toBe(true);
  });
  it('8. resends the confirmation of a pending user, then confirms it: it moves to Confirmed', async () => {
    const [user] = await seedUsers(t.database.db, 1, { status: 'pending', emailPrefix: 'unconfirmed' });
    const p = await signIn();
    await tab(p, 'Pending');
    const pendingBefore = Number(await p.locator('[data-count="PENDING"]').textContent());
    const confirmedBefore = Number(await p.locator('[data-count="CONFIRMED"]').textContent());

    await (await menuOf(p, user!.id)).find((m) => m.label === 'Resend confirmation')!.item.click();
    expect(await notice(p)).toBe(`A new confirmation email is on its way to ${user!.email}.`);
    expect(await row(p, user!.id).count()).toBe(1);
    const outbox = (await t.database.db.execute(
      sql`SELECT count(*)::int AS n FROM mail_outbox WHERE to_email = ${user!.email}`,
    )) as unknown as { rows: { n: number }[] };
    expect(outbox.rows[0]!.n).toBe(1);

    await (await menuOf(p, user!.id)).find((m) => m.label === 'Confirm')!.item.click();
    expect(await notice(p)).toBe(`Confirmed ${user!.email}: the user can log in now.`);
    await expect.poll(() => row(p, user!.id).count()).toBe(0);
    await expect.poll(() => p.locator('[data-count="PENDING"]').textContent()).toBe(String(pendingBefore - 1));
    expect(await p.locator('[data-count="CONFIRMED"]').textContent()).toBe(String(confirmedBefore + 1));
    expect(await gqlUser(user!.id)).toMatchObject({ status: 'CONFIRMED' });
  });
  it('9. pages with Load more: 50 at a time, in order, until there are no more', async () => {
    const many = await seedUsers(t.database.db, 60, { status: 'confirmed', emailPrefix: 'paged' });
    const p = await signIn();
    await p.getByLabel('Search by email prefix or user id').fill('paged');
    await p.keyboard.press('Enter');
    await expect.poll(() => p.locator('#user-rows tr').count()).toBe(50);
    await expect.poll(() => p.locator('#list-status').textContent()).toBe('Showing 50 of 60 confirmed users matching "paged".');
    const more = p.getByRole('button', { name: 'Load more' });
    await more.click();
    await expect.poll(() => p.locator('#user-rows tr').count()).toBe(60);
    expect(await more.isVisible()).toBe(false);
    // Newest first, each user once: the seeded order.
    const ids = await p.locator('#user-rows tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.userId));
    expect(ids).toEqual(many.map((u) => u.id));
  });
  it('10. says in words when the API refuses: a user deleted by someone else meanwhile', async () => {
    const [user] = await seedUsers(t.database.db, 1, { status: 'confirmed', emailPrefix: 'gone' });
    const p = await signIn();
    await p.getByLabel('Search by email prefix or user id').fill(user!.id);
    await p.keyboard.press('Enter');
    await expect.poll(() => p.locator('#user-rows tr').count()).toBe(1);
    await t.client.request('mutation ($id: ID!) { deleteUser(id: $id) { __typename } }', { id: user!.id });

    await (await menuOf(p, user!.id)).find((m) => m.label === 'Disable User')!.item.click();
    expect(await notice(p)).toBe(`Disable User failed for ${user!.email}: No user with id ${user!.id}.`);
    expect(await p.locator('#notice').getAttribute('role')).toBe('alert');
    await expect.poll(() => row(p, user!.id).count()).toBe(0);
  });
});

describe('the console files', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.close());

  /** A raw request, so the path reaches the server exactly as written (fetch would normalize it). */
  function raw(path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${app.baseUrl}${path}`, { method }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('serves the page and its modules with their types, a self-only CSP and revalidation', async () => {
    const page = await fetch(`${app.baseUrl}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe|https?:|\*/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/console/app.js">');
    // Nothing inline for the CSP to forbid, nothing from elsewhere.
    expect(html).not.toMatch(/<script>|<style|style="|https?:\/\//);

    for (const [path, type] of [
      ['/console/', 'text/html; charset=utf-8'],
      ['/console/app.js', 'text/javascript; charset=utf-8'],
      ['/console/api.js', 'text/javascript; charset=utf-8'],
      ['/console/console.css', 'text/css; charset=utf-8'],
      ['/console/favicon.svg', 'image/svg+xml'],
    ] as const) {
      const res = await fetch(`${app.baseUrl}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe(type);
      const etag = res.headers.get('etag')!;
      expect(etag).toMatch(/^"[\w-]+"$/);
      const again = await fetch(`${app.baseUrl}${path}`, { headers: { 'if-none-match': etag } });
      expect(again.status, path).toBe(304);
      expect(await again.text()).toBe('');
    }
  });

  it('answers only for its own files: no directory traversal, no other method', async () => {
    for (const path of [
      '/console/../package.json',
      '/console/..%2f..%2fpackage.json',
      '/console/%2e%2e/%2e%2e/package.json',
      '/console/serve.ts',
      '/console/public/app.js',
      '/console/.%2e/serve.ts',
      '/console/app.js%00.html',
      '/console/nope.js',
    ]) {
      const res = await raw(path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toMatch(/"dependencies"|createConsoleHandler/);
    }
    const post = await raw('/console', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await raw('/console/app.js', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });
});
