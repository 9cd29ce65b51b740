// The users of a tab: the tabs with their counts, the search, the table and its Load more, and the
// rows, each with its … menu built from the user's availableActions.
import { STATUSES, fetchCounts, fetchUserDetail, fetchUsers } from './api.js';
import { actionLabel, h, plural, providerNames, statusWord, timeElement, userLabel } from './format.js';
import { createMenu } from './menu.js';
import { $, capitalize, reportError, showNotice, state } from './page.js';

const PAGE_SIZE = 50;

/** What a row's menu and its email button do; app.js sets them. */
const rowHandlers = { action: (_kind, _id) => {}, details: (_id) => {} };

export function handleRows({ action, details }) {
  rowHandlers.action = action;
  rowHandlers.details = details;
}

// ---------------------------------------------------------------------------------------------
// Tabs and search

const tabs = () => [...document.querySelectorAll('[role="tab"]')];

function markTab(status, { focus = false } = {}) {
  for (const tab of tabs()) {
    const selected = tab.dataset.status === status;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected && focus) tab.focus();
  }
  $('users-panel').setAttribute('aria-labelledby', `tab-${status}`);
}

function selectTab(status, { focus = false } = {}) {
  state.status = status;
  markTab(status, { focus });
  history.replaceState(null, '', `#${status.toLowerCase()}`);
  loadList();
}

/** Opens the tab the address names (#pending), before any key is given. */
export function selectTabFromHash() {
  const fromHash = location.hash.slice(1).toUpperCase();
  if (!STATUSES.includes(fromHash)) return;
  state.status = fromHash;
  markTab(fromHash);
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

// ---------------------------------------------------------------------------------------------
// The list

export async function loadCounts() {
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

export async function loadList({ more = false } = {}) {
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

/** The … menu's entries: the user's availableActions as the server states them, refusals greyed with their reason. */
function menuItems(user) {
  return user.availableActions
    .filter((action) => actionLabel(action.kind))
    .map((action) => ({
      action: action.kind,
      label: actionLabel(action.kind),
      disabledReason: action.allowed ? null : action.reason,
    }));
}

function renderRow(user) {
  const label = userLabel(user);
  const email = user.email
    ? h('button', { type: 'button', class: 'link-button email', text: user.email, 'aria-haspopup': 'dialog' })
    : h('button', { type: 'button', class: 'link-button email anonymous', text: 'anonymous', 'aria-haspopup': 'dialog' });
  email.setAttribute('aria-label', `Details of ${label}`);
  email.addEventListener('click', () => rowHandlers.details(user.id));
  const copy = h('button', {
    type: 'button',
    class: 'copy',
    'aria-label': `Copy the id of ${label}`,
    title: 'Copy the id',
    text: 'Copy',
  });
  copy.addEventListener('click', () => copyId(user, copy));
  const menu = createMenu({
    label: `Actions for ${label}`,
    items: menuItems(user),
    onSelect: (kind) => rowHandlers.action(kind, user.id),
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

export function rowOf(id) {
  return document.querySelector(`#user-rows tr[data-user-id="${CSS.escape(id)}"]`);
}

export function findUser(id) {
  return state.users.find((u) => u.id === id);
}

/** Puts a changed user in place; a user whose status left this tab leaves the list. */
export function applyUser(user) {
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

export function removeUser(id) {
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

/** Reads the user again after a refusal: it may have changed or gone meanwhile. */
export async function refreshUser(id) {
  try {
    const fresh = await fetchUserDetail(state.key, id);
    if (fresh) applyUser(fresh);
    else removeUser(id);
  } catch {
    // The notice already says what happened; the list catches up on the next load.
  }
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
