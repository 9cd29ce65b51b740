// The App Users console: the seed's procedures (select App Users, Confirmed or Pending, find the
// user, open its … menu, choose the action) as one page over the gateway's GraphQL API.
import {
  GatewayError,
  STATUSES,
  fetchAuditEvents,
  fetchCounts,
  fetchUserDetail,
  fetchUsers,
  fetchWhoAmI,
  loadFeatures,
  previewDelete,
  runAction,
} from './api.js';
import { detailsText, h, plural, providerNames, statusWord, timeElement, userLabel } from './format.js';
import { closeOpenMenu, createMenu } from './menu.js';

const KEY_STORAGE = 'app-users-console.admin-key';
const PAGE_SIZE = 50;

/** What each action needs, by the roles of the access issue: viewer < operator < owner. */
const ACTIONS = {
  disable: { label: 'Disable User', mutation: 'disableUser', role: 'operator' },
  enable: { label: 'Enable User', mutation: 'enableUser', role: 'operator' },
  delete: { label: 'Delete User', mutation: 'deleteUser', role: 'owner' },
  revoke: { label: 'Revoke all sessions', mutation: 'revokeUserSessions', role: 'operator' },
  confirm: { label: 'Confirm', mutation: 'confirmUser', role: 'operator' },
  resend: { label: 'Resend confirmation', mutation: 'resendConfirmation', role: 'operator' },
};

/** Exactly what the seed allows per status: pending users cannot be disabled, only deleted. */
const ACTIONS_BY_STATUS = {
  CONFIRMED: ['disable', 'delete', 'revoke'],
  PENDING: ['delete', 'confirm', 'resend'],
  DISABLED: ['enable', 'delete'],
};

const RANK = { viewer: 0, operator: 1, owner: 2 };
const article = (role) => (/^[aeiou]/.test(role) ? 'an' : 'a');

const $ = (id) => document.getElementById(id);

const state = {
  key: null,
  features: null,
  /** The key's role as the server states it, or null when it does not say. */
  role: null,
  keyName: null,
  /** Without a stated role: the highest rank the key may still have, learnt from FORBIDDEN answers. */
  maxRank: 2,
  status: 'CONFIRMED',
  search: '',
  users: [],
  endCursor: null,
  hasNextPage: false,
  counts: {},
  /** The search the counts are for. */
  countsSearch: null,
  listRequest: 0,
};

// ---------------------------------------------------------------------------------------------
// The key

async function start(key, { remember }) {
  const features = await loadFeatures(key);
  state.key = key;
  state.features = features;
  state.role = null;
  state.keyName = null;
  state.maxRank = 2;
  try {
    const me = await fetchWhoAmI(key, features);
    if (me && me.role in RANK) {
      state.role = me.role;
      state.keyName = me.name;
    }
  } catch (err) {
    if (err.code === 'UNAUTHENTICATED') throw err;
  }
  if (remember) sessionStorage.setItem(KEY_STORAGE, key);
  renderKeyStatus();
  $('sign-in').hidden = true;
  $('users').hidden = false;
  await Promise.all([loadCounts(), loadList()]);
}

function renderKeyStatus() {
  const summary = $('key-summary');
  if (state.role) {
    summary.textContent = `${capitalize(state.role)} key${state.keyName ? ` "${state.keyName}"` : ''}`;
  } else if (state.maxRank < 2) {
    summary.textContent = `Key with limited rights (${state.maxRank === 0 ? 'read only' : 'no owner actions'})`;
  } else {
    summary.textContent = 'Admin key in use';
  }
  $('key-status').hidden = false;
}

function showSignIn(message = '') {
  state.key = null;
  state.users = [];
  $('user-rows').replaceChildren();
  $('users').hidden = true;
  $('key-status').hidden = true;
  $('sign-in').hidden = false;
  $('key-error').textContent = message;
  $('key-input').value = '';
  $('key-input').focus();
}

function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
  closeDialogs();
  showSignIn('');
  $('key-help').textContent = 'The key is forgotten: this tab no longer holds it.';
}

$('key-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = $('key-input').value.trim();
  if (!key) {
    $('key-error').textContent = 'Enter the admin key.';
    return;
  }
  $('key-error').textContent = '';
  const submit = event.submitter ?? $('key-form').querySelector('button');
  submit.disabled = true;
  try {
    await start(key, { remember: true });
    $('key-input').value = '';
    $('tab-' + state.status).focus();
  } catch (err) {
    $('users').hidden = true;
    $('sign-in').hidden = false;
    $('key-error').textContent =
      err.code === 'UNAUTHENTICATED' ? 'That key was not accepted: it is wrong or has been revoked.' : err.message;
    $('key-input').focus();
  } finally {
    submit.disabled = false;
  }
});

$('forget-key').addEventListener('click', forgetKey);

/** Every failure from the API, in words; a key that stopped working sends the operator back to enter one. */
function reportError(err, context) {
  if (err instanceof GatewayError && err.code === 'UNAUTHENTICATED') {
    sessionStorage.removeItem(KEY_STORAGE);
    closeDialogs();
    showSignIn('The admin key stopped working (it may have been revoked). Enter a key again.');
    return;
  }
  showNotice(`${context}: ${err.message}`, 'error');
}

// ---------------------------------------------------------------------------------------------
// Tabs, search, the list

const tabs = () => [...document.querySelectorAll('[role="tab"]')];

function selectTab(status, { focus = false } = {}) {
  state.status = status;
  for (const tab of tabs()) {
    const selected = tab.dataset.status === status;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected && focus) tab.focus();
  }
  $('users-panel').setAttribute('aria-labelledby', `tab-${status}`);
  history.replaceState(null, '', `#${status.toLowerCase()}`);
  loadList();
}

$('tabs').addEventListener('click', (event) => {
  const tab = event.target.closest('[role="tab"]');
  if (tab && tab.dataset.status !== state.status) selectTab(tab.dataset.status);
});

$('tabs').addEventListener('keydown', (event) => {
  const all = tabs();
  const index = all.findIndex((t) => t.dataset.status === state.status);
  let next = null;
  if (event.key === 'ArrowRight') next = (index + 1) % all.length;
  else if (event.key === 'ArrowLeft') next = (index - 1 + all.length) % all.length;
  else if (event.key === 'Home') next = 0;
  else if (event.key === 'End') next = all.length - 1;
  if (next === null) return;
  event.preventDefault();
  selectTab(all[next].dataset.status, { focus: true });
});

let searchTimer = null;
function applySearch() {
  clearTimeout(searchTimer);
  const value = $('search-input').value.trim();
  if (value === state.search) return;
  state.search = value;
  loadCounts();
  loadList();
}

$('search-form').addEventListener('submit', (event) => {
  event.preventDefault();
  applySearch();
});
$('search-input').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(applySearch, 350);
});

async function loadCounts() {
  if (!state.key) return;
  const search = state.search;
  try {
    const counts = await fetchCounts(state.key, search);
    if (search !== state.search) return;
    state.counts = counts;
    state.countsSearch = search;
  } catch (err) {
    reportError(err, 'Could not count the users');
    return;
  }
  for (const status of STATUSES) {
    const element = document.querySelector(`[data-count="${status}"]`);
    element.textContent = String(state.counts[status]);
  }
  for (const tab of tabs()) {
    const status = tab.dataset.status;
    tab.setAttribute('aria-label', `${capitalize(statusWord(status))}: ${plural(state.counts[status], 'user')}`);
  }
  if (!$('users-panel').hasAttribute('aria-busy')) renderListStatus();
}

async function loadList({ more = false } = {}) {
  if (!state.key) return;
  const request = ++state.listRequest;
  const { status, search } = state;
  $('users-panel').setAttribute('aria-busy', 'true');
  if (!more) $('list-status').textContent = 'Loading…';
  $('load-more').disabled = true;
  try {
    const page = await fetchUsers(state.key, { status, search, after: more ? state.endCursor : null, first: PAGE_SIZE });
    if (request !== state.listRequest) return;
    state.users = more ? [...state.users, ...page.users] : page.users;
    state.endCursor = page.endCursor ?? state.endCursor;
    state.hasNextPage = page.hasNextPage;
    if (more) $('user-rows').append(...page.users.map(renderRow));
    else $('user-rows').replaceChildren(...page.users.map(renderRow));
    $('table-caption').textContent = `${capitalize(statusWord(status))} users${search ? ` matching "${search}"` : ''}`;
    renderListStatus();
  } catch (err) {
    if (request !== state.listRequest) return;
    $('list-status').textContent = '';
    reportError(err, 'Could not load the users');
  } finally {
    if (request === state.listRequest) {
      $('users-panel').removeAttribute('aria-busy');
      $('load-more').disabled = false;
    }
  }
}

function renderListStatus() {
  const word = statusWord(state.status);
  const matching = state.search ? ` matching "${state.search}"` : '';
  $('list-status').textContent =
    state.users.length === 0
      ? `No ${word} users${matching}.`
      : state.countsSearch === state.search && state.counts[state.status] != null
        ? `Showing ${state.users.length} of ${plural(state.counts[state.status], `${word} user`)}${matching}.`
        : `Showing ${plural(state.users.length, `${word} user`)}${matching}.`;
  $('load-more').hidden = !state.hasNextPage;
}

$('load-more').addEventListener('click', () => loadList({ more: true }));

// ---------------------------------------------------------------------------------------------
// Rows

function refusal(action) {
  const { mutation, role } = ACTIONS[action];
  if (!state.features.hasMutation(mutation)) return 'This gateway does not offer it yet.';
  if (state.role && RANK[state.role] < RANK[role]) {
    return `Needs ${article(role)} ${role} key; this is ${article(state.role)} ${state.role} key.`;
  }
  if (!state.role && RANK[role] > state.maxRank) {
    return `Needs ${article(role)} ${role} key; the gateway refused this key such actions.`;
  }
  return null;
}

function renderRow(user) {
  const label = userLabel(user);
  const email = user.email
    ? h('button', { type: 'button', class: 'link-button email', text: user.email, 'aria-haspopup': 'dialog' })
    : h('button', { type: 'button', class: 'link-button email anonymous', text: 'anonymous', 'aria-haspopup': 'dialog' });
  email.setAttribute('aria-label', `Details of ${label}`);
  email.addEventListener('click', () => openDetail(user.id));
  const copy = h('button', {
    type: 'button',
    class: 'copy',
    'aria-label': `Copy the id of ${label}`,
    title: 'Copy the id',
    text: 'Copy',
  });
  copy.addEventListener('click', () => copyId(user, copy));
  const items = ACTIONS_BY_STATUS[user.status].map((action) => ({
    action,
    label: ACTIONS[action].label,
    disabledReason: refusal(action),
  }));
  const menu = createMenu({
    label: `Actions for ${label}`,
    items,
    onSelect: (action) => perform(action, user.id),
  });
  return h(
    'tr',
    { dataset: { userId: user.id, status: user.status } },
    h('th', { scope: 'row', class: 'cell-email', 'data-label': 'Email' }, email),
    h('td', { class: 'cell-id', 'data-label': 'User id' }, h('code', { text: user.id }), ' ', copy),
    h('td', { 'data-label': 'Providers', text: providerNames(user.identities) }),
    h('td', { 'data-label': 'Created' }, timeElement(user.createdAt)),
    h('td', { 'data-label': 'Last login' }, timeElement(user.lastAuthenticatedAt)),
    h('td', { class: 'cell-sessions', 'data-label': 'Active sessions', dataset: { field: 'sessions' }, text: String(user.activeSessionCount) }),
    h('td', { class: 'cell-actions' }, menu),
  );
}

function rowOf(id) {
  return document.querySelector(`#user-rows tr[data-user-id="${CSS.escape(id)}"]`);
}

function findUser(id) {
  return state.users.find((u) => u.id === id);
}

/** Puts a changed user in place; a user whose status left this tab leaves the list. */
function applyUser(user) {
  const row = rowOf(user.id);
  if (user.status !== state.status) {
    removeUser(user.id);
    return;
  }
  state.users = state.users.map((u) => (u.id === user.id ? user : u));
  if (row) {
    const hadFocus = row.contains(document.activeElement);
    const fresh = renderRow(user);
    row.replaceWith(fresh);
    if (hadFocus) fresh.querySelector('.menu-button').focus();
  }
}

function removeUser(id) {
  const row = rowOf(id);
  const hadFocus = row?.contains(document.activeElement) || document.activeElement === document.body;
  const next = row?.nextElementSibling ?? row?.previousElementSibling;
  row?.remove();
  const before = state.users.length;
  state.users = state.users.filter((u) => u.id !== id);
  if (state.users.length < before && state.counts[state.status] > 0) state.counts[state.status] -= 1;
  renderListStatus();
  if (hadFocus) (next?.querySelector('.menu-button') ?? $('tab-' + state.status)).focus();
}

async function copyId(user, button) {
  let copied = false;
  try {
    await navigator.clipboard.writeText(user.id);
    copied = true;
  } catch {
    // Plain http on another host is not a secure context: fall back to a selection.
    const area = h('textarea', { class: 'visually-hidden', readonly: true });
    area.value = user.id;
    document.body.append(area);
    area.select();
    copied = document.execCommand('copy');
    area.remove();
    button.focus();
  }
  button.textContent = copied ? 'Copied' : 'Copy';
  showNotice(copied ? `Copied the id of ${userLabel(user)}.` : `Could not copy; the id is ${user.id}.`, copied ? 'info' : 'error');
  setTimeout(() => (button.textContent = 'Copy'), 2000);
}

// ---------------------------------------------------------------------------------------------
// Actions

const SUCCESS_WORDS = {
  disable: (user, r) => `Disabled ${userLabel(user)}: ${plural(r.revokedSessionCount ?? 0, 'session')} revoked.`,
  enable: (user) => `Enabled ${userLabel(user)}: the user can log in again (no old session came back).`,
  revoke: (user, r) => `${capitalize(plural(r.revokedSessionCount ?? 0, 'session'))} of ${userLabel(user)} revoked.`,
  confirm: (user) => `Confirmed ${userLabel(user)}: the user can log in now.`,
  resend: (user) => `A new confirmation email is on its way to ${user.email ?? userLabel(user)}.`,
};

/** Learns from a FORBIDDEN answer what the key may not do, when the server does not state the role. */
function learnRefusal(action) {
  if (state.role) return;
  const needed = RANK[ACTIONS[action].role];
  if (needed - 1 < state.maxRank) {
    state.maxRank = needed - 1;
    renderKeyStatus();
    rerenderRows();
  }
}

function rerenderRows() {
  const focusedId = document.activeElement?.closest?.('tr')?.dataset.userId;
  $('user-rows').replaceChildren(...state.users.map(renderRow));
  if (focusedId) rowOf(focusedId)?.querySelector('.menu-button')?.focus();
}

async function perform(action, id) {
  const user = findUser(id);
  if (!user) return;
  if (action === 'delete') {
    openDeleteDialog(user);
    return;
  }
  const row = rowOf(id);
  row?.setAttribute('aria-busy', 'true');
  showNotice(`${ACTIONS[action].label}: ${userLabel(user)}…`, 'info');
  try {
    const result = await runAction(state.key, state.features, ACTIONS[action].mutation, id);
    if (isFailure(result)) {
      showNotice(`${ACTIONS[action].label} failed for ${userLabel(user)}: ${result.message}`, 'error');
      if (result.__typename === 'UserNotFoundError') removeUser(id);
      else await refreshUser(id);
    } else {
      showNotice(SUCCESS_WORDS[action](user, result), 'success');
      if (result.user) applyUser(result.user);
      else await refreshUser(id);
    }
    loadCounts();
  } catch (err) {
    if (err.code === 'FORBIDDEN') learnRefusal(action);
    reportError(err, `${ACTIONS[action].label} failed for ${userLabel(user)}`);
  } finally {
    rowOf(id)?.removeAttribute('aria-busy');
  }
}

function isFailure(result) {
  return Boolean(result && typeof result.message === 'string' && /Error$/.test(result.__typename ?? ''));
}

async function refreshUser(id) {
  try {
    const fresh = await fetchUserDetail(state.key, id);
    if (fresh) applyUser(fresh);
    else removeUser(id);
  } catch {
    // The notice already says what happened; the list catches up on the next load.
  }
}

// ---------------------------------------------------------------------------------------------
// Delete, with the preview of the app's own data

let deleting = null;

function linkedText(linkedData) {
  return (linkedData ?? []).filter((l) => l.count > 0).map((l) => `${l.table}.${l.column}: ${l.count}`).join(', ');
}

function linkedTotal(linkedData) {
  return (linkedData ?? []).reduce((sum, l) => sum + l.count, 0);
}

async function openDeleteDialog(user) {
  const dialog = $('delete-dialog');
  const features = state.features;
  deleting = { user, preview: null };
  const label = userLabel(user);
  $('delete-title').textContent = `Delete ${label}`;
  $('delete-summary').textContent =
    `The user ${user.email ?? '(anonymous)'} with id ${user.id} will be removed with its identities and sessions; ` +
    'every token it holds stops working at once. This cannot be undone.';
  $('delete-confirm-label').textContent = user.email
    ? `Type the user's email (${user.email}) or id to confirm`
    : `Type the user's id (${user.id}) to confirm`;
  $('delete-confirm').value = '';
  $('delete-error').textContent = '';
  $('delete-submit').disabled = true;
  $('purge-input').checked = false;
  $('purge-row').hidden = true;
  const preview = $('delete-preview');
  preview.replaceChildren(h('p', { class: 'muted', text: 'Looking at what the deletion would leave behind…' }));
  dialog.showModal();
  $('delete-confirm').focus();

  if (!features.hasQuery('previewDeleteUser')) {
    preview.replaceChildren(
      h('p', { text: `${capitalize(plural(user.activeSessionCount, 'live session'))} will be revoked.` }),
      h('p', {
        class: 'stays',
        text:
          "This gateway cannot preview the app's own data yet. Rows of the app's tables that point at this user " +
          'stay in the database after the deletion: remove them yourself if every trace must go.',
      }),
    );
    return;
  }
  try {
    const result = await previewDelete(state.key, features, user.id);
    if (deleting?.user !== user) return;
    if (result.__typename !== 'DeletePreview') {
      preview.replaceChildren(h('p', { class: 'field-error', text: result.message ?? 'This user no longer exists.' }));
      if (result.__typename === 'UserNotFoundError') removeUser(user.id);
      return;
    }
    deleting.preview = result;
    renderPreview(result);
  } catch (err) {
    if (deleting?.user !== user) return;
    if (err.code === 'UNAUTHENTICATED') return reportError(err, '');
    preview.replaceChildren(h('p', { class: 'field-error', text: `Could not preview the deletion: ${err.message}` }));
  }
}

function renderPreview(result) {
  const preview = $('delete-preview');
  const sessions = result.activeSessionCount ?? deleting.user.activeSessionCount;
  const parts = [h('p', { text: `${capitalize(plural(sessions, 'live session'))} will be revoked.` })];
  const declared = result.linkedData ?? [];
  const linked = declared.filter((l) => l.count > 0);
  const total = linkedTotal(linked);
  if (declared.length === 0) {
    parts.push(
      h('p', {
        class: 'stays',
        text:
          "No tables of the app's own data are declared to the gateway (LINKED_DATA_FILE), so it cannot count them: " +
          "rows of the app's tables that point at this user stay in the database after the deletion.",
      }),
    );
  } else if (total === 0) {
    const names = declared.map((l) => `${l.table}.${l.column}`).join(', ');
    parts.push(h('p', { text: `None of the app's declared tables (${names}) has rows pointing at this user.` }));
  } else {
    parts.push(
      h(
        'table',
        { class: 'linked' },
        h('caption', { text: "The app's own data that points at this user" }),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Table' }), h('th', { scope: 'col', text: 'Column' }), h('th', { scope: 'col', text: 'Rows' }))),
        h('tbody', {}, linked.map((l) => h('tr', {}, h('td', { text: l.table }), h('td', { text: l.column }), h('td', { text: String(l.count) })))),
      ),
      h('p', {
        class: 'stays',
        text: `These ${plural(total, 'row')} stay in the database after the deletion unless an owner ticks "also delete this data".`,
      }),
    );
    if (state.features.hasArg(state.features.mutationName, 'deleteUser', 'purgeLinkedData')) {
      $('purge-row').hidden = false;
      const allowed = state.role ? state.role === 'owner' : state.maxRank >= 2;
      $('purge-input').disabled = !allowed;
      $('purge-why').textContent = allowed
        ? `Deletes the ${plural(total, 'row')} above in the same transaction as the user.`
        : `Only an owner key may delete the app's data${state.role ? `; this is ${article(state.role)} ${state.role} key` : ''}.`;
    }
  }
  preview.replaceChildren(...parts);
}

function confirmationMatches() {
  const typed = $('delete-confirm').value.trim();
  const { user } = deleting ?? {};
  if (!user || !typed) return false;
  return typed.toLowerCase() === user.id.toLowerCase() || (user.email != null && typed.toLowerCase() === user.email.toLowerCase());
}

$('delete-confirm').addEventListener('input', () => {
  $('delete-submit').disabled = !confirmationMatches();
});

$('delete-cancel').addEventListener('click', () => $('delete-dialog').close());
$('delete-dialog').addEventListener('close', () => {
  const user = deleting?.user;
  deleting = null;
  if (user) rowOf(user.id)?.querySelector('.menu-button')?.focus();
});

$('delete-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!deleting || !confirmationMatches()) {
    $('delete-error').textContent = "Type the user's email or id exactly to confirm.";
    return;
  }
  const { user } = deleting;
  const purge = !$('purge-row').hidden && $('purge-input').checked;
  $('delete-submit').disabled = true;
  $('delete-error').textContent = '';
  try {
    const result = await runAction(state.key, state.features, 'deleteUser', user.id, { purgeLinkedData: purge });
    if (isFailure(result)) {
      $('delete-error').textContent = result.message;
      if (result.__typename === 'UserNotFoundError') removeUser(user.id);
      return;
    }
    let words = `Deleted ${userLabel(user)}: ${plural(result.revokedSessionCount ?? 0, 'session')} revoked.`;
    const total = linkedTotal(result.linkedData);
    if (result.linkedDataPurged && total > 0) {
      words += ` ${capitalize(plural(total, 'row'))} of the app's data deleted with it (${linkedText(result.linkedData)}).`;
    } else if (total > 0) {
      words += ` ${capitalize(plural(total, 'row'))} of the app's data left in place (${linkedText(result.linkedData)}).`;
    }
    deleting = null;
    $('delete-dialog').close();
    removeUser(user.id);
    showNotice(words, 'success');
    loadCounts();
  } catch (err) {
    if (err.code === 'FORBIDDEN') learnRefusal('delete');
    if (err.code === 'UNAUTHENTICATED') return reportError(err, '');
    $('delete-error').textContent = `Delete failed: ${err.message}`;
  } finally {
    $('delete-submit').disabled = !confirmationMatches();
  }
});

// ---------------------------------------------------------------------------------------------
// A user's details: sessions and audit events

let detailFor = null;

async function openDetail(id) {
  const dialog = $('detail-dialog');
  detailFor = id;
  const user = findUser(id);
  $('detail-title').textContent = user ? userLabel(user) : 'User';
  const content = $('detail-content');
  content.replaceChildren(h('p', { class: 'muted', text: 'Loading…' }));
  dialog.showModal();
  $('detail-close').focus();
  const audit = state.features.hasQuery('auditEvents')
    ? fetchAuditEvents(state.key, state.features, id).catch((err) => ({ error: err }))
    : Promise.resolve(null);
  let detail;
  try {
    detail = await fetchUserDetail(state.key, id);
  } catch (err) {
    if (detailFor !== id) return;
    if (err.code === 'UNAUTHENTICATED') return reportError(err, '');
    content.replaceChildren(h('p', { class: 'field-error', text: `Could not load the user: ${err.message}` }));
    return;
  }
  const events = await audit;
  if (detailFor !== id) return;
  if (!detail) {
    content.replaceChildren(h('p', { text: 'This user no longer exists.' }));
    removeUser(id);
    return;
  }
  $('detail-title').textContent = userLabel(detail);
  content.replaceChildren(renderSummary(detail), renderSessions(detail), renderAudit(events));
}

function renderSummary(user) {
  const rows = [
    ['Email', user.email ?? 'anonymous'],
    ['User id', h('code', { text: user.id })],
    ['Status', statusWord(user.status)],
    ['Providers', providerNames(user.identities)],
    ['Created', timeElement(user.createdAt)],
    ['Last login', timeElement(user.lastAuthenticatedAt)],
    ...(user.disabledAt ? [['Disabled', timeElement(user.disabledAt)]] : []),
    ['Active sessions', String(user.activeSessionCount)],
  ];
  return h('dl', { class: 'summary' }, rows.map(([term, value]) => [h('dt', { text: term }), h('dd', {}, value)]));
}

function renderSessions(user) {
  const sessions = user.sessions.edges.map((e) => e.node);
  const section = h('section', { 'aria-labelledby': 'detail-sessions' }, h('h3', { id: 'detail-sessions', text: `Sessions (${user.activeSessionCount})` }));
  if (sessions.length === 0) {
    section.append(h('p', { class: 'muted', text: 'No live sessions.' }));
    return section;
  }
  section.append(
    h(
      'table',
      { class: 'mini' },
      h('caption', { class: 'visually-hidden', text: 'Live sessions, newest first' }),
      h('thead', {}, h('tr', {}, ['Device', 'Created', 'Last used', 'Expires'].map((t) => h('th', { scope: 'col', text: t })))),
      h(
        'tbody',
        {},
        sessions.map((s) =>
          h(
            'tr',
            {},
            h('td', { 'data-label': 'Device' }, s.deviceId ? h('code', { text: s.deviceId }) : h('span', { class: 'muted', text: 'unknown' })),
            h('td', { 'data-label': 'Created' }, timeElement(s.createdAt)),
            h('td', { 'data-label': 'Last used' }, timeElement(s.lastUsedAt)),
            h('td', { 'data-label': 'Expires' }, timeElement(s.expiresAt)),
          ),
        ),
      ),
    ),
  );
  if (user.sessions.pageInfo.hasNextPage) section.append(h('p', { class: 'muted', text: 'Only the newest 100 are listed.' }));
  return section;
}

function renderAudit(result) {
  const section = h('section', { 'aria-labelledby': 'detail-audit' }, h('h3', { id: 'detail-audit', text: 'Audit events' }));
  if (result === null) {
    section.append(h('p', { class: 'muted', text: 'This gateway does not keep an audit trail yet.' }));
  } else if (result.error) {
    section.append(
      h('p', {
        class: 'muted',
        text: result.error.code === 'FORBIDDEN' ? 'This key may not read the audit trail.' : `Could not load the audit trail: ${result.error.message}`,
      }),
    );
  } else if (result.events.length === 0) {
    section.append(h('p', { class: 'muted', text: 'No events recorded for this user.' }));
  } else {
    section.append(
      h(
        'table',
        { class: 'mini' },
        h('caption', { class: 'visually-hidden', text: 'Audit events, newest first' }),
        h('thead', {}, h('tr', {}, ['When', 'Action', 'Outcome', 'By', 'Details'].map((t) => h('th', { scope: 'col', text: t })))),
        h(
          'tbody',
          {},
          result.events.map((e) =>
            h(
              'tr',
              { class: `outcome-${e.outcome}` },
              h('td', { 'data-label': 'When' }, timeElement(e.at)),
              h('td', { 'data-label': 'Action', text: e.action }),
              h('td', { 'data-label': 'Outcome', text: e.outcome }),
              h('td', { 'data-label': 'By', text: e.actor?.name ?? '—' }),
              h('td', { 'data-label': 'Details', class: 'details', text: detailsText(e.details) }),
            ),
          ),
        ),
      ),
    );
    if (result.hasMore) section.append(h('p', { class: 'muted', text: 'Only the newest 50 are listed.' }));
  }
  return section;
}

$('detail-close').addEventListener('click', () => $('detail-dialog').close());
$('detail-dialog').addEventListener('close', () => {
  const id = detailFor;
  detailFor = null;
  if (id) rowOf(id)?.querySelector('.cell-email button')?.focus();
});

function closeDialogs() {
  closeOpenMenu();
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
}

// ---------------------------------------------------------------------------------------------
// Notices

function showNotice(text, kind) {
  const notice = $('notice');
  notice.hidden = false;
  notice.className = `notice ${kind}`;
  notice.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  notice.replaceChildren(
    h('span', { class: 'notice-text', text }),
    h('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss this message', text: '×', onclick: () => (notice.hidden = true) }),
  );
}

function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// ---------------------------------------------------------------------------------------------
// Start

const fromHash = location.hash.slice(1).toUpperCase();
if (STATUSES.includes(fromHash)) {
  state.status = fromHash;
  for (const tab of tabs()) {
    const selected = tab.dataset.status === fromHash;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  $('users-panel').setAttribute('aria-labelledby', `tab-${fromHash}`);
}

const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved) {
  start(saved, { remember: false }).catch((err) => {
    if (err.code === 'UNAUTHENTICATED') sessionStorage.removeItem(KEY_STORAGE);
    showSignIn(err.code === 'UNAUTHENTICATED' ? 'The saved key stopped working. Enter a key again.' : err.message);
  });
} else {
  showSignIn('');
}
