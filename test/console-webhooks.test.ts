// The console's Webhooks page in a real headless Chromium (playwright-core), against the production
// app over real HTTP and a real receiver that verifies every signature with standardwebhooks' own
// verifier. As test/console.test.ts, browser tests run on the embedded database only; the API
// under the page is tested on both (test/webhooks.test.ts).
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { onPostgres } from './helpers/database.js';
import { waitFor } from './helpers/wait.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

let t: TestApp;
let browser: BrowserContext;
let profileDir: string;
let receiver: WebhookReceiver;
let page: Page;
let pageErrors: string[] = [];
/** The names of the GraphQL operations the page sent. */
let operations: string[] = [];

describe.skipIf(onPostgres)('the console Webhooks page in a real browser', () => {
  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    t = await startTestApp({
      app: { webhooks: { allowPrivate: true, retryDelaysMs: [100, 100, 100], pollIntervalMs: 50, batchSize: 50 } },
    });
    receiver = await startWebhookReceiver();
    profileDir = await mkdtemp(join(tmpdir(), 'console-webhooks-chromium-'));
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    await browser.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.baseUrl });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
    await receiver?.close();
    await t?.close();
  });

  afterEach(async (context) => {
    if (page && !page.isClosed()) {
      const name = context.task.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 80);
      await page.screenshot({ path: join(ARTIFACTS, `console-webhooks-${name}.png`), fullPage: true });
      await page.close();
    }
    expect(pageErrors).toEqual([]);
  });

  /** Opens the console, enters the key, and goes to the Webhooks page through the header's link. */
  async function openWebhooks(secret: string): Promise<Page> {
    page = await browser.newPage();
    pageErrors = [];
    operations = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/graphql') && request.method() === 'POST') {
        operations.push(/(?:query|mutation) (\w+)/.exec(request.postDataJSON()?.query ?? '')?.[1] ?? '?');
      }
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    await page.goto(`${t.baseUrl}/console`);
    await page.getByLabel('Admin key', { exact: true }).fill(secret);
    await page.getByRole('button', { name: 'Use this key' }).click();
    await expect.poll(() => page.locator('#users').isVisible()).toBe(true);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: 'Webhooks' }).click();
    await expect.poll(() => page.locator('#webhooks').isVisible()).toBe(true);
    expect(await page.locator('#users').isVisible()).toBe(false);
    return page;
  }

  const endpointRow = (p: Page, url: string) => p.locator('#endpoint-rows tr', { has: p.locator('code', { hasText: url }) });

  async function endpointOf(id: string) {
    const { webhookEndpoints } = await t.client.request<{ webhookEndpoints: any[] }>('{ webhookEndpoints { id url events description enabled } }');
    return webhookEndpoints.find((e) => e.id === id);
  }

  it('an owner creates an endpoint for a real receiver, copies its secret once, sends a test event and sees it delivered', async () => {
    const p = await openWebhooks(t.adminKey);
    await expect.poll(() => p.locator('#endpoints-status').textContent()).toMatch(/No endpoint yet/);

    await p.getByLabel('URL', { exact: true }).fill(receiver.url);
    await p.getByLabel('Description (optional)').fill('console receiver');
    await p.locator('#endpoint-events').getByLabel('user.disabled').check();
    await p.getByRole('button', { name: 'Create endpoint' }).click();

    // The secret, shown once, copied with its button.
    await expect.poll(() => p.locator('#endpoint-secret').isVisible()).toBe(true);
    const secret = (await p.locator('#endpoint-secret-value').textContent())!;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    await p.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => p.locator('#endpoint-secret-copy').textContent()).toBe('Copied');
    expect(await p.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    receiver.secret = secret;
    await p.getByRole('button', { name: 'I have saved it' }).click();
    expect(await p.locator('#endpoint-secret').isVisible()).toBe(false);
    expect(await p.content()).not.toContain(secret);

    const row = endpointRow(p, receiver.url);
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.locator('.cell-events').textContent()).toBe('user.created, user.disabled');
    expect(await row.locator('.cell-state').textContent()).toBe('Enabled');
    const endpointId = (await row.getAttribute('data-endpoint-id'))!;
    expect(await endpointOf(endpointId)).toMatchObject({ url: receiver.url, description: 'console receiver', enabled: true });

    // A test event: it reaches the receiver, signed, and the deliveries list shows it delivered.
    await row.getByRole('button', { name: `Send a test event to ${receiver.url}` }).click();
    await waitFor(() => receiver.accepted().some((e) => e.type === 'webhook.test'), 'the test event at the receiver');
    expect(receiver.rejected).toEqual([]);
    const eventId = receiver.accepted().find((e) => e.type === 'webhook.test')!.id;
    const delivery = p.locator('#delivery-rows tr', { has: p.locator('code', { hasText: eventId }) });
    await expect.poll(() => delivery.locator('.cell-status').textContent(), { timeout: 30_000 }).toBe('Delivered');
    expect(await delivery.locator('.cell-type').textContent()).toBe('webhook.test');
    expect(await delivery.locator('.cell-attempts').textContent()).toBe('1');
    expect(await delivery.locator('.cell-code').textContent()).toBe('200');
    expect(await delivery.locator('.cell-error').textContent()).toBe('');

    // Redeliver: the same event id again, a second attempt.
    await delivery.getByRole('button', { name: /^Redeliver/ }).click();
    expect(operations).toContain('ConsoleRedeliverWebhook');
    await waitFor(() => receiver.accepted().filter((e) => e.id === eventId).length === 2, 'the redelivered event');
    await expect.poll(async () => {
      await p.getByRole('button', { name: 'Refresh' }).click();
      return delivery.locator('.cell-attempts').textContent();
    }, { timeout: 30_000 }).toBe('2');

    // A receiver that fails: the list shows the status code and the error.
    receiver.respond = () => 500;
    await row.getByRole('button', { name: `Send a test event to ${receiver.url}` }).click();
    const failing = p.locator('#delivery-rows tr').first();
    await expect.poll(() => failing.locator('.cell-code').textContent(), { timeout: 30_000 }).toBe('500');
    expect(await failing.locator('.cell-error').textContent()).toMatch(/500/);
    // Its retries run out (three, 100 ms apart, in this test): Failed, every attempt counted.
    await expect.poll(() => failing.locator('.cell-status').textContent(), { timeout: 30_000 }).toBe('Failed');
    expect(await failing.locator('.cell-attempts').textContent()).toBe('4');
    receiver.respond = () => 200;

    // Edit: events and description.
    await row.getByRole('button', { name: `Edit ${receiver.url}` }).click();
    await p.locator('#endpoint-edit-events').getByLabel('user.deleted').check();
    await p.locator('#endpoint-edit-events').getByLabel('user.created').uncheck();
    await p.getByLabel('Description', { exact: true }).fill('edited in the console');
    await p.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => row.locator('.cell-events').textContent()).toBe('user.disabled, user.deleted');
    expect(await endpointOf(endpointId)).toMatchObject({ events: ['user.disabled', 'user.deleted'], description: 'edited in the console' });

    // Disable, then enable again.
    await row.getByRole('button', { name: `Disable ${receiver.url}` }).click();
    await expect.poll(() => row.locator('.cell-state').textContent()).toBe('Disabled');
    expect(await endpointOf(endpointId)).toMatchObject({ enabled: false });
    await row.getByRole('button', { name: `Enable ${receiver.url}` }).click();
    await expect.poll(() => row.locator('.cell-state').textContent()).toBe('Enabled');
    expect(await endpointOf(endpointId)).toMatchObject({ enabled: true });

    // Delete asks first: Cancel keeps it, confirming deletes it.
    await row.getByRole('button', { name: `Delete ${receiver.url}` }).click();
    await expect.poll(() => p.locator('#endpoint-delete-dialog').isVisible()).toBe(true);
    await p.getByRole('button', { name: 'Cancel' }).click();
    expect(await endpointOf(endpointId)).toBeDefined();
    await row.getByRole('button', { name: `Delete ${receiver.url}` }).click();
    await p.getByRole('button', { name: 'Delete endpoint' }).click();
    await expect.poll(() => row.count()).toBe(0);
    expect(await endpointOf(endpointId)).toBeUndefined();
    expect(await p.locator('#deliveries').isVisible()).toBe(false);
  }, 60_000);

  it('says in words why a URL is refused (not http), and shows no secret', async () => {
    const p = await openWebhooks(t.adminKey);
    await p.getByLabel('URL', { exact: true }).fill('ftp://127.0.0.1/hook');
    await p.getByRole('button', { name: 'Create endpoint' }).click();
    await expect.poll(() => p.locator('#endpoint-error').textContent()).toMatch(/Only http and https URLs/);
    expect(await p.locator('#endpoint-secret').isVisible()).toBe(false);
  });

  it('a viewer key sees the owner actions greyed with the reason, and reads deliveries by endpoint id', async () => {
    // An endpoint with one delivered test event, made with the owner key through the API.
    const created = await t.client.request<any>(
      `mutation ($url: String!) { createWebhookEndpoint(url: $url, events: ["user.created"]) { ... on CreateWebhookEndpointSuccess { secret endpoint { id } } } }`,
      { url: receiver.url },
    );
    receiver.secret = created.createWebhookEndpoint.secret;
    const endpointId = created.createWebhookEndpoint.endpoint.id;
    const tests = () => receiver.accepted().filter((e) => e.type === 'webhook.test').length;
    const testsBefore = tests();
    await t.client.request(`mutation ($id: ID!) { sendTestWebhook(endpointId: $id) { __typename } }`, { id: endpointId });
    await waitFor(() => tests() === testsBefore + 1, 'the test event at the receiver');

    const viewer = await t.createKey('viewer', 'console-webhooks-viewer');
    const p = await openWebhooks(viewer);
    const reason = 'Needs an owner key; this is a viewer key.';
    await expect.poll(() => p.locator('#endpoints-status').textContent()).toContain(reason);
    expect(await p.getByRole('button', { name: 'Create endpoint' }).isDisabled()).toBe(true);
    expect(await p.locator('#endpoint-create-why').textContent()).toBe(reason);
    expect(await p.getByLabel('URL', { exact: true }).isDisabled()).toBe(true);
    expect(await p.locator('#endpoint-rows tr').count()).toBe(0);

    await p.getByLabel('Deliveries of the endpoint with id').fill(endpointId);
    await p.getByRole('button', { name: 'Show deliveries' }).click();
    const delivery = p.locator('#delivery-rows tr').first();
    await expect.poll(() => delivery.locator('.cell-status').textContent(), { timeout: 30_000 }).toBe('Delivered');
    const redeliver = delivery.getByRole('button', { name: /^Redeliver/ });
    expect(await redeliver.getAttribute('aria-disabled')).toBe('true');
    expect(await delivery.locator('.owner-reason').textContent()).toBe(reason);
    // Choosing it does nothing: no second attempt.
    const before = receiver.received.length;
    await redeliver.dispatchEvent('click');
    await p.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => delivery.locator('.cell-attempts').textContent()).toBe('1');
    expect(receiver.received.length).toBe(before);
    // The page never asked: neither the owner-only list nor the redelivery.
    expect(operations).toContain('ConsoleWebhookDeliveries');
    expect(operations).not.toContain('ConsoleRedeliverWebhook');
    expect(operations).not.toContain('ConsoleWebhookEndpoints');
    expect(await p.locator('#webhooks-notice').isVisible()).toBe(false);
  }, 60_000);
});
