import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

// Millisecond precision, so a JavaScript Date round-trips exactly: keyset cursors compare
// (created_at, id) and must not lose the microseconds PostgreSQL would otherwise keep.
const instant = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });

export const userStatus = pgEnum('user_status', ['pending', 'confirmed', 'disabled']);

export const users = pgTable(
  'users',
  {
    // An opaque id (1–128 characters of [A-Za-z0-9_-]; src/users/rules.ts checkUserId): imported users keep
    // theirs; new ones get gateway_new_user_id(), a time-ordered ObjectId or a UUID as the database's
    // recorded format says (gateway_settings 'user_id_format').
    id: text('id').primaryKey().default(sql`gateway_new_user_id()`),
    email: text('email'),
    status: userStatus('status').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
    lastAuthenticatedAt: instant('last_authenticated_at'),
    disabledAt: instant('disabled_at'),
    customData: jsonb('custom_data').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    // Case-insensitive uniqueness; text_pattern_ops also serves `lower(email) LIKE 'prefix%'`
    // under any database collation.
    uniqueIndex('users_email_lower_key').using('btree', sql`lower(${t.email}) text_pattern_ops`),
    // Keyset pagination, newest first: by status, and across all statuses.
    index('users_status_created_id_idx').on(t.status, t.createdAt, t.id),
    index('users_created_id_idx').on(t.createdAt, t.id),
  ],
);

export const userIdentities = pgTable(
  'user_identities',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    providerType: text('provider_type').notNull(),
    // The provider's own id for this identity (for local-userpass: the lower-cased email).
    providerId: text('provider_id').notNull(),
    // Only for local-userpass: a hash in one of the forms src/users/passwords.ts verifies (ours, Argon2id;
    // our scrypt of before; or an imported Firebase scrypt, bcrypt or Argon2 one); null for a user imported without a password.
    passwordHash: text('password_hash'),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('user_identities_provider_key').on(t.providerType, t.providerId),
    index('user_identities_user_idx').on(t.userId),
  ],
);

export const revokeReasons = [
  'logout',
  'admin_revoked',
  'user_disabled',
  'user_deleted',
  'rotated',
  'password_reset',
] as const;
export type RevokeReason = (typeof revokeReasons)[number];

export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    // SHA-256 of the opaque token; the token itself is never stored.
    tokenHash: bytea('token_hash').notNull(),
    deviceId: text('device_id'),
    // What the client reported about itself at login (`options.device`; src/signin/device.ts): for
    // an operator choosing which session to end. Null when the client did not say.
    sdk: text('sdk'),
    sdkVersion: text('sdk_version'),
    platform: text('platform'),
    platformVersion: text('platform_version'),
    deviceName: text('device_name'),
    appVersion: text('app_version'),
    createdAt: instant('created_at').notNull().defaultNow(),
    expiresAt: instant('expires_at').notNull(),
    lastUsedAt: instant('last_used_at'),
    revokedAt: instant('revoked_at'),
    revokeReason: text('revoke_reason').$type<RevokeReason>(),
  },
  (t) => [
    uniqueIndex('refresh_tokens_token_hash_key').on(t.tokenHash),
    // Live sessions of a user, newest first: counts, listings and revocations stay index-driven.
    index('refresh_tokens_live_user_idx')
      .on(t.userId, t.createdAt, t.id)
      .where(sql`${t.revokedAt} IS NULL`),
    index('refresh_tokens_user_idx').on(t.userId),
    // The count of a user's live sessions that every page of users asks per row (activeSessionCount):
    // a hash index finds the user's entries with one hash of the id, where the btree above compares
    // the id against each level's keys under the database's collation (issue 18: about half the
    // count's cost). Equality only; listings in order keep the btree.
    index('refresh_tokens_live_user_hash').using('hash', t.userId).where(sql`${t.revokedAt} IS NULL`),
  ],
);

export const adminRoles = ['viewer', 'operator', 'owner'] as const;
export type AdminRole = (typeof adminRoles)[number];

export const adminKeys = pgTable(
  'admin_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    role: text('role').$type<AdminRole>().notNull(),
    // SHA-256 of the secret: keys are 256 random bits, so a slow KDF adds nothing here.
    secretHash: bytea('secret_hash').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
    lastUsedAt: instant('last_used_at'),
    revokedAt: instant('revoked_at'),
  },
  (t) => [uniqueIndex('admin_keys_secret_hash_key').on(t.secretHash)],
);

export type UserRow = typeof users.$inferSelect;
export type UserStatus = UserRow['status'];
export type IdentityRow = typeof userIdentities.$inferSelect;
export type RefreshTokenRow = typeof refreshTokens.$inferSelect;
export type AdminKeyRow = typeof adminKeys.$inferSelect;

/** Single-use tokens mailed to users: email confirmation and password reset. */
export const userTokens = pgTable(
  'user_tokens',
  {
    // The "tokenId" of Realm's confirm and reset links.
    id: uuid('id').primaryKey().defaultRandom(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose').$type<'confirm' | 'reset'>().notNull(),
    // SHA-256 of the "token" of the link; the token itself is never stored.
    tokenHash: bytea('token_hash').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
    expiresAt: instant('expires_at').notNull(),
    usedAt: instant('used_at'),
  },
  (t) => [index('user_tokens_user_idx').on(t.userId, t.purpose)],
);

export type MailStatus = 'pending' | 'sent' | 'failed';

/**
 * Every mail the gateway sends, written in the transaction that makes it needed (a sign-up and its
 * confirmation token, say); src/mail/delivery-worker.ts delivers it and records how that went.
 */
export const mailOutbox = pgTable(
  'mail_outbox',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: text('user_id').references(() => users.id, { onDelete: 'set null' }),
    toEmail: text('to_email').notNull(),
    kind: text('kind').notNull(),
    subject: text('subject').notNull(),
    // The plain-text part; `html` is the HTML part.
    body: text('body').notNull(),
    // Secrets in links stay here only until the mail is sent or has failed: the link is then
    // removed from the row (link, body and html).
    link: text('link'),
    createdAt: instant('created_at').notNull().defaultNow(),
    sentAt: instant('sent_at'),
    html: text('html'),
    status: text('status').$type<MailStatus>().notNull().default('pending'),
    // Delivery attempts begun (a claim by a worker counts, whatever its outcome).
    attempts: integer('attempts').notNull().default(0),
    // When a worker may take the mail next: after a retry's delay, or once a claim's lease runs out.
    nextAttemptAt: instant('next_attempt_at').notNull().defaultNow(),
    lastAttemptAt: instant('last_attempt_at'),
    lastError: text('last_error'),
  },
  (t) => [
    index('mail_outbox_created_idx').on(t.createdAt, t.id),
    index('mail_outbox_due_idx').on(t.nextAttemptAt).where(sql`status = 'pending'`),
    index('mail_outbox_user_idx').on(t.userId, t.createdAt),
  ],
);

export type MailRow = typeof mailOutbox.$inferSelect;

/** Secrets the gateway generates for itself once, such as the access-token signing key. */
export const gatewaySecrets = pgTable('gateway_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: instant('created_at').notNull().defaultNow(),
});

/**
 * The keys that sign access tokens (src/tokens/signing-keys.ts). One is current (retired_at null)
 * and signs; retired ones still verify the tokens they signed until those have expired. Private key
 * material is sealed with TOKEN_KEY_ENCRYPTION_SECRET when it is set, and never leaves the gateway.
 */
export const signingKeys = pgTable(
  'signing_keys',
  {
    /** The `kid` of the tokens it signs. */
    id: text('id').primaryKey(),
    algorithm: text('algorithm').notNull(),
    /** The public JWK as published at /.well-known/jwks.json; null for HS256 (never published). */
    publicJwk: jsonb('public_jwk').$type<Record<string, unknown>>(),
    /** The private JWK (or HS256 secret), sealed: "plain:…" or "aes256gcm:…". */
    privateKey: text('private_key').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
    /** When it stopped signing; null while it is the current key. */
    retiredAt: instant('retired_at'),
  },
  (t) => [uniqueIndex('signing_keys_one_current').on(sql`(true)`).where(sql`${t.retiredAt} IS NULL`)],
);

export type SigningKeyRow = typeof signingKeys.$inferSelect;

/** Who did what to whom. No foreign key to users: the history outlives the user it is about. */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    at: instant('at').notNull().defaultNow(),
    action: text('action').notNull(),
    outcome: text('outcome').$type<'success' | 'refused' | 'failed'>().notNull(),
    userId: text('user_id'),
    actorKeyId: uuid('actor_key_id').references(() => adminKeys.id, { onDelete: 'set null' }),
    actorName: text('actor_name'),
    requestId: text('request_id'),
    details: jsonb('details').$type<Record<string, unknown>>(),
  },
  (t) => [
    index('audit_events_at_id_idx').on(t.at, t.id),
    index('audit_events_user_at_id_idx').on(t.userId, t.at, t.id),
    index('audit_events_action_at_id_idx').on(t.action, t.at, t.id),
  ],
);

/** Where the gateway POSTs its signed webhooks (src/webhooks/); the signing secret is encrypted when WEBHOOK_SECRET_KEY is set. */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    url: text('url').notNull(),
    description: text('description'),
    events: text('events').array().notNull(),
    enabled: boolean('enabled').notNull().default(true),
    // "plain:whsec_…" or "aes256gcm:…" (src/webhooks/secrets.ts); never a hash: HMAC needs the secret.
    secret: text('secret').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
    updatedAt: instant('updated_at').notNull().defaultNow(),
  },
  (t) => [index('webhook_endpoints_created_idx').on(t.createdAt, t.id)],
);

/**
 * The transactional outbox: one row per event, written in the transaction of the change it tells
 * of. `seq` orders the events of one user as their transactions committed (they hold the user's lock).
 */
export const webhookEvents = pgTable(
  'webhook_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity().notNull().unique(),
    type: text('type').notNull(),
    // No foreign key: the event of a deleted user outlives the user.
    userId: text('user_id'),
    auditEventId: uuid('audit_event_id'),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (t) => [index('webhook_events_audit_idx').on(t.auditEventId), index('webhook_events_created_idx').on(t.createdAt)],
);

/** One event to one endpoint: its attempts, due time and outcome. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    eventId: uuid('event_id')
      .notNull()
      .references(() => webhookEvents.id, { onDelete: 'cascade' }),
    // No foreign key: checking one would lock the endpoint's row (FOR KEY SHARE) in every action's
    // transaction, all of them the same row, and PostgreSQL would make a multixact of the lockers at
    // each new one. deleteEndpoint deletes the endpoint's deliveries itself; the worker claims only
    // deliveries of an existing, enabled endpoint.
    endpointId: uuid('endpoint_id').notNull(),
    eventSeq: bigint('event_seq', { mode: 'number' }).notNull(),
    userId: text('user_id'),
    status: text('status').$type<'pending' | 'delivered' | 'failed'>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    // When pending: when it is due; while an instance sends it, the end of that instance's lease.
    nextAttemptAt: instant('next_attempt_at').notNull().defaultNow(),
    lastAttemptAt: instant('last_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    deliveredAt: instant('delivered_at'),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_endpoint_event_key').on(t.endpointId, t.eventId),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`status = 'pending'`),
    index('webhook_deliveries_order_idx').on(t.endpointId, t.userId, t.eventSeq).where(sql`status = 'pending'`),
    index('webhook_deliveries_list_idx').on(t.endpointId, t.createdAt, t.id),
    index('webhook_deliveries_event_idx').on(t.eventId),
  ],
);

/** Facts about this database the gateway records once and keeps, e.g. 'user_id_format' ('objectid' | 'uuid'). */
export const gatewaySettings = pgTable('gateway_settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  createdAt: instant('created_at').notNull().defaultNow(),
});

/**
 * When a capability began to write rows for every action, so `npm run check-db` expects them only
 * from then on (e.g. `webhook_outbox`: the webhook events of audit events).
 */
export const gatewayMilestones = pgTable('gateway_milestones', {
  name: text('name').primaryKey(),
  at: instant('at').notNull().defaultNow(),
});

/**
 * The rate limits' counters (src/limits/postgres-store.ts), shared by every instance on one
 * PostgreSQL server: one row per key (`<limit>:<address or account>`), counting the attempts of
 * its window, which ends at `expires_at`. Expired rows are deleted from time to time.
 * The table is UNLOGGED (no WAL: cheap writes; emptied after a crash, which only forgives
 * counts): drizzle-kit cannot express that, so its migration (0010_attempt_counters) was edited
 * by hand from CREATE TABLE to CREATE UNLOGGED TABLE.
 */
export const attemptCounters = pgTable(
  'attempt_counters',
  {
    key: text('key').primaryKey(),
    count: integer('count').notNull(),
    windowStartedAt: instant('window_started_at').notNull(),
    expiresAt: instant('expires_at').notNull(),
  },
  (t) => [index('attempt_counters_expires_idx').on(t.expiresAt)],
);

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type WebhookEventRow = typeof webhookEvents.$inferSelect;
export type UserTokenRow = typeof userTokens.$inferSelect;
export type AuditEventRow = typeof auditEvents.$inferSelect;
