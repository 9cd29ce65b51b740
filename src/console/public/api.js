// The console's only way out: POST /graphql with the operator's admin key, sending the documents
// of queries.js, which are written against this build's committed schema.
import * as documents from './queries.js';

/** A failure in words, with the API's stable code when there is one. */
export class GatewayError extends Error {
  constructor(message, { code = 'UNKNOWN', status = 0, requestId = null, retryAfter = null } = {}) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.status = status;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

/** Sends one operation; returns `data`, or throws a GatewayError when there is none to use. */
export async function graphql(key, query, variables = {}, { allowPartial = false } = {}) {
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${key}`,
      },
      body: JSON.stringify({ query, variables }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (err) {
    throw new GatewayError(`The gateway did not answer (${err.message}). Is it running?`, { code: 'NETWORK' });
  }
  const requestId = response.headers.get('x-request-id');
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Handled below, with the status.
  }
  const first = body?.errors?.[0];
  const code = first?.extensions?.code;
  if (response.status === 401) {
    throw new GatewayError('The admin key was not accepted: it is wrong or has been revoked.', {
      code: 'UNAUTHENTICATED',
      status: 401,
      requestId,
    });
  }
  if (response.status === 429) {
    const retryAfter = Number(response.headers.get('retry-after')) || null;
    throw new GatewayError(
      `Too many attempts: the gateway asks to wait${retryAfter ? ` ${retryAfter} seconds` : ''} before trying again.`,
      { code: 'RATE_LIMITED', status: 429, requestId, retryAfter },
    );
  }
  if (!body || typeof body !== 'object') {
    throw new GatewayError(`The gateway answered HTTP ${response.status} without a GraphQL response.`, {
      code: 'BAD_RESPONSE',
      status: response.status,
      requestId,
    });
  }
  if (body.data && (!first || allowPartial)) return Object.assign(body.data, { errors: body.errors ?? [] });
  throw new GatewayError(describeError(first, response.status), {
    code: code ?? 'UNKNOWN',
    status: response.status,
    requestId: first?.extensions?.requestId ?? requestId,
  });
}

function describeError(error, status) {
  const code = error?.extensions?.code;
  const message = error?.message ?? `HTTP ${status}`;
  switch (code) {
    case 'FORBIDDEN':
      return `Your admin key's role may not do this. (${message})`;
    case 'INTERNAL_SERVER_ERROR':
      return `The gateway hit an unexpected error${error?.extensions?.requestId ? ` (request ${error.extensions.requestId})` : ''}. Nothing was changed by this request.`;
    case 'GRAPHQL_VALIDATION_FAILED':
      return `This server does not support that request: ${message}`;
    default:
      return message;
  }
}

// ---------------------------------------------------------------------------------------------
// The operations of the page

export const STATUSES = ['CONFIRMED', 'PENDING', 'DISABLED'];

/** The key's name and role (lower case, as `viewer`). */
export async function fetchCurrentKey(key) {
  const { currentAdminKey } = await graphql(key, documents.CURRENT_KEY);
  return { name: currentAdminKey.name, role: String(currentAdminKey.role).toLowerCase() };
}

export async function fetchCounts(key, search) {
  const data = await graphql(key, documents.COUNTS, { search: search || null });
  return { CONFIRMED: data.confirmed.totalCount, PENDING: data.pending.totalCount, DISABLED: data.disabled.totalCount };
}

export async function fetchUsers(key, { status, search, after, first = 50 }) {
  const data = await graphql(key, documents.USERS_PAGE, { status, search: search || null, first, after: after ?? null });
  return {
    users: data.users.edges.map((e) => e.node),
    hasNextPage: data.users.pageInfo.hasNextPage,
    endCursor: data.users.pageInfo.endCursor,
  };
}

export async function fetchUserDetail(key, id) {
  const data = await graphql(key, documents.USER_DETAIL, { id, first: 100 });
  return data.user;
}

export async function fetchAuditEvents(key, userId) {
  const data = await graphql(key, documents.AUDIT_EVENTS, { userId, first: 50 }, { allowPartial: true });
  return { events: data.auditEvents.edges.map((e) => e.node), hasMore: data.auditEvents.pageInfo.hasNextPage };
}

export async function previewDelete(key, id) {
  const data = await graphql(key, documents.DELETE_PREVIEW, { id });
  return data.previewDeleteUser;
}

/** Runs one action of User.availableActions (its `kind`) on a user; returns the member of its result union. */
export async function runAction(key, kind, id, variables = {}) {
  const document = documents.ACTION_MUTATIONS[kind];
  if (!document) throw new GatewayError(`The console cannot run ${kind}.`, { code: 'UNKNOWN' });
  const data = await graphql(key, document, { ...variables, id });
  return data.result;
}

/** Revokes one session by its id; returns RevokeSessionSuccess or SessionNotFoundError. */
export async function revokeSession(key, sessionId) {
  const data = await graphql(key, documents.REVOKE_SESSION, { id: sessionId });
  return data.result;
}

/** Whether a mutation's result is one of its expected failures (a member implementing Error). */
export function isFailure(result) {
  return Boolean(result && typeof result.message === 'string' && /Error$/.test(result.__typename ?? ''));
}
