// The sessions section of a user's details: one row per live session (the device as its SDK reported
// it, created, last used, expires) with a Revoke button that logs the user out of that device only.
// Whether this key may revoke comes from Session.revokeAction; a refused button stays, greyed, with
// the reason beside it.
import { isFailure, revokeSession } from './api.js';
import { h, plural, timeElement, userLabel } from './format.js';
import { reportError, showNotice, state } from './page.js';

/** What an operator reads to tell the devices apart: the SDK's own words, then the device id. */
function deviceCell(session) {
  return h(
    'td',
    { 'data-label': 'Device' },
    session.device ? h('span', { class: 'session-device', text: session.device }) : h('span', { class: 'muted', text: 'not reported' }),
    session.deviceId ? [h('br'), h('code', { class: 'session-device-id', text: session.deviceId })] : null,
  );
}

function revokeCell(session, onRevoke) {
  const action = session.revokeAction;
  const reasonId = `session-${session.id}-why`;
  const button = h('button', {
    type: 'button',
    class: 'session-revoke',
    'data-session': session.id,
    'aria-label': `Revoke the session on ${session.device ?? session.deviceId ?? 'an unknown device'}`,
    'aria-disabled': action.allowed ? false : 'true',
    'aria-describedby': action.allowed ? false : reasonId,
    disabled: !action.allowed,
    text: 'Revoke',
    onclick: () => action.allowed && onRevoke(session, button),
  });
  return h('td', { 'data-label': 'Revoke' }, button, action.allowed ? null : h('span', { class: 'session-reason muted', id: reasonId, text: action.reason }));
}

/**
 * The section for `user` (with `sessions { edges { node } pageInfo }` and `activeSessionCount`);
 * `reload()` is called after a revocation, to show the user and its sessions as they are now.
 */
export function renderSessions(user, reload) {
  const sessions = user.sessions.edges.map((e) => e.node);
  const section = h('section', { 'aria-labelledby': 'detail-sessions' }, h('h3', { id: 'detail-sessions', text: `Sessions (${user.activeSessionCount})` }));
  if (sessions.length === 0) {
    section.append(h('p', { class: 'muted', text: 'No live sessions.' }));
    return section;
  }
  const onRevoke = async (session, button) => {
    const where = session.device ?? session.deviceId ?? 'an unknown device';
    button.disabled = true;
    showNotice(`Revoking the session of ${userLabel(user)} on ${where}…`, 'info');
    try {
      const result = await revokeSession(state.key, session.id);
      if (isFailure(result)) {
        showNotice(`That session of ${userLabel(user)} was already over (revoked, logged out or expired); nothing changed.`, 'error');
      } else {
        const left = result.user.activeSessionCount;
        showNotice(
          `Revoked the session of ${userLabel(user)} on ${where}: that device is logged out; ${plural(left, 'other session')} still signed in.`,
          'success',
        );
      }
      await reload();
    } catch (err) {
      button.disabled = false;
      reportError(err, `Revoking the session of ${userLabel(user)} failed`);
    }
  };
  section.append(
    h(
      'table',
      { class: 'mini sessions' },
      h('caption', { class: 'visually-hidden', text: 'Live sessions, newest first' }),
      h('thead', {}, h('tr', {}, ['Device', 'Created', 'Last used', 'Expires', 'Action'].map((t) => h('th', { scope: 'col', text: t })))),
      h(
        'tbody',
        {},
        sessions.map((s) =>
          h(
            'tr',
            { 'data-session': s.id },
            deviceCell(s),
            h('td', { 'data-label': 'Created' }, timeElement(s.createdAt)),
            h('td', { 'data-label': 'Last used' }, timeElement(s.lastUsedAt)),
            h('td', { 'data-label': 'Expires' }, timeElement(s.expiresAt)),
            revokeCell(s, onRevoke),
          ),
        ),
      ),
    ),
  );
  if (user.sessions.pageInfo.hasNextPage) section.append(h('p', { class: 'muted', text: 'Only the newest 100 are listed.' }));
  return section;
}
