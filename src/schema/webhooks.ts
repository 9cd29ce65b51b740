// Webhook endpoints (owner keys) and their deliveries (viewer keys and above): see src/webhooks/.
import { toConnection } from './connections.js';
import type { WebhookEndpointRow } from '../db/schema.js';
import { InvalidInputError } from '../errors.js';
import { WebhookDeliveryNotFoundError, WebhookEndpointNotFoundError, WebhookUrlRefusedError } from '../webhooks/errors.js';
import { USER_EVENT_TYPES } from '../webhooks/outbox.js';
import type { DeliveryWithEvent } from '../webhooks/repository.js';
import * as webhooks from '../webhooks/service.js';
import { grant, grantMutation } from './access.js';
import { builder } from './builder.js';
import { ErrorInterface } from './errors.js';

const eventList = USER_EVENT_TYPES.map((e) => `\`${e}\``).join(', ');

export const WebhookEndpoint = builder.objectRef<WebhookEndpointRow>('WebhookEndpoint').implement({
  description: 'A URL the gateway POSTs signed events to (Standard Webhooks). Its signing secret is never shown again after creation.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The id of the endpoint.' }),
    url: t.exposeString('url', { description: 'Where events are POSTed (http or https).' }),
    description: t.exposeString('description', { nullable: true, description: 'What the endpoint is for, as the operator wrote it.' }),
    events: t.exposeStringList('events', { description: `The event types it receives, among ${eventList}.` }),
    enabled: t.exposeBoolean('enabled', {
      description: 'Whether events are sent to it. A disabled endpoint gets no new events; its pending deliveries wait until it is enabled.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the endpoint was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the endpoint was last changed.' }),
  }),
});

const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  description: 'Where a delivery stands.',
  values: {
    PENDING: { value: 'pending', description: 'Not delivered yet: due now, being sent, or waiting for its next retry.' },
    DELIVERED: { value: 'delivered', description: 'The endpoint answered 2xx.' },
    FAILED: { value: 'failed', description: 'Every retry failed (about 24 hours of them); redeliverWebhook sends it again.' },
  } as const,
});

const WebhookDelivery = builder.objectRef<DeliveryWithEvent>('WebhookDelivery').implement({
  description: 'One event sent to one endpoint: its attempts and their outcome.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The id of the delivery.' }),
    endpointId: t.exposeID('endpointId', { description: 'The endpoint it goes to.' }),
    eventId: t.exposeID('eventId', { description: 'The event: its `webhook-id` header, the same on every attempt, so receivers can drop duplicates.' }),
    eventType: t.exposeString('eventType', { description: `The event's type: ${eventList} or \`webhook.test\`.` }),
    payload: t.expose('payload', { type: 'JSON', description: 'The body POSTed: `{ type, timestamp, data }`.' }),
    status: t.expose('status', { type: WebhookDeliveryStatusEnum, description: 'Where the delivery stands.' }),
    attempts: t.exposeInt('attempts', { description: 'How many times it was POSTed so far.' }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When pending: when the next attempt is due (or, while it is being sent, the end of that attempt). Null otherwise.',
      resolve: (d) => (d.status === 'pending' ? d.nextAttemptAt : null),
    }),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true, description: 'When it was last POSTed; null before the first attempt.' }),
    lastStatusCode: t.exposeInt('lastStatusCode', {
      nullable: true,
      description: "The HTTP status of the last answer; null when there was none (refused connection, timeout, …).",
    }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: 'Why the last attempt failed (`HTTP 500`, `ECONNREFUSED: …`, a timeout); null when it succeeded or before any.',
    }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true, description: 'When the endpoint accepted it; null until then.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the event was queued for this endpoint (its action committed).' }),
  }),
});

const WebhookDeliveryConnection = builder.connectionObject(
  { type: WebhookDelivery, name: 'WebhookDeliveryConnection', description: "A page of an endpoint's deliveries, newest first." },
  { name: 'WebhookDeliveryEdge', description: 'A delivery and its cursor.' },
);

builder.objectType(WebhookEndpointNotFoundError, {
  name: 'WebhookEndpointNotFoundError',
  description: 'No webhook endpoint has the given id.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ id: t.exposeID('id', { description: 'The id that was asked for.' }) }),
});

builder.objectType(WebhookDeliveryNotFoundError, {
  name: 'WebhookDeliveryNotFoundError',
  description: 'No webhook delivery has the given id (it may have gone with its endpoint).',
  interfaces: [ErrorInterface],
  fields: (t) => ({ id: t.exposeID('id', { description: 'The id that was asked for.' }) }),
});

builder.objectType(WebhookUrlRefusedError, {
  name: 'WebhookUrlRefusedError',
  description:
    'The URL cannot receive webhooks: not http(s), or its host resolves to a loopback, link-local or private address (allowed only with WEBHOOK_ALLOW_PRIVATE=true).',
  interfaces: [ErrorInterface],
  fields: (t) => ({ url: t.exposeString('url', { description: 'The URL that was refused.' }) }),
});

const CreateWebhookEndpointSuccess = builder
  .objectRef<webhooks.CreatedEndpoint>('CreateWebhookEndpointSuccess')
  .implement({
    description: 'The new endpoint with its signing secret, shown only this once.',
    fields: (t) => ({
      endpoint: t.expose('endpoint', { type: WebhookEndpoint, description: 'The new endpoint.' }),
      secret: t.exposeString('secret', {
        description:
          'The signing secret in the Standard Webhooks form `whsec_…` (signatures `v1`, HMAC-SHA256): give it to the receiver to verify `webhook-signature`. It cannot be read again.',
      }),
    }),
  });

const WebhookEndpointSuccess = builder.objectRef<{ endpoint: WebhookEndpointRow }>('WebhookEndpointSuccess').implement({
  description: 'The endpoint as the mutation left it.',
  fields: (t) => ({ endpoint: t.expose('endpoint', { type: WebhookEndpoint, description: 'The endpoint.' }) }),
});

const WebhookDeliverySuccess = builder.objectRef<{ delivery: DeliveryWithEvent }>('WebhookDeliverySuccess').implement({
  description: 'The delivery, queued to be sent at once.',
  fields: (t) => ({ delivery: t.expose('delivery', { type: WebhookDelivery, description: 'The delivery.' }) }),
});

builder.queryField('webhookEndpoints', (t) =>
  t.field({
    ...grant('owner'),
    type: [WebhookEndpoint],
    description: 'Every webhook endpoint, newest first. Signing secrets are never shown.',
    resolve: (_root, _args, ctx) => webhooks.listWebhookEndpoints(ctx.db),
  }),
);

builder.queryField('webhookDeliveries', (t) =>
  t.field({
    ...grant('viewer'),
    type: WebhookDeliveryConnection,
    description: "An endpoint's deliveries, newest first, one page at a time: attempts, last status code and error.",
    args: {
      endpointId: t.arg.id({ required: true, description: 'The endpoint.' }),
      status: t.arg({ type: WebhookDeliveryStatusEnum, required: false, description: 'Only deliveries in this state.' }),
      first: t.arg.int({ required: false, description: 'How many deliveries (default 50, at most 500).' }),
      after: t.arg.string({ required: false, description: 'The `endCursor` of the previous page.' }),
    },
    resolve: async (_root, args, ctx) => {
      const page = await webhooks.findWebhookDeliveries(ctx.db, { endpointId: String(args.endpointId), status: args.status }, args.first, args.after);
      return toConnection(page, args.after != null);
    },
  }),
);

builder.mutationField('createWebhookEndpoint', (t) =>
  t.field({
    ...grantMutation('owner'),
    type: CreateWebhookEndpointSuccess,
    description: 'Subscribes a URL to events and returns its signing secret, once. Events of actions committed from now on are sent to it.',
    args: {
      url: t.arg.string({ required: true, description: 'An http(s) URL; private, loopback and link-local addresses are refused unless WEBHOOK_ALLOW_PRIVATE=true.' }),
      events: t.arg.stringList({ required: true, description: `The event types to receive: ${eventList}.` }),
      description: t.arg.string({ required: false, description: 'What the endpoint is for (at most 500 characters).' }),
    },
    errors: {
      types: [InvalidInputError, WebhookUrlRefusedError],
      directResult: true,
      union: { name: 'CreateWebhookEndpointResult', description: 'The new endpoint with its secret, or why it could not be created.' },
    },
    resolve: (_root, args, ctx) => webhooks.createWebhookEndpoint(ctx.db, ctx.actor, ctx.webhooks, args),
  }),
);

builder.mutationField('updateWebhookEndpoint', (t) =>
  t.field({
    ...grantMutation('owner'),
    type: WebhookEndpointSuccess,
    description: "Changes an endpoint's URL, events, description or whether it is enabled; what is not given stays. The secret stays too.",
    args: {
      endpointId: t.arg.id({ required: true, description: 'The endpoint.' }),
      url: t.arg.string({ required: false, description: 'A new http(s) URL, checked as createWebhookEndpoint checks it.' }),
      events: t.arg.stringList({ required: false, description: `New event types: ${eventList}.` }),
      description: t.arg.string({ required: false, description: 'A new description; null clears it.' }),
      enabled: t.arg.boolean({ required: false, description: 'true: send events to it again; false: stop (as disableWebhookEndpoint).' }),
    },
    errors: {
      types: [InvalidInputError, WebhookUrlRefusedError, WebhookEndpointNotFoundError],
      directResult: true,
      union: { name: 'UpdateWebhookEndpointResult', description: 'The endpoint as changed, or why it could not be.' },
    },
    resolve: async (_root, args, ctx) => ({
      endpoint: await webhooks.updateWebhookEndpoint(ctx.db, ctx.actor, ctx.webhooks, String(args.endpointId), {
        url: args.url,
        events: args.events,
        ...(args.description !== undefined ? { description: args.description } : {}),
        enabled: args.enabled,
      }),
    }),
  }),
);

builder.mutationField('disableWebhookEndpoint', (t) =>
  t.field({
    ...grantMutation('owner'),
    type: WebhookEndpointSuccess,
    description: 'Stops sending events to an endpoint; its pending deliveries wait. updateWebhookEndpoint(enabled: true) resumes it.',
    args: { endpointId: t.arg.id({ required: true, description: 'The endpoint.' }) },
    errors: {
      types: [InvalidInputError, WebhookEndpointNotFoundError],
      directResult: true,
      union: { name: 'DisableWebhookEndpointResult', description: 'The disabled endpoint, or why it could not be disabled.' },
    },
    resolve: async (_root, args, ctx) => ({
      endpoint: await webhooks.updateWebhookEndpoint(ctx.db, ctx.actor, ctx.webhooks, String(args.endpointId), { enabled: false }),
    }),
  }),
);

builder.mutationField('deleteWebhookEndpoint', (t) =>
  t.field({
    ...grantMutation('owner'),
    type: WebhookEndpointSuccess,
    description: 'Deletes an endpoint with its deliveries, pending ones included: nothing more is sent to it.',
    args: { endpointId: t.arg.id({ required: true, description: 'The endpoint.' }) },
    errors: {
      types: [InvalidInputError, WebhookEndpointNotFoundError],
      directResult: true,
      union: { name: 'DeleteWebhookEndpointResult', description: 'The deleted endpoint, or why it could not be deleted.' },
    },
    resolve: async (_root, args, ctx) => ({ endpoint: await webhooks.deleteWebhookEndpoint(ctx.db, ctx.actor, String(args.endpointId)) }),
  }),
);

builder.mutationField('redeliverWebhook', (t) =>
  t.field({
    ...grantMutation('owner'),
    type: WebhookDeliverySuccess,
    description: 'Sends a delivery again now, whatever its state, with the same `webhook-id`; its attempts keep counting.',
    args: { deliveryId: t.arg.id({ required: true, description: 'The delivery.' }) },
    errors: {
      types: [InvalidInputError, WebhookDeliveryNotFoundError],
      directResult: true,
      union: { name: 'RedeliverWebhookResult', description: 'The delivery, queued again, or why it could not be.' },
    },
    resolve: async (_root, args, ctx) => ({ delivery: await webhooks.redeliverWebhook(ctx.db, ctx.actor, String(args.deliveryId)) }),
  }),
);

builder.mutationField('sendTestWebhook', (t) =>
  t.field({
    ...grantMutation('owner'),
    type: WebhookDeliverySuccess,
    description: 'Queues a `webhook.test` event to this endpoint only, signed like any other, to check the receiver.',
    args: { endpointId: t.arg.id({ required: true, description: 'The endpoint.' }) },
    errors: {
      types: [InvalidInputError, WebhookEndpointNotFoundError],
      directResult: true,
      union: { name: 'SendTestWebhookResult', description: 'The test delivery, or why it could not be queued.' },
    },
    resolve: async (_root, args, ctx) => ({ delivery: await webhooks.sendTestWebhook(ctx.db, ctx.actor, String(args.endpointId)) }),
  }),
);
