// What every section of the console shares: its state, the notice line, and the way back to the
// key form when the key stops working.
import { GatewayError } from './api.js';
import { h } from './format.js';
import { closeOpenMenu } from './menu.js';

export const KEY_STORAGE = 'app-users-console.admin-key';

export const $ = (id) => document.getElementById(id);

export const state = {
  key: null,
  /** The key's role and name, as currentAdminKey states them. */
  role: null,
  keyName: null,
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

export function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function showNotice(text, kind) {
  const notice = $('notice');
  notice.hidden = false;
  notice.className = `notice ${kind}`;
  notice.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  notice.replaceChildren(
    h('span', { class: 'notice-text', text }),
    h('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss this message', text: '×', onclick: () => (notice.hidden = true) }),
  );
}

export function showSignIn(message = '') {
  state.key = null;
  state.users = [];
  $('user-rows').replaceChildren();
  $('users').hidden = true;
  $('webhooks').hidden = true;
  $('sections').hidden = true;
  $('key-status').hidden = true;
  $('sign-in').hidden = false;
  $('key-error').textContent = message;
  $('key-input').value = '';
  $('key-input').focus();
}

export function closeDialogs() {
  closeOpenMenu();
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
}

/** Every failure from the API, in words; a key that stopped working sends the operator back to enter one. */
export function reportError(err, context) {
  if (err instanceof GatewayError && err.code === 'UNAUTHENTICATED') {
    sessionStorage.removeItem(KEY_STORAGE);
    closeDialogs();
    showSignIn('The admin key stopped working (it may have been revoked). Enter a key again.');
    return;
  }
  showNotice(`${context}: ${err.message}`, 'error');
}
