// Running a row's action: the mutation, the result in words, the row moved or updated in place.
// Which actions a user has, and whether this key may run them, comes from User.availableActions.
import { isFailure, runAction } from './api.js';
import { openDeleteDialog } from './delete-dialog.js';
import { actionLabel, plural, userLabel } from './format.js';
import { capitalize, reportError, showNotice, state } from './page.js';
import { applyUser, findUser, loadCounts, refreshUser, removeUser, rowOf } from './users-table.js';

const SUCCESS_WORDS = {
  DISABLE: (user, r) => `Disabled ${userLabel(user)}: ${plural(r.revokedSessionCount ?? 0, 'session')} revoked.`,
  ENABLE: (user) => `Enabled ${userLabel(user)}: the user can log in again (no old session came back).`,
  REVOKE_SESSIONS: (user, r) => `${capitalize(plural(r.revokedSessionCount ?? 0, 'session'))} of ${userLabel(user)} revoked.`,
  CONFIRM: (user) => `Confirmed ${userLabel(user)}: the user can log in now.`,
  RESEND_CONFIRMATION: (user) => `A new confirmation email is on its way to ${user.email ?? userLabel(user)}.`,
  SEND_PASSWORD_RESET: (user) => `A password reset link is on its way to ${user.email ?? userLabel(user)}.`,
};

/** Runs the action `kind` (a UserActionKind) on the user; Delete asks first, in its dialog. */
export async function perform(kind, id) {
  const user = findUser(id);
  if (!user) return;
  if (kind === 'DELETE') {
    openDeleteDialog(user);
    return;
  }
  const label = actionLabel(kind);
  const row = rowOf(id);
  row?.setAttribute('aria-busy', 'true');
  showNotice(`${label}: ${userLabel(user)}…`, 'info');
  try {
    const result = await runAction(state.key, kind, id);
    if (isFailure(result)) {
      showNotice(`${label} failed for ${userLabel(user)}: ${result.message}`, 'error');
      if (result.__typename === 'UserNotFoundError') removeUser(id);
      else await refreshUser(id);
    } else {
      showNotice(SUCCESS_WORDS[kind](user, result), 'success');
      if (result.user) applyUser(result.user);
      else await refreshUser(id);
    }
    loadCounts();
  } catch (err) {
    reportError(err, `${label} failed for ${userLabel(user)}`);
  } finally {
    rowOf(id)?.removeAttribute('aria-busy');
  }
}
