// The App Users console: the seed's procedures (select App Users, Confirmed or Pending, find the
// user, open its … menu, choose the action) as one page over the gateway's GraphQL API.
// This module takes the key and starts the page; each section is a module of its own:
// users-table.js (tabs, search, rows), actions.js (the … menu's actions), delete-dialog.js,
// details.js; every GraphQL document is in queries.js.
import { perform } from './actions.js';
import { fetchCurrentKey } from './api.js';
import { openDetail } from './details.js';
import { $, KEY_STORAGE, capitalize, closeDialogs, showSignIn, state } from './page.js';
import { handleRows, loadCounts, loadList, selectTabFromHash } from './users-table.js';

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
  $('users').hidden = false;
  await Promise.all([loadCounts(), loadList()]);
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
