// The webhook endpoints and their deliveries, as the GraphQL API and the console manage them.
import { audited, type Actor } from '../audit/log.js';
import type { Database, Executor } from '../db/client.js';
import { UUID_PATTERN, pageRequest, toPage, type Page } from '../db/keyset.js';
import type { WebhookEndpointRow } from '../db/schema.js';
import { InvalidInputError } from '../errors.js';
import { WebhookDeliveryNotFoundError, WebhookEndpointNotFoundError, WebhookUrlRefusedError } from './errors.js';
import { eventActorOf, eventBody, TEST_EVENT_TYPE, USER_EVENT_TYPES } from './outbox.js';
import * as repo from './repository.js';
import { generateSigningSecret, sealSecret } from './secrets.js';
import type { WebhookSettings } from './settings.js';
import { checkEndpointAddress, parseEndpointUrl, UnsafeUrlError } from './url-guard.js';

export type WebhookServiceSettings = Pick<WebhookSettings, 'allowPrivate' | 'secretKey'>;

const MAX_DESCRIPTION = 500;

function checkId(id: string, field: string): string {
  if (!UUID_PATTERN.test(id)) throw new InvalidInputError(field, `"${id.slice(0, 64)}" is not a valid id.`);
  return id.toLowerCase();
}

async function checkUrl(text: string, settings: WebhookServiceSettings): Promise<string> {
  try {
    const url = parseEndpointUrl(text.trim());
    await checkEndpointAddress(url, settings.allowPrivate);
    return url.toString();
  } catch (err) {
    if (err instanceof UnsafeUrlError) throw new WebhookUrlRefusedError(text.slice(0, 200), err.message);
    throw err;
  }
}

function checkEvents(events: readonly string[]): string[] {
  const known: readonly string[] = USER_EVENT_TYPES;
  const unknown = events.find((e) => !known.includes(e));
  if (unknown !== undefined) {
    throw new InvalidInputError('events', `"${unknown.slice(0, 64)}" is not an event type; use ${USER_EVENT_TYPES.join(', ')}.`);
  }
  if (events.length === 0) throw new InvalidInputError('events', 'Subscribe to at least one event type.');
  return [...new Set(events)];
}

function checkDescription(description: string | null | undefined): string | null {
  if (description == null) return null;
  // eslint-disable-next-line no-control-regex
  if (description.length > MAX_DESCRIPTION || /[\u0000]/.test(description)) {
    throw new InvalidInputError('description', `The description must be at most ${MAX_DESCRIPTION} characters, without NUL.`);
  }
  return description;
}

export interface CreatedEndpoint {
  endpoint: WebhookEndpointRow;
  /** The signing secret (`whsec_…`): returned this once, never again. */
  secret: string;
}

export async function createWebhookEndpoint(
  db: Database,
  actor: Actor,
  settings: WebhookServiceSettings,
  input: { url: string; events: readonly string[]; description?: string | null },
): Promise<CreatedEndpoint> {
  const events = checkEvents(input.events);
  const description = checkDescription(input.description);
  const url = await checkUrl(input.url, settings);
  const secret = generateSigningSecret();
  return audited(
    db,
    actor,
    { action: 'createWebhookEndpoint' },
    async (tx) => ({ endpoint: await repo.insertEndpoint(tx, { url, events, description, secret: sealSecret(secret, settings.secretKey) }), secret }),
    (r) => ({ details: { endpointId: r.endpoint.id, url: r.endpoint.url, events: r.endpoint.events } }),
  );
}

export async function updateWebhookEndpoint(
  db: Database,
  actor: Actor,
  settings: WebhookServiceSettings,
  id: string,
  input: { url?: string | null; events?: readonly string[] | null; description?: string | null; enabled?: boolean | null },
): Promise<WebhookEndpointRow> {
  const endpointId = checkId(id, 'endpointId');
  const values: Parameters<typeof repo.updateEndpoint>[2] = {};
  if (input.events != null) values.events = checkEvents(input.events);
  if (input.description !== undefined) values.description = checkDescription(input.description);
  if (input.url != null) values.url = await checkUrl(input.url, settings);
  if (input.enabled != null) values.enabled = input.enabled;
  return audited(
    db,
    actor,
    { action: 'updateWebhookEndpoint' },
    async (tx) => {
      const row = await repo.updateEndpoint(tx, endpointId, values);
      if (!row) throw new WebhookEndpointNotFoundError(id);
      return row;
    },
    (row) => ({ details: { endpointId: row.id, url: row.url, events: row.events, enabled: row.enabled } }),
  );
}

export async function deleteWebhookEndpoint(db: Database, actor: Actor, id: string): Promise<WebhookEndpointRow> {
  const endpointId = checkId(id, 'endpointId');
  return audited(
    db,
    actor,
    { action: 'deleteWebhookEndpoint' },
    async (tx) => {
      const row = await repo.deleteEndpoint(tx, endpointId);
      if (!row) throw new WebhookEndpointNotFoundError(id);
      return row;
    },
    (row) => ({ details: { endpointId: row.id, url: row.url } }),
  );
}

export const listWebhookEndpoints = (ex: Executor) => repo.listEndpoints(ex);

export async function findWebhookEndpoint(ex: Executor, id: string): Promise<WebhookEndpointRow | null> {
  return UUID_PATTERN.test(id) ? repo.findEndpoint(ex, id.toLowerCase()) : null;
}

export async function findWebhookDeliveries(
  ex: Executor,
  filter: { endpointId: string; status?: repo.DeliveryStatus | null },
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<Page<repo.DeliveryWithEvent>> {
  const endpointId = checkId(filter.endpointId, 'endpointId');
  const page = pageRequest(first, after);
  return toPage(await repo.listDeliveries(ex, { endpointId, status: filter.status }, page), page.first);
}

/** Sends the delivery's event again, now, whatever its state; same `webhook-id`, so a receiver may drop it as a duplicate. */
export async function redeliverWebhook(db: Database, actor: Actor, id: string): Promise<repo.DeliveryWithEvent> {
  const deliveryId = checkId(id, 'deliveryId');
  return audited(
    db,
    actor,
    { action: 'redeliverWebhook' },
    async (tx) => {
      if (!(await repo.requeueDelivery(tx, deliveryId))) throw new WebhookDeliveryNotFoundError(id);
      return (await repo.findDelivery(tx, deliveryId))!;
    },
    (d) => ({ details: { deliveryId: d.id, endpointId: d.endpointId, eventId: d.eventId } }),
  );
}

/** Queues a `webhook.test` event to this one endpoint; to a disabled one it waits until the endpoint is enabled. */
export async function sendTestWebhook(db: Database, actor: Actor, endpointId: string): Promise<repo.DeliveryWithEvent> {
  const id = checkId(endpointId, 'endpointId');
  return audited(
    db,
    actor,
    { action: 'sendTestWebhook' },
    async (tx, { auditEventId }) => {
      if (!(await repo.findEndpoint(tx, id))) throw new WebhookEndpointNotFoundError(endpointId);
      const body = eventBody(TEST_EVENT_TYPE, new Date(), { actor: eventActorOf(actor), auditEventId, endpointId: id });
      return (await repo.findDelivery(tx, await repo.insertTestEvent(tx, id, body)))!;
    },
    (d) => ({ details: { deliveryId: d.id, endpointId: d.endpointId, eventId: d.eventId } }),
  );
}
