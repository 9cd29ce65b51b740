import { sql, type SQL } from 'drizzle-orm';
import { liveSession, sessionsAsT } from '../sessions/live.js';
import type { Executor } from '../db/client.js';

/**
 * The audit actions that make each change, as their "success" events name them. An action added
 * later that disables, deletes or revokes must be listed here, or the checker reports its users.
 */
export const DISABLE_ACTIONS = ['disableUser', 'disableUsers'] as const;
export const REVOKE_ACTIONS = ['revokeUserSessions', 'revokeSessionsOfUsers'] as const;
export const DELETE_ACTIONS = ['deleteUser', 'deleteUsers'] as const;

/**
 * The audit actions whose every success writes a webhook event naming it (src/webhooks/outbox.ts).
 * An action added later that enqueues user events (password reset, imports, …) belongs here too.
 */
export const WEBHOOK_EVENT_ACTIONS = [
  'register',
  'createUser',
  'confirmUser',
  'logout',
  'disableUser',
  'enableUser',
  'deleteUser',
  'revokeUserSessions',
  'disableUsers',
  'deleteUsers',
  'revokeSessionsOfUsers',
  'revokeSession',
  'resetPassword',
] as const;

export interface Violation {
  rule: string;
  description: string;
  /** How many rows break the rule. */
  count: number;
  /** Up to 10 of their ids (a user id, or a session id for session rules). */
  sample: string[];
}

const list = (actions: readonly string[]) => sql.raw(actions.map((a) => `'${a.replace(/'/g, "''")}'`).join(', '));
const disabling = list(DISABLE_ACTIONS);
const revoking = list(REVOKE_ACTIONS);
const deleting = list(DELETE_ACTIONS);
const live = liveSession(sessionsAsT);
const eventful = list(WEBHOOK_EVENT_ACTIONS);

// Why equal timestamps: a change and its audit event are written in one transaction, and every
// now() of a transaction is the same instant, so users.disabled_at, refresh_tokens.revoked_at and
// audit_events.at of one action are equal (all kept to the millisecond). A change whose event is
// missing, or an event whose change is missing, cannot satisfy it.
const rules: { rule: string; description: string; ids: SQL }[] = [
  {
    rule: 'confirmation-token-without-mail',
    description: 'a pending user has a live confirmation token but no confirmation mail in mail_outbox written with it',
    // The token and its mail are written in one transaction, so their created_at are the same instant.
    ids: sql`SELECT DISTINCT u.id::text AS id FROM users u JOIN user_tokens t ON t.user_id = u.id
      WHERE u.status = 'pending' AND t.purpose = 'confirm' AND t.used_at IS NULL AND t.expires_at > now()
        AND NOT EXISTS (SELECT 1 FROM mail_outbox m WHERE m.user_id = u.id AND m.kind = 'confirm' AND m.created_at = t.created_at)`,
  },
  {
    rule: 'disabled-user-with-live-session',
    description: 'a disabled user still has a live (unrevoked, unexpired) session',
    ids: sql`SELECT DISTINCT u.id::text AS id FROM users u JOIN refresh_tokens t ON t.user_id = u.id
      WHERE u.status = 'disabled' AND ${live}`,
  },
  {
    rule: 'session-without-user',
    description: 'a session belongs to no user (a deleted user left a session behind)',
    ids: sql`SELECT t.id::text AS id FROM refresh_tokens t LEFT JOIN users u ON u.id = t.user_id WHERE u.id IS NULL`,
  },
  {
    rule: 'identity-without-user',
    description: 'an identity belongs to no user (a deleted user left an identity behind)',
    ids: sql`SELECT i.id::text AS id FROM user_identities i LEFT JOIN users u ON u.id = i.user_id WHERE u.id IS NULL`,
  },
  {
    rule: 'pending-user-with-session',
    description: 'a pending (unconfirmed) user has a session',
    ids: sql`SELECT DISTINCT u.id::text AS id FROM users u JOIN refresh_tokens t ON t.user_id = u.id
      WHERE u.status = 'pending'`,
  },
  {
    rule: 'disabled-at-mismatch',
    description: 'disabled_at is set on a user that is not disabled, or missing on one that is',
    ids: sql`SELECT id::text AS id FROM users WHERE (status = 'disabled') <> (disabled_at IS NOT NULL)`,
  },
  {
    rule: 'disabled-user-without-audit-event',
    description: 'a disabled user has no successful disable event from the moment it was disabled',
    // A user imported disabled (src/users/import.ts) was disabled elsewhere, before the import run
    // that brought it (one 'users.imported' event per run, written after its users).
    ids: sql`SELECT u.id::text AS id FROM users u WHERE u.status = 'disabled' AND NOT EXISTS (
      SELECT 1 FROM audit_events e WHERE e.user_id = u.id AND e.outcome = 'success'
        AND e.action IN (${disabling}) AND e.at = u.disabled_at)
      AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.action = 'users.imported' AND e.outcome = 'success'
        AND e.at >= u.disabled_at)`,
  },
  {
    rule: 'revoked-session-without-audit-event',
    description: 'a session revoked by an admin action (user_disabled, admin_revoked) has no successful event of that action',
    ids: sql`SELECT t.id::text AS id FROM refresh_tokens t
      WHERE t.revoke_reason IN ('user_disabled', 'admin_revoked') AND NOT EXISTS (
        SELECT 1 FROM audit_events e WHERE e.user_id = t.user_id AND e.outcome = 'success' AND e.at = t.revoked_at
          AND ((t.revoke_reason = 'user_disabled' AND e.action IN (${disabling}))
            OR (t.revoke_reason = 'admin_revoked' AND e.action IN (${revoking}))))`,
  },
  {
    rule: 'revoked-count-mismatch',
    description: "the sessions a disable or revoke event says it revoked are not the user's sessions revoked by it",
    // Summed per (user, instant, reason): two actions on one user within a millisecond share an instant.
    ids: sql`WITH claimed AS (
        SELECT e.user_id, e.at,
          CASE WHEN e.action IN (${disabling}) THEN 'user_disabled' ELSE 'admin_revoked' END AS reason,
          sum((e.details->>'revokedSessionCount')::int) AS n
        FROM audit_events e
        WHERE e.outcome = 'success' AND e.action IN (${disabling}, ${revoking})
          AND e.details->>'revokedSessionCount' IS NOT NULL
          AND EXISTS (SELECT 1 FROM users u WHERE u.id = e.user_id)
        GROUP BY 1, 2, 3),
      revoked AS (
        SELECT user_id, revoked_at AS at, revoke_reason AS reason, count(*) AS n FROM refresh_tokens
        WHERE revoke_reason IN ('user_disabled', 'admin_revoked') GROUP BY 1, 2, 3)
      SELECT DISTINCT c.user_id::text AS id FROM claimed c
        LEFT JOIN revoked r ON r.user_id = c.user_id AND r.at = c.at AND r.reason = c.reason
      WHERE coalesce(r.n, 0) <> c.n`,
  },
  {
    rule: 'deleted-user-still-present',
    description: 'a user with a successful delete event still exists',
    ids: sql`SELECT DISTINCT u.id::text AS id FROM users u JOIN audit_events e ON e.user_id = u.id
      WHERE e.outcome = 'success' AND e.action IN (${deleting})`,
  },
  {
    rule: 'vanished-user-without-delete-event',
    description: 'a user the audit trail shows existing (a successful event about it) is gone without a successful delete event',
    ids: sql`SELECT DISTINCT e.user_id::text AS id FROM audit_events e
      WHERE e.outcome = 'success' AND e.user_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = e.user_id)
        AND NOT EXISTS (SELECT 1 FROM audit_events d
          WHERE d.user_id = e.user_id AND d.outcome = 'success' AND d.action IN (${deleting}))`,
  },
  {
    rule: 'committed-action-without-webhook-event',
    description:
      'a successful action (audit event) since the webhook outbox was installed has no webhook event naming it: a committed change that endpoints would never hear of',
    ids: sql`SELECT e.id::text AS id FROM audit_events e
      WHERE e.outcome = 'success' AND e.action IN (${eventful})
        AND e.at >= (SELECT m.at FROM gateway_milestones m WHERE m.name = 'webhook_outbox')
        AND NOT EXISTS (SELECT 1 FROM webhook_events w WHERE w.audit_event_id = e.id)`,
  },
];

/**
 * Checks the invariants the admin actions keep, whatever fault interrupts them: no disabled or
 * deleted user has a live session, no session or identity without its user, no pending user with
 * a session, and every disable, revoke and delete has its audit event and vice versa. Read-only;
 * returns the broken rules, none when all hold. Run it against a quiet database: a change
 * committing between two of its statements can show up as a false alarm.
 */
export async function checkInvariants(db: Executor): Promise<Violation[]> {
  const violations: Violation[] = [];
  for (const { rule, description, ids } of rules) {
    const result = (await db.execute(
      sql`SELECT q.id, count(*) OVER () AS total FROM (${ids}) q ORDER BY q.id LIMIT 10`,
    )) as unknown as { rows: { id: string; total: number | string }[] };
    if (result.rows.length > 0) {
      violations.push({ rule, description, count: Number(result.rows[0]!.total), sample: result.rows.map((r) => r.id) });
    }
  }
  return violations;
}

export function describeViolations(violations: readonly Violation[]): string {
  if (violations.length === 0) return 'All invariants hold.';
  return violations
    .map((v) => `${v.rule}: ${v.count} (${v.description}); e.g. ${v.sample.join(', ')}`)
    .join('\n');
}
