// The Webhooks page: the endpoints the gateway POSTs signed events to, and their deliveries, over
// the same GraphQL fields as the API (src/schema/webhooks.ts). Listing and changing endpoints needs
// an owner key; a weaker key sees those actions greyed with the reason, and may still read an
// endpoint's deliveries by its id.
import { graphql, isFailure } from './api.js';
import { h, ownerRefusal, plural, timeElement, WEBHOOK_EVENT_TYPES } from './format.js';
import { $, reportError, state } from './page.js';
import * as documents from './queries.js';

const view = {
  endpoints: [],
  /** The endpoint whose deliveries are shown, and the request that is current for it. */
  deliveriesOf: null,
  deliveriesRequest: 0,
  refreshTimer: null,
};

/** How often the deliveries list refreshes itself while some are pending. */
const PENDING_REFRESH_MS = 1000;

function showWebhooksNotice(text, kind) {
  const notice = $('webhooks-notice');
  notice.hidden = false;
  notice.className = `notice ${kind}`;
  notice.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  notice.replaceChildren(
    h('span', { class: 'notice-text', text }),
    h('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss this message', text: '×', onclick: () => (notice.hidden = true) }),
  );
}

function fail(err, context) {
  reportError(err, context);
  // reportError writes to the Users page's notice; say it here too, unless the key was dropped.
  if (state.key) showWebhooksNotice(`${context}: ${err.message}`, 'error');
}

function eventCheckboxes(fieldset, prefix, checked = []) {
  fieldset.querySelectorAll('label').forEach((l) => l.remove());
  for (const type of WEBHOOK_EVENT_TYPES) {
    fieldset.append(
      h('label', { class: 'event-choice' },
        h('input', { type: 'checkbox', name: `${prefix}-event`, value: type, checked: checked.includes(type) }),
        ' ', type),
    );
  }
}

const checkedEvents = (fieldset) => [...fieldset.querySelectorAll('input[type=checkbox]:checked')].map((i) => i.value);

/** An owner action's button: greyed with the reason beside it for a weaker key. */
function ownerButton(label, { accessibleName, onClick, danger = false }) {
  const reason = ownerRefusal(state.role);
  const button = h('button', { type: 'button', class: danger ? 'danger' : false, text: label, 'aria-label': accessibleName });
  if (reason) {
    button.setAttribute('aria-disabled', 'true');
    button.title = reason;
    return h('span', { class: 'owner-action' }, button, h('span', { class: 'owner-reason', text: reason }));
  }
  button.addEventListener('click', onClick);
  return button;
}

// ---------------------------------------------------------------------------------------------
// Opening the page

/** Shows the page for the key in `state`: owner keys list the endpoints; others get the reason and the lookup. */
export async function openWebhooks() {
  const reason = ownerRefusal(state.role);
  eventCheckboxes($('endpoint-events'), 'new', ['user.created']);
  $('endpoint-create').disabled = Boolean(reason);
  $('endpoint-create-why').hidden = !reason;
  $('endpoint-create-why').textContent = reason ?? '';
  for (const id of ['endpoint-url', 'endpoint-description']) $(id).disabled = Boolean(reason);
  $('endpoint-events').disabled = Boolean(reason);
  $('deliveries-lookup').hidden = !reason;
  if (reason) {
    view.endpoints = [];
    $('endpoint-rows').replaceChildren();
    $('endpoints-status').textContent = `Listing endpoints: ${reason} Enter an endpoint's id below to read its deliveries.`;
    return;
  }
  await loadEndpoints();
}

/** Forgets what the page showed (the key changed or was forgotten). */
export function resetWebhooks() {
  clearTimeout(view.refreshTimer);
  view.endpoints = [];
  view.deliveriesOf = null;
  view.deliveriesRequest++;
  $('endpoint-rows').replaceChildren();
  $('delivery-rows').replaceChildren();
  $('deliveries').hidden = true;
  $('endpoint-secret').hidden = true;
  $('endpoint-secret-value').textContent = '';
  $('webhooks-notice').hidden = true;
}

async function loadEndpoints() {
  const panel = $('endpoints-panel');
  panel.setAttribute('aria-busy', 'true');
  try {
    const data = await graphql(state.key, documents.WEBHOOK_ENDPOINTS);
    view.endpoints = data.webhookEndpoints;
    renderEndpoints();
  } catch (err) {
    fail(err, 'Could not list the endpoints');
  } finally {
    panel.removeAttribute('aria-busy');
  }
}

function renderEndpoints() {
  $('endpoint-rows').replaceChildren(...view.endpoints.map(endpointRow));
  $('endpoints-status').textContent = view.endpoints.length ? plural(view.endpoints.length, 'endpoint') : 'No endpoint yet: events go nowhere.';
}

function endpointRow(endpoint) {
  const name = endpoint.url;
  return h(
    'tr',
    { dataset: { endpointId: endpoint.id } },
    h('th', { scope: 'row', class: 'cell-url', 'data-label': 'URL' }, h('code', { text: endpoint.url }),
      h('div', { class: 'muted cell-id' }, 'id ', h('code', { text: endpoint.id }))),
    h('td', { class: 'cell-events', 'data-label': 'Events', text: endpoint.events.join(', ') }),
    h('td', { class: 'cell-description', 'data-label': 'Description', text: endpoint.description ?? '' }),
    h('td', { class: 'cell-state', 'data-label': 'State', text: endpoint.enabled ? 'Enabled' : 'Disabled' }),
    h('td', { 'data-label': 'Created' }, timeElement(endpoint.createdAt)),
    h('td', { class: 'cell-endpoint-actions' },
      h('button', { type: 'button', text: 'Deliveries', 'aria-label': `Deliveries of ${name}`, onclick: () => showDeliveries(endpoint.id, endpoint.url) }),
      ownerButton('Send test event', { accessibleName: `Send a test event to ${name}`, onClick: () => sendTest(endpoint) }),
      ownerButton('Edit', { accessibleName: `Edit ${name}`, onClick: () => openEdit(endpoint) }),
      endpoint.enabled
        ? ownerButton('Disable', { accessibleName: `Disable ${name}`, onClick: () => setEnabled(endpoint, false) })
        : ownerButton('Enable', { accessibleName: `Enable ${name}`, onClick: () => setEnabled(endpoint, true) }),
      ownerButton('Delete', { accessibleName: `Delete ${name}`, onClick: () => openDelete(endpoint), danger: true }),
    ),
  );
}

function replaceEndpoint(endpoint) {
  const index = view.endpoints.findIndex((e) => e.id === endpoint.id);
  if (index >= 0) view.endpoints[index] = endpoint;
  else view.endpoints.unshift(endpoint);
  renderEndpoints();
}

// ---------------------------------------------------------------------------------------------
// Endpoint actions

$('endpoint-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (ownerRefusal(state.role)) return;
  const url = $('endpoint-url').value.trim();
  const events = checkedEvents($('endpoint-events'));
  const description = $('endpoint-description').value.trim() || null;
  if (!url) return void ($('endpoint-error').textContent = 'Enter the URL the events are POSTed to.');
  if (!events.length) return void ($('endpoint-error').textContent = 'Choose at least one event.');
  $('endpoint-error').textContent = '';
  $('endpoint-create').disabled = true;
  try {
    const { result } = await graphql(state.key, documents.CREATE_WEBHOOK_ENDPOINT, { url, events, description });
    if (isFailure(result)) {
      $('endpoint-error').textContent = result.message;
      return;
    }
    replaceEndpoint(result.endpoint);
    $('endpoint-url').value = '';
    $('endpoint-description').value = '';
    $('endpoint-secret-value').textContent = result.secret;
    $('endpoint-secret-copy').textContent = 'Copy';
    $('endpoint-secret').hidden = false;
    $('endpoint-secret-copy').focus();
    showWebhooksNotice(`Created the endpoint ${result.endpoint.url}. Copy its signing secret now: it is not shown again.`, 'success');
  } catch (err) {
    fail(err, 'Could not create the endpoint');
  } finally {
    $('endpoint-create').disabled = Boolean(ownerRefusal(state.role));
  }
});

$('endpoint-secret-copy').addEventListener('click', async () => {
  const secret = $('endpoint-secret-value').textContent;
  const button = $('endpoint-secret-copy');
  try {
    await navigator.clipboard.writeText(secret);
  } catch {
    // Plain http on another host is not a secure context: fall back to a selection.
    const area = h('textarea', { class: 'visually-hidden', readonly: true });
    area.value = secret;
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  button.textContent = 'Copied';
});

$('endpoint-secret-done').addEventListener('click', () => {
  // Gone from the page: it cannot be read again.
  $('endpoint-secret-value').textContent = '';
  $('endpoint-secret').hidden = true;
});

async function runEndpointMutation(document, variables, context) {
  try {
    const { result } = await graphql(state.key, document, variables);
    if (isFailure(result)) {
      showWebhooksNotice(`${context}: ${result.message}`, 'error');
      if (result.__typename === 'WebhookEndpointNotFoundError') await loadEndpoints();
      return null;
    }
    return result;
  } catch (err) {
    fail(err, context);
    return null;
  }
}

async function sendTest(endpoint) {
  const result = await runEndpointMutation(documents.SEND_TEST_WEBHOOK, { endpointId: endpoint.id }, `Could not send a test event to ${endpoint.url}`);
  if (!result) return;
  showWebhooksNotice(`A test event is queued for ${endpoint.url}.`, 'success');
  await showDeliveries(endpoint.id, endpoint.url);
}

async function setEnabled(endpoint, enabled) {
  const result = enabled
    ? await runEndpointMutation(documents.UPDATE_WEBHOOK_ENDPOINT, { endpointId: endpoint.id, enabled: true }, `Could not enable ${endpoint.url}`)
    : await runEndpointMutation(documents.DISABLE_WEBHOOK_ENDPOINT, { endpointId: endpoint.id }, `Could not disable ${endpoint.url}`);
  if (!result) return;
  replaceEndpoint(result.endpoint);
  showWebhooksNotice(
    enabled ? `Enabled ${endpoint.url}: events are sent to it again.` : `Disabled ${endpoint.url}: no new events are sent to it; pending ones wait.`,
    'success',
  );
}

let editing = null;

function openEdit(endpoint) {
  editing = endpoint;
  $('endpoint-edit-url').textContent = endpoint.url;
  $('endpoint-edit-description').value = endpoint.description ?? '';
  eventCheckboxes($('endpoint-edit-events'), 'edit', endpoint.events);
  $('endpoint-edit-error').textContent = '';
  $('endpoint-edit-dialog').showModal();
}

$('endpoint-edit-cancel').addEventListener('click', () => $('endpoint-edit-dialog').close());

$('endpoint-edit-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const events = checkedEvents($('endpoint-edit-events'));
  if (!events.length) return void ($('endpoint-edit-error').textContent = 'Choose at least one event.');
  const description = $('endpoint-edit-description').value.trim() || null;
  $('endpoint-edit-submit').disabled = true;
  try {
    const { result } = await graphql(state.key, documents.UPDATE_WEBHOOK_ENDPOINT, { endpointId: editing.id, events, description });
    if (isFailure(result)) {
      $('endpoint-edit-error').textContent = result.message;
      return;
    }
    $('endpoint-edit-dialog').close();
    replaceEndpoint(result.endpoint);
    showWebhooksNotice(`Saved ${result.endpoint.url}.`, 'success');
  } catch (err) {
    $('endpoint-edit-dialog').close();
    fail(err, `Could not save ${editing.url}`);
  } finally {
    $('endpoint-edit-submit').disabled = false;
  }
});

let deleting = null;

function openDelete(endpoint) {
  deleting = endpoint;
  $('endpoint-delete-summary').textContent =
    `Delete ${endpoint.url}? Its deliveries go with it, pending ones included: nothing more is sent to it. This cannot be undone.`;
  $('endpoint-delete-error').textContent = '';
  $('endpoint-delete-dialog').showModal();
  $('endpoint-delete-cancel').focus();
}

$('endpoint-delete-cancel').addEventListener('click', () => $('endpoint-delete-dialog').close());

$('endpoint-delete-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const endpoint = deleting;
  $('endpoint-delete-submit').disabled = true;
  try {
    const { result } = await graphql(state.key, documents.DELETE_WEBHOOK_ENDPOINT, { endpointId: endpoint.id });
    $('endpoint-delete-dialog').close();
    if (isFailure(result)) showWebhooksNotice(`Could not delete ${endpoint.url}: ${result.message}`, 'error');
    else showWebhooksNotice(`Deleted ${endpoint.url} and its deliveries.`, 'success');
    view.endpoints = view.endpoints.filter((e) => e.id !== endpoint.id);
    renderEndpoints();
    if (view.deliveriesOf?.id === endpoint.id) {
      view.deliveriesOf = null;
      view.deliveriesRequest++;
      $('deliveries').hidden = true;
    }
  } catch (err) {
    $('endpoint-delete-dialog').close();
    fail(err, `Could not delete ${endpoint.url}`);
  } finally {
    $('endpoint-delete-submit').disabled = false;
  }
});

// ---------------------------------------------------------------------------------------------
// Deliveries

const STATUS_WORDS = { PENDING: 'Pending', DELIVERED: 'Delivered', FAILED: 'Failed' };

async function showDeliveries(endpointId, label) {
  view.deliveriesOf = { id: endpointId, label };
  $('deliveries-title').textContent = `Deliveries to ${label}`;
  $('deliveries').hidden = false;
  await loadDeliveries();
}

async function loadDeliveries() {
  clearTimeout(view.refreshTimer);
  const of = view.deliveriesOf;
  if (!of) return;
  const request = ++view.deliveriesRequest;
  const panel = $('deliveries-panel');
  panel.setAttribute('aria-busy', 'true');
  try {
    const data = await graphql(state.key, documents.WEBHOOK_DELIVERIES, { endpointId: of.id, first: 50 });
    if (request !== view.deliveriesRequest) return;
    const deliveries = data.webhookDeliveries.edges.map((e) => e.node);
    $('delivery-rows').replaceChildren(...deliveries.map(deliveryRow));
    $('deliveries-status').textContent = deliveries.length
      ? `${plural(deliveries.length, 'delivery', 'deliveries')}, newest first${data.webhookDeliveries.pageInfo.hasNextPage ? ' (older ones not shown)' : ''}.`
      : 'No delivery yet.';
    // While some are on their way, keep the list current.
    if (deliveries.some((d) => d.status === 'PENDING')) view.refreshTimer = setTimeout(loadDeliveries, PENDING_REFRESH_MS);
  } catch (err) {
    if (request === view.deliveriesRequest) fail(err, 'Could not list the deliveries');
  } finally {
    if (request === view.deliveriesRequest) panel.removeAttribute('aria-busy');
  }
}

function deliveryRow(delivery) {
  return h(
    'tr',
    { dataset: { deliveryId: delivery.id, status: delivery.status } },
    h('th', { scope: 'row', class: 'cell-event', 'data-label': 'Event' }, h('code', { text: delivery.eventId })),
    h('td', { class: 'cell-type', 'data-label': 'Type', text: delivery.eventType }),
    h('td', { class: 'cell-status', 'data-label': 'Status' }, STATUS_WORDS[delivery.status] ?? delivery.status,
      delivery.status === 'PENDING' && delivery.nextAttemptAt ? h('span', { class: 'muted' }, ' (next ', timeElement(delivery.nextAttemptAt), ')') : null),
    h('td', { class: 'cell-attempts', 'data-label': 'Attempts', text: String(delivery.attempts) }),
    h('td', { class: 'cell-code', 'data-label': 'Last status code', text: delivery.lastStatusCode == null ? '—' : String(delivery.lastStatusCode) }),
    h('td', { class: 'cell-error', 'data-label': 'Last error', text: delivery.lastError ?? '' }),
    h('td', { 'data-label': 'Queued' }, timeElement(delivery.createdAt)),
    h('td', { class: 'cell-delivery-actions' },
      ownerButton('Redeliver', { accessibleName: `Redeliver ${delivery.eventType} ${delivery.eventId}`, onClick: () => redeliver(delivery) })),
  );
}

async function redeliver(delivery) {
  try {
    const { result } = await graphql(state.key, documents.REDELIVER_WEBHOOK, { deliveryId: delivery.id });
    if (isFailure(result)) showWebhooksNotice(`Could not redeliver: ${result.message}`, 'error');
    else showWebhooksNotice(`${delivery.eventType} ${delivery.eventId} is queued to be sent again.`, 'success');
  } catch (err) {
    fail(err, 'Could not redeliver');
  }
  await loadDeliveries();
}

$('deliveries-refresh').addEventListener('click', () => loadDeliveries());

$('deliveries-lookup').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = $('deliveries-endpoint-id').value.trim();
  if (id) showDeliveries(id, `endpoint ${id}`);
});
