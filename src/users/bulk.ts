// Bulk actions: one transaction of set-based statements (at most three, plus for deleteUsers with linked
// data declared one counting it, plus up to two per USERS_PER_SLICE users: their webhook and audit
// events), with an outcome for every id so that one unknown or pending user never hides the rest.
import { randomUUID } from 'node:crypto';
import { recordAuditEvent, recordAuditEvents, type Actor, type AuditEntry } from '../audit/log.js';
import type { Database } from '../db/client.js';
import { InvalidInputError, PendingUserError, UserNotFoundError } from '../errors.js';
import { countLinkedRows, type LinkedDataCount, type LinkedTable } from '../linked-data/index.js';
import { recordSessionsRevoked } from '../metrics.js';
import { withThousands } from '../thousands.js';
import { appliesTo, inSlices, revokeReasonOf, runPlan, type PlannedAction } from './plans.js';
import { userIdOrNull } from './rules.js';

/** The most ids one bulk call takes; more is refused whole, before anything changes. */
export const MAX_BULK_IDS = 10_000;

export type BulkAction = 'disableUsers' | 'deleteUsers' | 'revokeSessionsOfUsers';

/**
 * done: the action holds for the user now (including a user that was already disabled);
 * notFound: no such user; pending: a pending user, which cannot be disabled; malformed: not a user id.
 */
export type BulkOutcomeStatus = 'done' | 'notFound' | 'pending' | 'malformed';

export interface BulkUserOutcome {
  /** Where the id first appears in the request (0-based). */
  index: number;
  /** The id as it was given. */
  id: string;
  status: BulkOutcomeStatus;
  revokedSessionCount: number;
  /** Why the action did not apply; null when done. */
  message: string | null;
  /** The stable code of that reason (as the single-user mutations report it); null when done. */
  code: string | null;
}

export interface BulkActionResult {
  action: BulkAction;
  /** One per distinct id, in the order the ids were given. */
  outcomes: BulkUserOutcome[];
  counts: Record<BulkOutcomeStatus, number>;
  revokedSessionCount: number;
}

interface Requested {
  index: number;
  id: string;
  /** The lower-cased UUID, or null when the id is not one. */
  userId: string | null;
}

/** Distinct ids in the order given; a repeated id (also in another letter case) is acted on once. */
function distinctIds(ids: readonly string[]): Requested[] {
  const seen = new Set<string>();
  const requested: Requested[] = [];
  ids.forEach((id, index) => {
    const userId = userIdOrNull(id);
    const key = userId ?? `malformed:${id}`;
    if (seen.has(key)) return;
    seen.add(key);
    requested.push({ index, id, userId });
  });
  return requested;
}

/**
 * A new UUID as a flat string. randomUUID's string is a tree of some twenty short pieces (~520 bytes
 * of heap until it is flattened); a bulk call keeps 10,000 of them for the whole transaction.
 */
const flatUuid = (): string => Buffer.from(randomUUID(), 'latin1').toString('latin1');

/** The plan (plans.ts) each bulk action runs. */
const plannedAction: Record<BulkAction, PlannedAction> = {
  disableUsers: 'disable',
  deleteUsers: 'delete',
  revokeSessionsOfUsers: 'revokeSessions',
};

function refusal(requested: Requested, status: Exclude<BulkOutcomeStatus, 'done'>): BulkUserOutcome {
  const error =
    status === 'malformed'
      ? new InvalidInputError('ids', `"${requested.id.slice(0, 64)}" is not a valid user id.`)
      : status === 'pending'
        ? new PendingUserError(requested.userId!)
        : new UserNotFoundError(requested.userId!);
  return {
    index: requested.index,
    id: requested.id,
    status,
    revokedSessionCount: 0,
    message: error.message,
    code: error.code,
  };
}

/**
 * Runs a bulk action over up to MAX_BULK_IDS users in one transaction: the users' rows are locked in
 * id order, the change and the session revocation are one statement each, and every distinct id gets
 * an audit event (success or refused), written a slice of USERS_PER_SLICE at a time.
 */
export async function runBulkAction(
  db: Database,
  actor: Actor,
  action: BulkAction,
  ids: readonly string[],
  options: { linkedData?: readonly LinkedTable[] } = {},
): Promise<BulkActionResult> {
  if (ids.length > MAX_BULK_IDS) {
    const error = new InvalidInputError(
      'ids',
      `At most ${withThousands(MAX_BULK_IDS)} ids per call; got ${withThousands(ids.length)}. Split the list.`,
    );
    await recordAuditEvent(db, actor, {
      action,
      outcome: 'refused',
      details: { code: error.code, message: error.message, idCount: ids.length },
    });
    throw error;
  }
  const planned = plannedAction[action];
  const requested = distinctIds(ids);
  const userIds = requested.flatMap((r) => (r.userId ? [r.userId] : []));

  // Each user's audit event id is known before it is written: its webhook event names it.
  const auditEventIds = new Map(userIds.map((id) => [id, flatUuid()]));
  const linkedData = options.linkedData ?? [];

  const outcomes = await db.transaction(async (tx) => {
    // A deletion's events say what of the app's own data each user leaves behind (never purged in bulk).
    let linked = new Map<string, LinkedDataCount[]>();
    const { found, revoked } = await runPlan(
      tx,
      planned,
      userIds,
      planned === 'delete' && linkedData.length > 0
        ? async (users) => {
            linked = await countLinkedRows(tx, linkedData, users.map((u) => u.id));
          }
        : undefined,
      {
        actor,
        auditEventIdOf: (userId) => auditEventIds.get(userId)!,
        dataOf: planned === 'delete' ? (userId) => ({ linkedData: linked.get(userId) ?? [], linkedDataPurged: false }) : undefined,
      },
    );

    const outcomes = requested.map((r): BulkUserOutcome => {
      if (!r.userId) return refusal(r, 'malformed');
      const user = found.get(r.userId);
      if (!user) return refusal(r, 'notFound');
      if (!appliesTo(planned, user.status)) return refusal(r, 'pending');
      return {
        index: r.index,
        id: r.id,
        status: 'done',
        revokedSessionCount: revoked.get(user.id) ?? 0,
        message: null,
        code: null,
      };
    });
    // A slice at a time (see USERS_PER_SLICE), so that 10,000 entries and their details never live at once.
    await inSlices(outcomes, (slice) =>
      recordAuditEvents(
        tx,
        actor,
        slice.map(
          (o): AuditEntry =>
            o.status === 'done'
              ? {
                  id: auditEventIds.get(o.id.toLowerCase()),
                  action,
                  outcome: 'success',
                  userId: o.id,
                  details: { revokedSessionCount: o.revokedSessionCount },
                }
              : { action, outcome: 'refused', userId: o.id, details: { code: o.code, message: o.message } },
        ),
      ),
    );
    return outcomes;
  });

  const counts: Record<BulkOutcomeStatus, number> = { done: 0, notFound: 0, pending: 0, malformed: 0 };
  let revokedSessionCount = 0;
  for (const o of outcomes) {
    counts[o.status] += 1;
    revokedSessionCount += o.revokedSessionCount;
  }
  recordSessionsRevoked(revokeReasonOf(planned)!, revokedSessionCount);
  return { action, outcomes, counts, revokedSessionCount };
}

export const disableUsers = (db: Database, actor: Actor, ids: readonly string[]) =>
  runBulkAction(db, actor, 'disableUsers', ids);
export const deleteUsers = (db: Database, actor: Actor, ids: readonly string[], linkedData: readonly LinkedTable[] = []) =>
  runBulkAction(db, actor, 'deleteUsers', ids, { linkedData });
export const revokeSessionsOfUsers = (db: Database, actor: Actor, ids: readonly string[]) =>
  runBulkAction(db, actor, 'revokeSessionsOfUsers', ids);
