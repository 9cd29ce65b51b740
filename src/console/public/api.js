// The console's only way out: POST /graphql with the operator's admin key.
// It learns what the server offers from one introspection query, so the page works with the core
// API alone and picks up roles, confirmation, linked data and the audit trail as they appear.

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

const USER_FIELDS = `id email status createdAt lastAuthenticatedAt disabledAt activeSessionCount identities { providerType }`;

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
// What the server offers

const SCHEMA_QUERY = `query ConsoleSchema {
  __schema {
    queryType { name }
    mutationType { name }
    types {
      name kind
      fields { name args { name type { kind name ofType { kind name } } } type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
      possibleTypes { name }
      enumValues { name }
    }
  }
}`;

function namedType(ref) {
  let type = ref;
  while (type && !type.name) type = type.ofType;
  return type?.name ?? null;
}

function isList(ref) {
  for (let type = ref; type; type = type.ofType) if (type.kind === 'LIST') return true;
  return false;
}

/** The parts of the schema the console cares about, from one introspection query. */
export class Features {
  constructor(schema) {
    this.types = new Map();
    for (const type of schema?.types ?? []) this.types.set(type.name, type);
    this.queryName = schema?.queryType?.name ?? 'Query';
    this.mutationName = schema?.mutationType?.name ?? 'Mutation';
    this.known = Boolean(schema);
  }

  field(typeName, fieldName) {
    return this.types.get(typeName)?.fields?.find((f) => f.name === fieldName) ?? null;
  }

  /** Whether the server has the field; without introspection, only the core contract is assumed. */
  has(typeName, fieldName) {
    if (!this.known) return CORE.has(`${typeName}.${fieldName}`);
    return Boolean(this.field(typeName, fieldName));
  }

  hasQuery(name) {
    return this.has(this.queryName, name);
  }

  hasMutation(name) {
    return this.has(this.mutationName, name);
  }

  hasArg(typeName, fieldName, argName) {
    return Boolean(this.field(typeName, fieldName)?.args?.some((a) => a.name === argName));
  }

  /** A query field with no required argument whose object has a `role`: the key the request is made with. */
  whoAmIField() {
    const query = this.types.get(this.queryName);
    if (!query) return null;
    const preferred = ['me', 'viewer', 'currentAdminKey', 'whoami', 'whoAmI', 'adminKey', 'currentKey', 'operator'];
    const candidates = (query.fields ?? []).filter((field) => {
      if (isList(field.type)) return false;
      if (field.args.some((a) => a.type.kind === 'NON_NULL')) return false;
      const target = this.types.get(namedType(field.type));
      return target?.kind === 'OBJECT' && target.fields?.some((f) => f.name === 'role' && !isList(f.type));
    });
    candidates.sort((a, b) => rank(preferred, a.name) - rank(preferred, b.name));
    const chosen = candidates[0];
    if (!chosen) return null;
    const target = this.types.get(namedType(chosen.type));
    return { name: chosen.name, hasName: target.fields.some((f) => f.name === 'name') };
  }

  /**
   * The selection for a mutation's result: `__typename`, and for every member of its union (or the
   * object itself) the fields the console shows, when they exist.
   */
  resultSelection(mutation) {
    const field = this.field(this.mutationName, mutation);
    const typeName = field ? namedType(field.type) : null;
    const type = typeName ? this.types.get(typeName) : null;
    if (!this.known || !type) return CORE_RESULT_SELECTION[mutation] ?? '__typename';
    const members =
      type.kind === 'UNION' || type.kind === 'INTERFACE'
        ? (type.possibleTypes ?? []).map((p) => this.types.get(p.name)).filter(Boolean)
        : [type];
    const parts = members.map((member) => {
      const wanted = (member.fields ?? [])
        .map((f) => f.name)
        .filter((name) => RESULT_FIELDS[name] !== undefined)
        .map((name) => RESULT_FIELDS[name]);
      if (wanted.length === 0) return '';
      return type.kind === 'OBJECT' ? wanted.join(' ') : `... on ${member.name} { ${wanted.join(' ')} }`;
    });
    return `__typename ${parts.join(' ')}`;
  }

  roles() {
    return (this.types.get('AdminRole')?.enumValues ?? []).map((v) => v.name.toLowerCase());
  }
}

function rank(list, name) {
  const i = list.indexOf(name);
  return i === -1 ? list.length : i;
}

const RESULT_FIELDS = {
  message: 'message',
  user: `user { ${USER_FIELDS} }`,
  revokedSessionCount: 'revokedSessionCount',
  deletedUserId: 'deletedUserId',
  linkedData: 'linkedData { table column count }',
  linkedDataPurged: 'linkedDataPurged',
  email: 'email',
};

// The core contract (issue 2), assumed when the server does not answer introspection.
const CORE = new Set([
  'Query.users',
  'Query.user',
  'Mutation.disableUser',
  'Mutation.enableUser',
  'Mutation.deleteUser',
  'Mutation.revokeUserSessions',
  'User.sessions',
]);
const CORE_RESULT_SELECTION = {
  disableUser: `__typename ... on DisableUserSuccess { revokedSessionCount user { ${USER_FIELDS} } } ... on Error { message }`,
  enableUser: `__typename ... on EnableUserSuccess { user { ${USER_FIELDS} } } ... on Error { message }`,
  deleteUser: `__typename ... on DeleteUserSuccess { deletedUserId revokedSessionCount } ... on Error { message }`,
  revokeUserSessions: `__typename ... on RevokeUserSessionsSuccess { revokedSessionCount user { ${USER_FIELDS} } } ... on Error { message }`,
};

export async function loadFeatures(key) {
  try {
    const data = await graphql(key, SCHEMA_QUERY);
    return new Features(data.__schema);
  } catch (err) {
    if (err.code === 'UNAUTHENTICATED' || err.code === 'NETWORK' || err.code === 'RATE_LIMITED') throw err;
    // Introspection switched off: fall back to the core contract.
    return new Features(null);
  }
}

// ---------------------------------------------------------------------------------------------
// The operations of the page

export const STATUSES = ['CONFIRMED', 'PENDING', 'DISABLED'];

export async function fetchCounts(key, search) {
  const data = await graphql(
    key,
    `query ConsoleCounts($search: String) {
      confirmed: users(status: CONFIRMED, search: $search, first: 0) { totalCount }
      pending: users(status: PENDING, search: $search, first: 0) { totalCount }
      disabled: users(status: DISABLED, search: $search, first: 0) { totalCount }
    }`,
    { search: search || null },
  );
  return { CONFIRMED: data.confirmed.totalCount, PENDING: data.pending.totalCount, DISABLED: data.disabled.totalCount };
}

/** One page of users. No totalCount: counting is the expensive part at a million users, and the tabs already count. */
export async function fetchUsers(key, { status, search, after, first = 50 }) {
  const data = await graphql(
    key,
    `query ConsoleUsers($status: UserStatus!, $search: String, $first: Int!, $after: String) {
      users(status: $status, search: $search, first: $first, after: $after) {
        edges { node { ${USER_FIELDS} } }
        pageInfo { hasNextPage endCursor }
      }
    }`,
    { status, search: search || null, first, after: after ?? null },
  );
  return {
    users: data.users.edges.map((e) => e.node),
    hasNextPage: data.users.pageInfo.hasNextPage,
    endCursor: data.users.pageInfo.endCursor,
  };
}

export async function fetchUserDetail(key, id) {
  const data = await graphql(
    key,
    `query ConsoleUser($id: ID!, $first: Int!) {
      user(id: $id) {
        ${USER_FIELDS}
        sessions(first: $first) { edges { node { id deviceId createdAt lastUsedAt expiresAt } } pageInfo { hasNextPage } }
      }
    }`,
    { id, first: 100 },
  );
  return data.user;
}

export async function fetchAuditEvents(key, features, userId) {
  const actor = features.has('AuditEvent', 'actor') ? 'actor { name }' : '';
  const fields = ['id', 'at', 'action', 'outcome', 'requestId', 'details'].filter((f) => features.has('AuditEvent', f));
  const data = await graphql(
    key,
    `query ConsoleAudit($userId: ID, $first: Int) {
      auditEvents(userId: $userId, first: $first) { edges { node { ${fields.join(' ')} ${actor} } } pageInfo { hasNextPage } }
    }`,
    { userId, first: 50 },
    { allowPartial: true },
  );
  return { events: data.auditEvents.edges.map((e) => e.node), hasMore: data.auditEvents.pageInfo.hasNextPage };
}

export async function fetchWhoAmI(key, features) {
  const field = features.whoAmIField();
  if (!field) return null;
  const data = await graphql(key, `query ConsoleWhoAmI { ${field.name} { role ${field.hasName ? 'name' : ''} } }`);
  const me = data[field.name];
  return me ? { role: String(me.role).toLowerCase(), name: me.name ?? null } : null;
}

export async function previewDelete(key, features, id) {
  const linked = features.has('DeletePreview', 'linkedData') ? 'linkedData { table column count }' : '';
  const sessions = features.has('DeletePreview', 'activeSessionCount') ? 'activeSessionCount' : '';
  const data = await graphql(
    key,
    `query ConsoleDeletePreview($id: ID!) {
      previewDeleteUser(id: $id) { __typename ... on DeletePreview { ${sessions} ${linked} } ... on Error { message } }
    }`,
    { id },
  );
  return data.previewDeleteUser;
}

/** Runs one of the user actions; returns the member of its result union. */
export async function runAction(key, features, mutation, id, extraArgs = {}) {
  const argNames = Object.keys(extraArgs).filter((name) => features.hasArg(features.mutationName, mutation, name));
  const declarations = argNames.map((name) => `, $${name}: ${ARG_TYPES[name]}`).join('');
  const passing = argNames.map((name) => `, ${name}: $${name}`).join('');
  const variables = { id };
  for (const name of argNames) variables[name] = extraArgs[name];
  const data = await graphql(
    key,
    `mutation ConsoleAction($id: ID!${declarations}) { result: ${mutation}(id: $id${passing}) { ${features.resultSelection(mutation)} } }`,
    variables,
  );
  return data.result;
}

const ARG_TYPES = { purgeLinkedData: 'Boolean' };
