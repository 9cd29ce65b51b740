import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database, Executor, Transaction } from '../db/client.js';
import { userIdOrNull } from '../db/user-ids.js';
import { auditEvents } from '../db/schema.js';
import { AppError } from '../errors.js';

/** Who is acting: an operator's admin key, an app user through the client API, or the gateway itself. */
export type Actor =
  | { type: 'admin'; keyId: string; keyName: string; requestId?: string | null }
  | { type: 'user'; userId: string | null; requestId?: string | null }
  | { type: 'system'; name: string; requestId?: string | null };

export interface AuditEntry {
  /** The event's id, when the caller needs it before the event is written (a webhook event names it); else a new one. */
  id?: string;
  action: string;
  outcome: 'success' | 'refused' | 'failed';
  /** The user the action is about; kept even after that user is deleted. */
  userId?: string | null;
  details?: Record<string, unknown> | null;
}

// PostgreSQL's text and jsonb cannot hold the NUL character, and details often quote what a client
// sent: a NUL there must not turn a refusal into a failed insert.
function storable(details: Record<string, unknown>): Record<string, unknown> {
  const json = JSON.stringify(details);
  return json.includes('\\u0000') ? JSON.parse(json.replaceAll('\\u0000', '\\ufffd')) : details;
}

/** The columns an event takes from its actor. */
function actorColumns(actor: Actor) {
  return {
    actorKeyId: actor.type === 'admin' ? actor.keyId : null,
    actorName: actor.type === 'admin' ? actor.keyName : actor.type === 'system' ? actor.name : null,
    requestId: actor.requestId ?? null,
  };
}

/** The columns an event takes from its entry (its own id, or a new one). */
function entryColumns(entry: AuditEntry) {
  return {
    id: entry.id ?? randomUUID(),
    action: entry.action,
    outcome: entry.outcome,
    userId: entry.userId ? userIdOrNull(entry.userId) : null,
    details: entry.details ? storable(entry.details) : null,
  };
}

function auditRow(actor: Actor, entry: AuditEntry) {
  return { ...entryColumns(entry), ...actorColumns(actor) };
}

/** Writes one event; returns its id. */
export async function recordAuditEvent(ex: Executor, actor: Actor, entry: AuditEntry): Promise<string> {
  const row = auditRow(actor, entry);
  await ex.insert(auditEvents).values(row);
  return row.id;
}

/**
 * Many events of one actor in one statement, in the caller's transaction: the rows travel as a
 * single JSON parameter, since a VALUES list of 10,000 events would pass the 65,535 parameters a
 * statement may have, and what the events share (the actor, the request) travels once. A caller
 * with many events writes them a slice at a time (bulk.ts, USERS_PER_SLICE), calling this once per
 * slice; the transaction makes the slices all or nothing, so the events are never half written.
 */
export async function recordAuditEvents(tx: Transaction, actor: Actor, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const shared = actorColumns(actor);
  await tx.execute(sql`
    INSERT INTO ${auditEvents} (id, action, outcome, user_id, actor_key_id, actor_name, request_id, details)
    SELECT e.id, e.action, e.outcome, e."userId", ${shared.actorKeyId}::uuid, ${shared.actorName}::text, ${shared.requestId}::text, e.details
    FROM jsonb_to_recordset(${JSON.stringify(entries.map(entryColumns))}::jsonb) AS e(id uuid, action text, outcome text, "userId" text, details jsonb)`);
}

/**
 * Runs one state change as one transaction together with its "success" audit event. An expected
 * refusal (an AppError) rolls the change back whole and is recorded as "refused" on its own, so a
 * failed or rolled-back action never leaves a success behind. The change is told the id its success
 * event will have (a webhook event written in the same transaction names it).
 */
export async function audited<T>(
  db: Database,
  actor: Actor,
  action: { action: string; userId?: string | null },
  change: (tx: Executor, audit: { auditEventId: string }) => Promise<T>,
  describe: (result: T) => Pick<AuditEntry, 'userId' | 'details'> = () => ({}),
): Promise<T> {
  try {
    return await db.transaction(async (tx) => {
      const auditEventId = randomUUID();
      const result = await change(tx, { auditEventId });
      await recordAuditEvent(tx, actor, { ...action, ...describe(result), id: auditEventId, outcome: 'success' });
      return result;
    });
  } catch (err) {
    if (err instanceof AppError) {
      await recordAuditEvent(db, actor, {
        ...action,
        outcome: 'refused',
        details: { code: err.code, message: err.message },
      });
    }
    throw err;
  }
}
