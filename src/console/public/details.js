// A user's details: its summary, its live sessions, the mails sent to it and its audit events.
import { fetchAuditEvents, fetchUserDetail } from './api.js';
import { detailsText, h, providerNames, statusWord, timeElement, userLabel } from './format.js';
import { $, reportError, state } from './page.js';
import { renderSessions } from './sessions.js';
import { findUser, refreshUser, removeUser, rowOf } from './users-table.js';

let detailFor = null;

export async function openDetail(id) {
  const dialog = $('detail-dialog');
  detailFor = id;
  const user = findUser(id);
  $('detail-title').textContent = user ? userLabel(user) : 'User';
  const content = $('detail-content');
  content.replaceChildren(h('p', { class: 'muted', text: 'Loading…' }));
  if (!dialog.open) {
    dialog.showModal();
    $('detail-close').focus();
  }
  const audit = fetchAuditEvents(state.key, id).catch((err) => ({ error: err }));
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
  // The sessions section: after a revocation, the user's details and its row are read again.
  const reload = async () => {
    if (detailFor !== id) return;
    await Promise.all([openDetail(id), refreshUser(id)]);
  };
  content.replaceChildren(renderSummary(detail), renderSessions(detail, reload), renderMails(detail), renderAudit(events));
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

const MAIL_KINDS = { confirm: 'Confirmation', password_reset: 'Password reset' };
const MAIL_STATUSES = { PENDING: 'Pending', SENT: 'Sent', FAILED: 'Failed' };

function renderMails(user) {
  const section = h('section', { 'aria-labelledby': 'detail-mails' }, h('h3', { id: 'detail-mails', text: 'Mails' }));
  if (user.mails.length === 0) {
    section.append(h('p', { class: 'muted', text: 'No mail sent to this user.' }));
    return section;
  }
  section.append(
    h(
      'table',
      { class: 'mini mails' },
      h('caption', { class: 'visually-hidden', text: 'Mails to the user, newest first' }),
      h('thead', {}, h('tr', {}, ['Queued', 'Kind', 'To', 'Status', 'Attempts', 'Sent'].map((t) => h('th', { scope: 'col', text: t })))),
      h(
        'tbody',
        {},
        user.mails.map((m) => [
          h(
            'tr',
            { class: `mail-${m.status.toLowerCase()}` },
            h('td', { 'data-label': 'Queued' }, timeElement(m.createdAt)),
            h('td', { 'data-label': 'Kind', text: MAIL_KINDS[m.kind] ?? m.kind }),
            h('td', { 'data-label': 'To', class: 'details', text: m.recipient }),
            h('td', { 'data-label': 'Status', class: 'mail-status', text: MAIL_STATUSES[m.status] ?? m.status }),
            h('td', { 'data-label': 'Attempts', text: String(m.attempts) }),
            h('td', { 'data-label': 'Sent' }, timeElement(m.sentAt, { never: 'not sent' })),
          ),
          // The mail server's answer gets a line of its own: it is often longer than the rest of the row.
          ...(m.lastError
            ? [h('tr', { class: `mail-error mail-${m.status.toLowerCase()}` }, h('td', { colspan: '6', 'data-label': 'Last error', class: 'details', text: m.lastError }))]
            : []),
        ]),
      ),
    ),
  );
  return section;
}

function renderAudit(result) {
  const section = h('section', { 'aria-labelledby': 'detail-audit' }, h('h3', { id: 'detail-audit', text: 'Audit events' }));
  if (result.error) {
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
