import type { Database, Executor } from '../db/client.js';
import { audited, type Actor } from '../audit/log.js';
import type { AdminRole, RefreshTokenRow, UserRow } from '../db/schema.js';
import { EmailTakenError, InvalidInputError, PendingUserError, SessionNotFoundError, UserNotFoundError } from '../errors.js';
import { hashPassword } from './passwords.js';
import { countLiveSessionsByUser } from '../sessions/repository.js';
import { UUID_PATTERN, pageRequest, toPage, type Page } from '../db/keyset.js';
import { countLinkedRows, purgeLinkedRows, PurgeNotAllowedError, type LinkedDataCount, type LinkedTable } from '../linked-data/index.js';
import { recordSessionsRevoked } from '../metrics.js';
import type { RevokeReason } from '../db/schema.js';
import * as repo from './repository.js';
import { appliesTo, revokeOneSession, runPlan, type PlanEvents, type PlannedAction, type SessionRevocation } from './plans.js';
import { actionChanges, checkUserId } from './rules.js';
import { enqueueUserEvent } from '../webhooks/outbox.js';

export const LOCAL_USERPASS = 'local-userpass';
export const ANON_USER = 'anon-user';

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const PASSWORD_MIN_LENGTH = 6;
export const PASSWORD_MAX_LENGTH = 128;

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
/** A UTF-16 surrogate without its other half: not a character, and not storable as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text the database can store as it was given: no NUL or other control character, no lone surrogate. */
export function checkText(text: string, field: string): string {
  if (CONTROL_CHARACTER.test(text) || LONE_SURROGATE.test(text)) {
    throw new InvalidInputError(field, `"${field}" holds a control character or an invalid Unicode sequence.`);
  }
  return text;
}

/**
 * The one form in which email addresses are stored and looked up: trimmed, Unicode NFC. Case is
 * folded by the database only (`lower()`, as the unique index users_email_lower_key does; see
 * emailKey in the repository): JavaScript and PostgreSQL lower-case some letters differently
 * ("İ"), and two lower-casings would let two users own one address.
 */
export function normalizeEmail(email: string, field = 'email'): string {
  return checkText(email, field).trim().normalize('NFC');
}

/** Checks the shape of an email address and returns it normalised (normalizeEmail). */
export function checkEmail(email: string, field = 'email'): string {
  const normalized = normalizeEmail(email, field);
  if (normalized.length > 254 || !EMAIL_PATTERN.test(normalized)) {
    throw new InvalidInputError(field, `"${normalized.slice(0, 64)}" is not a valid email address.`);
  }
  return normalized;
}

export function checkPassword(password: string, field = 'password'): string {
  if (LONE_SURROGATE.test(password)) throw new InvalidInputError(field, 'The password holds an invalid Unicode sequence.');
  if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    throw new InvalidInputError(
      field,
      `The password must be between ${PASSWORD_MIN_LENGTH} and ${PASSWORD_MAX_LENGTH} characters long.`,
    );
  }
  return password;
}

export { checkUserId } from './rules.js';

/**
 * Creates an email/password user. `status` is `confirmed` for users an operator creates (as Realm's
 * admin API does) and for sign-ups when confirmation is off; `pending` otherwise.
 */
export async function createEmailPasswordUser(
  db: Database,
  actor: Actor,
  input: { email: string; password: string; status: 'confirmed' | 'pending' },
  action = 'createUser',
  /** More of the same change, in its transaction (a sign-up's confirmation token and mail). */
  alsoInTransaction?: (tx: Executor, user: UserRow) => Promise<void>,
): Promise<UserRow> {
  const email = checkEmail(input.email);
  checkPassword(input.password);
  const passwordHash = await hashPassword(input.password);
  return audited(
    db,
    actor,
    { action },
    async (tx, { auditEventId }) => {
      // The unique index on lower(email) decides, so of two racing sign-ups only one gets a row.
      const user = await repo.insertUserUnlessEmailTaken(tx, { email, status: input.status });
      if (!user) throw new EmailTakenError(email);
      // The identity's key is the same lower(email), made by the database; one stored before that
      // rule (lower-cased by JavaScript) may still hold it: then the address is taken too.
      const identity = await repo.insertIdentityUnlessTaken(tx, {
        userId: user.id,
        providerType: LOCAL_USERPASS,
        providerId: repo.emailKey(email),
        passwordHash,
      });
      if (!identity) throw new EmailTakenError(email);
      await enqueueUserEvent(tx, {
        type: 'user.created',
        userId: user.id,
        actor,
        auditEventId,
        data: { email: user.email, status: user.status, provider: LOCAL_USERPASS },
      });
      await alsoInTransaction?.(tx, user);
      return user;
    },
    (user) => ({ userId: user.id, details: { email: user.email, status: user.status } }),
  );
}

/**
 * Runs the action's plan (plans.ts) on the one user `id` names, as the bulk action runs it on many:
 * UserNotFoundError when there is none, PendingUserError when the rules refuse its status (nothing
 * has changed then). Returns the user as it was before the change.
 */
async function runOnOneUser(
  tx: Executor,
  action: PlannedAction,
  id: string,
  options: {
    refusal?: (userId: string) => string;
    beforeChange?: (user: UserRow) => Promise<void>;
    /** The webhook event's actor and audit event (and more data): see runPlan. */
    events?: PlanEvents;
  } = {},
): Promise<{ user: UserRow; revokedSessionCount: number }> {
  const userId = checkUserId(id);
  const { beforeChange } = options;
  const { found, revoked } = await runPlan(tx, action, [userId], beforeChange && (([user]) => beforeChange(user!)), options.events);
  const user = found.get(userId);
  if (!user) throw new UserNotFoundError(id);
  if (!appliesTo(action, user.status)) throw new PendingUserError(user.id, options.refusal?.(user.id));
  return { user, revokedSessionCount: revoked.get(userId) ?? 0 };
}

/** The user as the action left it: read again only when the action changed it. */
async function afterAction(tx: Executor, action: 'disable' | 'enable', user: UserRow): Promise<UserRow> {
  return actionChanges(action, user.status) ? (await repo.findUserById(tx, user.id))! : user;
}

export interface UserActionResult {
  user: UserRow;
  revokedSessionCount: number;
}

const revokedCount = (r: { revokedSessionCount: number }) => ({ details: { revokedSessionCount: r.revokedSessionCount } });

/** Counts the revoked sessions in the metrics, once the action has committed. */
const countRevoked =
  (reason: RevokeReason) =>
  <T extends { revokedSessionCount: number }>(result: T): T => {
    recordSessionsRevoked(reason, result.revokedSessionCount);
    return result;
  };

/** Disables a confirmed user and revokes every session. Disabling a disabled user is a no-op. */
export async function disableUser(db: Database, actor: Actor, id: string): Promise<UserActionResult> {
  return audited(
    db,
    actor,
    { action: 'disableUser', userId: id },
    async (tx, { auditEventId }) => {
      const { user, revokedSessionCount } = await runOnOneUser(tx, 'disable', id, { events: { actor, auditEventIdOf: () => auditEventId } });
      return { user: await afterAction(tx, 'disable', user), revokedSessionCount };
    },
    revokedCount,
  ).then(countRevoked('user_disabled'));
}

/** Turns a disabled user back to confirmed; no session comes back. Enabling a confirmed user is a no-op. */
export async function enableUser(db: Database, actor: Actor, id: string): Promise<UserRow> {
  return audited(db, actor, { action: 'enableUser', userId: id }, async (tx, { auditEventId }) => {
    const { user } = await runOnOneUser(tx, 'enable', id, {
      events: { actor, auditEventIdOf: () => auditEventId },
      refusal: (userId) => `User ${userId} is pending confirmation, not disabled: confirm it instead.`,
    });
    return afterAction(tx, 'enable', user);
  });
}

export interface DeleteResult {
  deletedUserId: string;
  revokedSessionCount: number;
  /** Per declared table of the app's: the rows purged with the user, or (not purged) the rows left behind. */
  linkedData: LinkedDataCount[];
  linkedDataPurged: boolean;
}

export interface DeleteOptions {
  /** The app's tables that point at users (LINKED_DATA_FILE), as checked at start. */
  linkedData?: readonly LinkedTable[];
  /** Also delete every declared row that points at the user, in the same transaction. */
  purgeLinkedData?: boolean;
  /** The role of the admin key asking; purging needs `owner`. */
  role?: AdminRole | null;
}

/**
 * Removes the user with its identities and sessions. Rows of the app's own tables that point at
 * the user are left alone, as the seed says, and counted; with `purgeLinkedData` (owner keys only)
 * they are deleted too, all in one transaction: if any of it fails, nothing is deleted.
 */
export async function deleteUser(
  db: Database,
  actor: Actor,
  id: string,
  options: DeleteOptions = {},
): Promise<DeleteResult> {
  const { linkedData = [], purgeLinkedData = false } = options;
  return audited(
    db,
    actor,
    { action: 'deleteUser', userId: id },
    async (tx, { auditEventId }) => {
      if (purgeLinkedData && options.role !== 'owner') throw new PurgeNotAllowedError(options.role);
      let linked: LinkedDataCount[] = [];
      const { user, revokedSessionCount } = await runOnOneUser(tx, 'delete', id, {
        // Between the revocation and the delete: the app's rows that point at the user, purged or counted.
        beforeChange: async (user) => {
          linked = purgeLinkedData
            ? await purgeLinkedRows(tx, linkedData, user.id)
            : (await countLinkedRows(tx, linkedData, [user.id])).get(user.id)!;
        },
        events: { actor, auditEventIdOf: () => auditEventId, dataOf: () => ({ linkedData: linked, linkedDataPurged: purgeLinkedData }) },
      });
      return { deletedUserId: user.id, revokedSessionCount, linkedData: linked, linkedDataPurged: purgeLinkedData };
    },
    (r) => ({
      details: { revokedSessionCount: r.revokedSessionCount, linkedDataPurged: r.linkedDataPurged, linkedData: r.linkedData },
    }),
  ).then(countRevoked('user_deleted'));
}

export interface DeletePreview {
  user: UserRow;
  activeSessionCount: number;
  /** The rows of the app's declared tables that deleting would leave behind (or purge). */
  linkedData: LinkedDataCount[];
}

/** What deleteUser would remove or leave behind, read in one consistent snapshot; changes nothing. */
export async function previewDeleteUser(
  db: Database,
  linkedData: readonly LinkedTable[],
  id: string,
): Promise<DeletePreview> {
  const userId = checkUserId(id);
  return db.transaction(
    async (tx) => {
      const user = await repo.findUserById(tx, userId);
      if (!user) throw new UserNotFoundError(id);
      const sessions = await countLiveSessionsByUser(tx, [user.id]);
      const linked = await countLinkedRows(tx, linkedData, [user.id]);
      return { user, activeSessionCount: sessions.get(user.id) ?? 0, linkedData: linked.get(user.id)! };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}

/** Logs the user out of every session: each live refresh token is revoked. */
export async function revokeUserSessions(db: Database, actor: Actor, id: string): Promise<UserActionResult> {
  return audited(
    db,
    actor,
    { action: 'revokeUserSessions', userId: id },
    async (tx, { auditEventId }) => {
      return runOnOneUser(tx, 'revokeSessions', id, { events: { actor, auditEventIdOf: () => auditEventId } });
    },
    revokedCount,
  ).then(countRevoked('admin_revoked'));
}

/** Session ids are UUIDs too; anything else is the caller's mistake (BAD_USER_INPUT), never a database error. */
export function checkSessionId(id: string, field = 'id'): string {
  if (!UUID_PATTERN.test(id)) throw new InvalidInputError(field, `"${id.slice(0, 64)}" is not a valid session id.`);
  return id.toLowerCase();
}

/**
 * Logs the user out of one session (one device): its refresh token and every access token issued
 * from it stop working on every instance once this returns; the user's other sessions go on.
 * SessionNotFoundError when no live session has this id (nothing changes then).
 */
export async function revokeSession(db: Database, actor: Actor, id: string): Promise<SessionRevocation> {
  const sessionId = checkSessionId(id);
  return audited(
    db,
    actor,
    { action: 'revokeSession' },
    async (tx, { auditEventId }) => {
      const revoked = await revokeOneSession(tx, sessionId);
      if (!revoked) throw new SessionNotFoundError(id);
      await enqueueUserEvent(tx, {
        type: 'user.sessions_revoked',
        userId: revoked.user.id,
        actor,
        auditEventId,
        data: { revokedSessionCount: 1, reason: 'admin_revoked', sessionId: revoked.session.id },
      });
      return revoked;
    },
    ({ user, session }) => ({
      userId: user.id,
      details: {
        sessionId: session.id,
        deviceId: session.deviceId,
        device: describeDevice(session),
        revokedSessionCount: 1,
      },
    }),
  ).then((result) => {
    recordSessionsRevoked('admin_revoked', 1);
    return result;
  });
}

/** What the client reported about itself at login, in a few words ("SDK 2.0.1 on chrome 120"); null if nothing. */
export function describeDevice(
  session: Pick<RefreshTokenRow, 'sdk' | 'sdkVersion' | 'platform' | 'platformVersion' | 'deviceName' | 'appVersion'>,
): string | null {
  const sdk = [session.sdk ?? (session.sdkVersion ? 'SDK' : null), session.sdkVersion].filter(Boolean).join(' ');
  const platform = [session.platform, session.platformVersion].filter(Boolean).join(' ');
  const parts = [
    session.deviceName && `${session.deviceName}:`,
    sdk,
    platform && `on ${platform}`,
    session.appVersion && `(app ${session.appVersion})`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(' ') : null;
}

export interface UserList extends Page<repo.UserRowWithCount> {
  /** Counted only when asked for: at a million users a count is the expensive part. */
  totalCount(): Promise<number>;
}

/**
 * A page of users, newest first, optionally of one status and matching a search; with
 * `withActiveSessionCount`, each user's live-session count comes in the same statement.
 */
export async function findUsers(
  db: Executor,
  filter: repo.UserFilter,
  first: number | null | undefined,
  after: string | null | undefined,
  options: { withActiveSessionCount?: boolean } = {},
): Promise<UserList> {
  const page = pageRequest(first, after, 'userId');
  if (filter.search && filter.search.length > 254) {
    throw new InvalidInputError('search', '"search" is longer than any email address can be.');
  }
  const rows = await repo.listUsers(db, filter, page, options);
  let count: Promise<number> | undefined;
  return { ...toPage(rows, page.first), totalCount: () => (count ??= repo.countUsers(db, filter)) };
}

export async function findUser(db: Executor, id: string): Promise<UserRow | null> {
  return repo.findUserById(db, checkUserId(id));
}
