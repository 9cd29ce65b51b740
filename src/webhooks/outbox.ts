// The transactional outbox: an action writes its webhook events with the same `tx` as its change,
// so a rolled-back action sends nothing and a committed one is never lost. The events are fanned
// out to the subscribed endpoints in the same statement; src/webhooks/worker.ts delivers them.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Actor } from '../audit/log.js';
import type { Executor } from '../db/client.js';
import { webhookDeliveries, webhookEndpoints, webhookEvents } from '../db/schema.js';

/** The events an endpoint may subscribe to (`webhook.test` is sent by sendTestWebhook only, to one endpoint). */
export const USER_EVENT_TYPES = [
  'user.created',
  'user.confirmed',
  'user.disabled',
  'user.enabled',
  'user.deleted',
  'user.sessions_revoked',
  'user.password_reset',
] as const;
export type UserEventType = (typeof USER_EVENT_TYPES)[number];
export const TEST_EVENT_TYPE = 'webhook.test';

/** Who acted, as an event's `data.actor` shows it: never a secret. */
export type EventActor =
  | { type: 'admin'; keyId: string; keyName: string }
  | { type: 'user'; userId: string | null }
  | { type: 'system'; name: string };

export function eventActorOf(actor: Actor): EventActor {
  if (actor.type === 'admin') return { type: 'admin', keyId: actor.keyId, keyName: actor.keyName };
  if (actor.type === 'user') return { type: 'user', userId: actor.userId };
  return { type: 'system', name: actor.name };
}

export interface UserEvent {
  type: UserEventType;
  userId: string;
  actor: Actor;
  /** The id of the action's audit event (written in the same transaction). */
  auditEventId: string | null;
  /** What the event adds to `userId`, `actor` and `auditEventId`: counts, the email, … */
  data?: Record<string, unknown>;
}

/** The body every endpoint receives, per the Standard Webhooks convention. */
export function eventBody(type: string, timestamp: Date, data: Record<string, unknown>) {
  return { type, timestamp: timestamp.toISOString(), data };
}

/**
 * Writes the events into the outbox in the caller's transaction, in one statement whatever their
 * number, with one delivery per endpoint that is enabled and subscribed to the event's type. Call
 * it after the user's row is locked or written, so the events of one user are numbered in the order
 * their transactions commit. Returns the events' ids (the `webhook-id` receivers see).
 */
export async function enqueueUserEvents(tx: Executor, events: readonly UserEvent[]): Promise<string[]> {
  if (events.length === 0) return [];
  const now = new Date();
  const rows = events.map((e) => {
    const id = randomUUID();
    const data = { ...e.data, userId: e.userId, actor: eventActorOf(e.actor), auditEventId: e.auditEventId };
    return { id, type: e.type, user_id: e.userId, audit_event_id: e.auditEventId, payload: eventBody(e.type, now, data) };
  });
  // The rows travel as one JSON parameter: a VALUES list of a bulk action's slice (USERS_PER_SLICE,
  // src/users/plans.ts) would need a parameter per column and event.
  await tx.execute(sql`
    WITH ev AS (
      INSERT INTO ${webhookEvents} (id, type, user_id, audit_event_id, payload)
      SELECT e.id, e.type, e.user_id, e.audit_event_id, e.payload
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS e(id uuid, type text, user_id text, audit_event_id uuid, payload jsonb)
      RETURNING id, seq, type, user_id
    )
    INSERT INTO ${webhookDeliveries} (event_id, endpoint_id, event_seq, user_id)
    SELECT ev.id, w.id, ev.seq, ev.user_id
    FROM ev JOIN ${webhookEndpoints} w ON w.enabled AND ev.type = ANY (w.events)`);
  return rows.map((r) => r.id);
}

/** One event: see enqueueUserEvents. The function other actions call (password reset, imports, …). */
export async function enqueueUserEvent(tx: Executor, event: UserEvent): Promise<string> {
  const [id] = await enqueueUserEvents(tx, [event]);
  return id!;
}
