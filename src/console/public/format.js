// Words and dates for people.

const thisYear = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const otherYear = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

/** Short: "Nov 29, 10:03 AM" this year, "Nov 29, 2025" before; the exact instant is in the title. */
function shortDate(date) {
  return (date.getFullYear() === new Date().getFullYear() ? thisYear : otherYear).format(date);
}

/** A <time> element: short local date and time, the exact instant in its title. */
export function timeElement(iso, { never = 'never' } = {}) {
  if (!iso) {
    const span = document.createElement('span');
    span.className = 'muted';
    span.textContent = never;
    return span;
  }
  const time = document.createElement('time');
  time.dateTime = iso;
  time.title = iso;
  time.textContent = shortDate(new Date(iso));
  return time;
}

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

const PROVIDER_NAMES = {
  'local-userpass': 'email/password',
  'anon-user': 'anonymous',
  'api-key': 'API key',
  'custom-token': 'custom JWT',
  'custom-function': 'custom function',
  'oauth2-google': 'Google',
  'oauth2-apple': 'Apple',
  'oauth2-facebook': 'Facebook',
};

export function providerNames(identities) {
  const names = [...new Set((identities ?? []).map((i) => PROVIDER_NAMES[i.providerType] ?? i.providerType))];
  return names.length ? names.join(', ') : 'none';
}

/** How a user is named on the page: its email, or "anonymous" with the start of its id. */
export function userLabel(user) {
  return user.email ?? `anonymous user ${user.id.slice(0, 8)}`;
}

/** The words of each action of User.availableActions (UserActionKind), as the seed names them. */
const ACTION_LABELS = {
  DISABLE: 'Disable User',
  ENABLE: 'Enable User',
  DELETE: 'Delete User',
  REVOKE_SESSIONS: 'Revoke all sessions',
  CONFIRM: 'Confirm',
  RESEND_CONFIRMATION: 'Resend confirmation',
  SEND_PASSWORD_RESET: 'Send password reset',
};

/** The label of an action kind; undefined for a kind this console does not know. */
export function actionLabel(kind) {
  return ACTION_LABELS[kind];
}

export function statusWord(status) {
  return { CONFIRMED: 'confirmed', PENDING: 'pending', DISABLED: 'disabled' }[status] ?? String(status).toLowerCase();
}

/** A short, readable rendering of an audit event's details object. */
export function detailsText(details) {
  if (details == null) return '';
  if (typeof details !== 'object') return String(details);
  return Object.entries(details)
    .map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : v}`)
    .join('; ');
}

/** Creates an element with attributes and children; strings become text, never HTML. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    if (name === 'class') element.className = value;
    else if (name === 'text') element.textContent = value;
    else if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** The event types an endpoint may subscribe to (src/webhooks/outbox.ts USER_EVENT_TYPES; a test keeps them equal). */
export const WEBHOOK_EVENT_TYPES = [
  'user.created',
  'user.confirmed',
  'user.disabled',
  'user.enabled',
  'user.deleted',
  'user.sessions_revoked',
  'user.password_reset',
];

/** Why this key may not take an owner action, in the server's words (src/schema/access.ts roleRefusal); null for an owner. */
export function ownerRefusal(role) {
  if (role === 'owner') return null;
  const article = (word) => (/^[aeiou]/.test(word) ? 'an' : 'a');
  return `Needs an owner key; this is ${article(role)} ${role} key.`;
}
