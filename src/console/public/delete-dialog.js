// Delete User: the dialog that asks for the user's email or id, with the preview of the app's own
// data that points at the user, and (owner keys only) the choice to delete that data too.
import { isFailure, previewDelete, runAction } from './api.js';
import { h, plural, userLabel } from './format.js';
import { $, capitalize, reportError, showNotice, state } from './page.js';
import { loadCounts, removeUser, rowOf } from './users-table.js';

let deleting = null;

function linkedText(linkedData) {
  return (linkedData ?? []).filter((l) => l.count > 0).map((l) => `${l.table}.${l.column}: ${l.count}`).join(', ');
}

function linkedTotal(linkedData) {
  return (linkedData ?? []).reduce((sum, l) => sum + l.count, 0);
}

export async function openDeleteDialog(user) {
  const dialog = $('delete-dialog');
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

  try {
    const result = await previewDelete(state.key, user.id);
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
  const parts = [h('p', { text: `${capitalize(plural(result.activeSessionCount, 'live session'))} will be revoked.` })];
  const declared = result.linkedData;
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
    // deleteUser(purgeLinkedData: true) needs an owner key, as currentAdminKey states this key's role.
    $('purge-row').hidden = false;
    const allowed = state.role === 'owner';
    $('purge-input').disabled = !allowed;
    $('purge-why').textContent = allowed
      ? `Deletes the ${plural(total, 'row')} above in the same transaction as the user.`
      : `Only an owner key may delete the app's data; this is ${/^[aeiou]/.test(state.role) ? 'an' : 'a'} ${state.role} key.`;
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
    const result = await runAction(state.key, 'DELETE', user.id, { purgeLinkedData: purge });
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
    if (err.code === 'UNAUTHENTICATED') return reportError(err, '');
    $('delete-error').textContent = `Delete failed: ${err.message}`;
  } finally {
    $('delete-submit').disabled = !confirmationMatches();
  }
});
