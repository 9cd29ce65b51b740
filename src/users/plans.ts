// The admin actions on users as plans of set-based statements: lock the users in id order, revoke
// the live sessions of those the action applies to, make the change. The single-user mutations run
// a plan on one id and the bulk ones on many, so disableUser(id) and disableUsers([id]) send the
// same statements and cannot drift apart.
import type { Actor } from '../audit/log.js';
import type { Executor } from '../db/client.js';
import type { RefreshTokenRow, RevokeReason, UserRow, UserStatus } from '../db/schema.js';
import { findSessionUserId, revokeLiveSessionById, revokeLiveSessions } from '../sessions/repository.js';
import { deleteUserRows, lockUsers, setStatusOfUsers } from './repository.js';
import { actionChanges, effectOf, type UserAction } from './rules.js';
import { enqueueUserEvents, type UserEventType } from '../webhooks/outbox.js';

/**
 * A bulk action writes its users' webhook events (runPlan) and their audit events (bulk.ts) a
 * slice of this many users at a time, one statement per slice each, all in its one transaction:
 * 10,000 events' payloads and their JSON at once took tens of MB of heap that V8 kept committed
 * long after. Nothing below slices again: enqueueUserEvents and recordAuditEvents write what
 * they are given in one statement.
 */
export const USERS_PER_SLICE = 500;

/** Hands `items` to `write` a USERS_PER_SLICE slice at a time, each once the one before is written. */
export async function inSlices<T>(items: readonly T[], write: (slice: readonly T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += USERS_PER_SLICE) await write(items.slice(i, i + USERS_PER_SLICE));
}

export type PlannedAction = Extract<UserAction, 'disable' | 'enable' | 'delete' | 'revokeSessions'>;

interface ActionPlan {
  /** Why the sessions of the users it applies to are revoked; null: they are left alone. */
  revokeReason: RevokeReason | null;
  /** The change itself, after the sessions have been revoked. */
  change(tx: Executor, users: readonly UserRow[]): Promise<void>;
}

const changing = (action: PlannedAction, users: readonly UserRow[]) =>
  users.filter((u) => actionChanges(action, u.status)).map((u) => u.id);

const plans: Record<PlannedAction, ActionPlan> = {
  // Confirmed users become disabled, disabled ones stay so; both lose every session.
  disable: { revokeReason: 'user_disabled', change: (tx, users) => setStatusOfUsers(tx, changing('disable', users), 'disabled') },
  // No session comes back.
  enable: { revokeReason: null, change: (tx, users) => setStatusOfUsers(tx, changing('enable', users), 'confirmed') },
  delete: { revokeReason: 'user_deleted', change: (tx, users) => deleteUserRows(tx, users.map((u) => u.id)) },
  revokeSessions: { revokeReason: 'admin_revoked', change: async () => {} },
};

/** The webhook event each action writes for every user it applies to (src/webhooks/outbox.ts). */
const eventTypes: Record<PlannedAction, UserEventType> = {
  disable: 'user.disabled',
  enable: 'user.enabled',
  delete: 'user.deleted',
  revokeSessions: 'user.sessions_revoked',
};

/** Who runs the action, and what its webhook events say besides the user, the actor and the audit event. */
export interface PlanEvents {
  actor: Actor;
  /** The id of the audit event that records the action for this user. */
  auditEventIdOf(userId: string): string;
  /** More of the event's `data` for this user (e.g. the linked-data counts of a deletion). */
  dataOf?(userId: string): Record<string, unknown>;
}

/** Whether the action applies to a user of this status; the others are refused (see rules.ts). */
export const appliesTo = (action: PlannedAction, status: UserStatus): boolean => effectOf(action, status) !== 'refused';

export const revokeReasonOf = (action: PlannedAction): RevokeReason | null => plans[action].revokeReason;

export interface PlanRun {
  /** The users found, as they were before the change, by id. */
  found: Map<string, UserRow>;
  /** How many live sessions each user lost; users that lost none are absent. */
  revoked: Map<string, number>;
}

/**
 * Runs the action on the users of `userIds` (checked, lower-cased UUIDs) in the caller's
 * transaction: at most three statements (lock, revoke, change) whatever their number, plus with
 * `events` one per USERS_PER_SLICE users it applies to (their webhook events). `beforeChange` runs
 * between the revocation and the change, on the users the action applies to, when there are any.
 * With `events`, one webhook event per user it applies to is written in the same transaction,
 * after the users' locks are held (so each user's events are in commit order).
 */
export async function runPlan(
  tx: Executor,
  action: PlannedAction,
  userIds: readonly string[],
  beforeChange?: (users: readonly UserRow[]) => Promise<void>,
  events?: PlanEvents,
): Promise<PlanRun> {
  const plan = plans[action];
  const found = new Map((await lockUsers(tx, userIds)).map((u) => [u.id, u]));
  const targets = [...found.values()].filter((u) => appliesTo(action, u.status));
  const ids = targets.map((u) => u.id);
  const revoked = plan.revokeReason ? await revokeLiveSessions(tx, ids, plan.revokeReason) : new Map<string, number>();
  if (beforeChange && targets.length > 0) await beforeChange(targets);
  await plan.change(tx, targets);
  if (events) {
    // In slices (see USERS_PER_SLICE); every slice is in the same transaction, so all or nothing still.
    await inSlices(targets, (slice) =>
      enqueueUserEvents(
        tx,
        slice.map((u) => ({
          type: eventTypes[action],
          userId: u.id,
          actor: events.actor,
          auditEventId: events.auditEventIdOf(u.id),
          data: {
            email: u.email ?? null,
            ...(action === 'enable' ? {} : { revokedSessionCount: revoked.get(u.id) ?? 0 }),
            ...(action === 'disable' || action === 'enable' ? { changed: actionChanges(action, u.status) } : {}),
            ...events.dataOf?.(u.id),
          },
        })),
      ),
    );
  }
  return { found, revoked };
}

export interface SessionRevocation {
  /** The user the session belonged to, locked, as it is (revoking a session does not change it). */
  user: UserRow;
  /** The session, now revoked. */
  session: RefreshTokenRow;
}

/**
 * Revokes one live session (`sessionId`, a checked, lower-cased UUID) in the caller's transaction,
 * under its user's row lock, as revokeSessions does for all of them: a refresh or login of that user
 * either committed first (and the session is revoked after it) or waits and then finds it revoked.
 * Null when there is no such live session: unknown, already revoked, expired, or its user deleted.
 * What the caller adds to the same transaction (audit event, webhook `user.sessions_revoked` with a
 * count of 1 and the session id) is about the returned session.
 */
export async function revokeOneSession(tx: Executor, sessionId: string): Promise<SessionRevocation | null> {
  const userId = await findSessionUserId(tx, sessionId);
  if (!userId) return null;
  const [user] = await lockUsers(tx, [userId]);
  if (!user) return null;
  const session = await revokeLiveSessionById(tx, user.id, sessionId, plans.revokeSessions.revokeReason!);
  return session ? { user, session } : null;
}
