// Every GraphQL document the console sends, written against the committed schema.graphql (a test
// validates each one against it). Nothing else in the console writes GraphQL.

const USER_FIELDS = `fragment ConsoleUserFields on User {
  id email status createdAt lastAuthenticatedAt disabledAt activeSessionCount
  identities { providerType }
  availableActions { kind allowed reason }
}`;

/** The key the console was given: its name and role. */
export const CURRENT_KEY = `query ConsoleCurrentKey { currentAdminKey { name role } }`;

/** The count of each tab. */
export const COUNTS = `query ConsoleCounts($search: String) {
  confirmed: users(status: CONFIRMED, search: $search, first: 0) { totalCount }
  pending: users(status: PENDING, search: $search, first: 0) { totalCount }
  disabled: users(status: DISABLED, search: $search, first: 0) { totalCount }
}`;

/** One page of a tab. No totalCount: counting is the expensive part at a million users, and the tabs already count. */
export const USERS_PAGE = `query ConsoleUsers($status: UserStatus!, $search: String, $first: Int!, $after: String) {
  users(status: $status, search: $search, first: $first, after: $after) {
    edges { node { ...ConsoleUserFields } }
    pageInfo { hasNextPage endCursor }
  }
}
${USER_FIELDS}`;

/** A user with its newest live sessions and mails, for the details panel (and to refresh a row). */
export const USER_DETAIL = `query ConsoleUser($id: ID!, $first: Int!) {
  user(id: $id) {
    ...ConsoleUserFields
    sessions(first: $first) {
      edges { node { id deviceId device createdAt lastUsedAt expiresAt revokeAction { allowed reason } } }
      pageInfo { hasNextPage }
    }
    mails { id kind recipient status attempts lastError createdAt sentAt }
  }
}
${USER_FIELDS}`;

export const AUDIT_EVENTS = `query ConsoleAudit($userId: ID, $first: Int) {
  auditEvents(userId: $userId, first: $first) {
    edges { node { id at action outcome requestId details actor { name } } }
    pageInfo { hasNextPage }
  }
}`;

export const DELETE_PREVIEW = `query ConsoleDeletePreview($id: ID!) {
  previewDeleteUser(id: $id) {
    __typename
    ... on DeletePreview { activeSessionCount linkedData { table column count } }
    ... on Error { message }
  }
}`;

/**
 * The mutation of a user action: its result union's success member with `fields`, or an expected
 * failure's message. Each takes the user's `$id`.
 */
const userMutation = (operation, mutation, success, fields) => `mutation ${operation}($id: ID!) {
  result: ${mutation}(id: $id) {
    __typename
    ... on ${success} { ${fields} }
    ... on Error { message }
  }
}
${USER_FIELDS}`;

const USER = 'user { ...ConsoleUserFields }';
export const DISABLE_USER = userMutation('ConsoleDisableUser', 'disableUser', 'DisableUserSuccess', `revokedSessionCount ${USER}`);
export const ENABLE_USER = userMutation('ConsoleEnableUser', 'enableUser', 'EnableUserSuccess', USER);
export const REVOKE_USER_SESSIONS = userMutation('ConsoleRevokeUserSessions', 'revokeUserSessions', 'RevokeUserSessionsSuccess', `revokedSessionCount ${USER}`);
export const CONFIRM_USER = userMutation('ConsoleConfirmUser', 'confirmUser', 'ConfirmUserSuccess', USER);
export const RESEND_CONFIRMATION = userMutation('ConsoleResendConfirmation', 'resendConfirmation', 'ResendConfirmationSuccess', USER);
export const SEND_PASSWORD_RESET = userMutation('ConsoleSendPasswordReset', 'sendPasswordReset', 'SendPasswordResetSuccess', USER);

export const DELETE_USER = `mutation ConsoleDeleteUser($id: ID!, $purgeLinkedData: Boolean) {
  result: deleteUser(id: $id, purgeLinkedData: $purgeLinkedData) {
    __typename
    ... on DeleteUserSuccess { deletedUserId revokedSessionCount linkedData { table column count } linkedDataPurged }
    ... on Error { message }
  }
}`;

/** The mutation of each action of User.availableActions (UserActionKind), each taking the user's `$id`. */
export const ACTION_MUTATIONS = {
  DISABLE: DISABLE_USER,
  ENABLE: ENABLE_USER,
  DELETE: DELETE_USER,
  REVOKE_SESSIONS: REVOKE_USER_SESSIONS,
  CONFIRM: CONFIRM_USER,
  RESEND_CONFIRMATION: RESEND_CONFIRMATION,
  SEND_PASSWORD_RESET: SEND_PASSWORD_RESET,
};

/** Logs the user out of one session (one device): `$id` is the Session's id. */
export const REVOKE_SESSION = `mutation ConsoleRevokeSession($id: ID!) {
  result: revokeSession(id: $id) {
    __typename
    ... on RevokeSessionSuccess { session { id revokedAt } user { id activeSessionCount } }
    ... on Error { message }
  }
}`;
// ---------------------------------------------------------------------------------------------
// The Webhooks page (webhooks.js)

const ENDPOINT_FIELDS = `fragment ConsoleWebhookEndpointFields on WebhookEndpoint {
  id url description events enabled createdAt updatedAt
}`;

const DELIVERY_FIELDS = `fragment ConsoleWebhookDeliveryFields on WebhookDelivery {
  id endpointId eventId eventType status attempts nextAttemptAt lastAttemptAt lastStatusCode lastError deliveredAt createdAt
}`;

/** Every endpoint (owner keys only: the list shows where events go). */
export const WEBHOOK_ENDPOINTS = `query ConsoleWebhookEndpoints {
  webhookEndpoints { ...ConsoleWebhookEndpointFields }
}
${ENDPOINT_FIELDS}`;

/** The newest deliveries of one endpoint (viewer keys and above). */
export const WEBHOOK_DELIVERIES = `query ConsoleWebhookDeliveries($endpointId: ID!, $first: Int) {
  webhookDeliveries(endpointId: $endpointId, first: $first) {
    edges { node { ...ConsoleWebhookDeliveryFields } }
    pageInfo { hasNextPage }
  }
}
${DELIVERY_FIELDS}`;

export const CREATE_WEBHOOK_ENDPOINT = `mutation ConsoleCreateWebhookEndpoint($url: String!, $events: [String!]!, $description: String) {
  result: createWebhookEndpoint(url: $url, events: $events, description: $description) {
    __typename
    ... on CreateWebhookEndpointSuccess { secret endpoint { ...ConsoleWebhookEndpointFields } }
    ... on Error { message }
  }
}
${ENDPOINT_FIELDS}`;

/** Events and description from the edit dialog, or `enabled: true` to resume; what is not sent stays. */
export const UPDATE_WEBHOOK_ENDPOINT = `mutation ConsoleUpdateWebhookEndpoint($endpointId: ID!, $events: [String!], $description: String, $enabled: Boolean) {
  result: updateWebhookEndpoint(endpointId: $endpointId, events: $events, description: $description, enabled: $enabled) {
    __typename
    ... on WebhookEndpointSuccess { endpoint { ...ConsoleWebhookEndpointFields } }
    ... on Error { message }
  }
}
${ENDPOINT_FIELDS}`;

export const DISABLE_WEBHOOK_ENDPOINT = `mutation ConsoleDisableWebhookEndpoint($endpointId: ID!) {
  result: disableWebhookEndpoint(endpointId: $endpointId) {
    __typename
    ... on WebhookEndpointSuccess { endpoint { ...ConsoleWebhookEndpointFields } }
    ... on Error { message }
  }
}
${ENDPOINT_FIELDS}`;

export const DELETE_WEBHOOK_ENDPOINT = `mutation ConsoleDeleteWebhookEndpoint($endpointId: ID!) {
  result: deleteWebhookEndpoint(endpointId: $endpointId) {
    __typename
    ... on WebhookEndpointSuccess { endpoint { id url } }
    ... on Error { message }
  }
}`;

export const SEND_TEST_WEBHOOK = `mutation ConsoleSendTestWebhook($endpointId: ID!) {
  result: sendTestWebhook(endpointId: $endpointId) {
    __typename
    ... on WebhookDeliverySuccess { delivery { ...ConsoleWebhookDeliveryFields } }
    ... on Error { message }
  }
}
${DELIVERY_FIELDS}`;

export const REDELIVER_WEBHOOK = `mutation ConsoleRedeliverWebhook($deliveryId: ID!) {
  result: redeliverWebhook(deliveryId: $deliveryId) {
    __typename
    ... on WebhookDeliverySuccess { delivery { ...ConsoleWebhookDeliveryFields } }
    ... on Error { message }
  }
}
${DELIVERY_FIELDS}`;
