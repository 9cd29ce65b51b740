// The App Users console: the seed's procedures (select App Users, Confirmed or Pending, find the
// user, open its … menu, choose the action) as one page over the gateway's GraphQL API.
// This module takes the key and starts the page; each section is a module of its own:
// users-table.js (tabs, search, rows), actions.js (the … menu's actions), delete-dialog.js,
// details.js; the Webhooks page is webhooks.js; every GraphQL document is in queries.js.
import { perform } from './actions.js';
import { fetchCurrentKey } from './api.js';
import { openDetail } from './details.js';
import { $, KEY_STORAGE, capitalize, closeDialogs, reportError, showSignIn, state } from './page.js';
import { handleRows, loadCounts, loadList, selectTabFromHash } from './users-table.js';
import { openWebhooks, resetWebhooks } from './webhooks.js';

handleRows({ action: perform, details: openDetail });

async function start(key, { remember }) {
  const me = await fetchCurrentKey(key);
  state.key = key;
  state.role = me.role;
  state.keyName = me.name;
  if (remember) sessionStorage.setItem(KEY_STORAGE, key);
  $('key-summary').textContent = `${capitalize(state.role)} key${state.keyName ? ` "${state.keyName}"` : ''}`;
  $('key-status').hidden = false;
  $('sign-in').hidden = true;
  $('sections').hidden = false;
  resetWebhooks();
  await showSection(location.hash === '#webhooks' ? 'webhooks' : 'users');
}

/** Shows the Users page or the Webhooks page (the header's Sections links); each loads when shown. */
async function showSection(name) {
  for (const link of $('sections').querySelectorAll('[data-section]')) {
    if (link.dataset.section === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  $('users').hidden = name !== 'users';
  $('webhooks').hidden = name !== 'webhooks';
  if (name === 'webhooks') {
    history.replaceState(null, '', '#webhooks');
    await openWebhooks();
  } else {
    if (location.hash === '#webhooks') history.replaceState(null, '', `#${state.status.toLowerCase()}`);
    await Promise.all([loadCounts(), loadList()]);
  }
}

$('sections').addEventListener('click', (event) => {
  const link = event.target.closest('[data-section]');
  if (!link || !state.key) return;
  closeDialogs();
  showSection(link.dataset.section).catch((err) => reportError(err, 'Could not open the page'));
});

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
    $('webhooks').hidden = true;
    $('sign-in').hidden = false;
    $('key-error').textContent =
      err.code === 'UNAUTHENTICATED' ? 'That key was not accepted: it is wrong or has been revoked.' : err.message;
    $('key-input').focus();
  } finally {
    submit.disabled = false;
  }
});

$('forget-key').addEventListener('click', forgetKey);

selectTabFromHash();

const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved) {
  start(saved, { remember: false }).catch((err) => {
    if (err.code === 'UNAUTHENTICATED') sessionStorage.removeItem(KEY_STORAGE);
    showSignIn(err.code === 'UNAUTHENTICATED' ? 'The saved key stopped working. Enter a key again.' : err.message);
  });
} else {
  showSignIn('');
}
