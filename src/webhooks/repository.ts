// All SQL on webhook_endpoints, webhook_events and webhook_deliveries (the outbox's insert is in outbox.ts).
import { and, desc, eq, lt, or, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import type { PageRequest } from '../db/keyset.js';
import {
  webhookDeliveries,
  webhookEndpoints,
  webhookEvents,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
} from '../db/schema.js';

export type DeliveryStatus = WebhookDeliveryRow['status'];

export async function insertEndpoint(
  ex: Executor,
  values: { url: string; description: string | null; events: string[]; secret: string },
): Promise<WebhookEndpointRow> {
  const [row] = await ex.insert(webhookEndpoints).values(values).returning();
  return row!;
}

export async function updateEndpoint(
  ex: Executor,
  id: string,
  values: Partial<Pick<WebhookEndpointRow, 'url' | 'description' | 'events' | 'enabled'>>,
): Promise<WebhookEndpointRow | null> {
  const [row] = await ex
    .update(webhookEndpoints)
    .set({ ...values, updatedAt: sql`now()` })
    .where(eq(webhookEndpoints.id, id))
    .returning();
  return row ?? null;
}

/** Deletes the endpoint and its deliveries (no foreign key does it: see webhookDeliveries in db/schema.ts). */
export async function deleteEndpoint(ex: Executor, id: string): Promise<WebhookEndpointRow | null> {
  const [row] = await ex.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).returning();
  if (row) await ex.delete(webhookDeliveries).where(eq(webhookDeliveries.endpointId, id));
  return row ?? null;
}

export async function findEndpoint(ex: Executor, id: string): Promise<WebhookEndpointRow | null> {
  const [row] = await ex.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  return row ?? null;
}

export async function listEndpoints(ex: Executor): Promise<WebhookEndpointRow[]> {
  return ex.select().from(webhookEndpoints).orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id));
}

export interface DeliveryWithEvent extends WebhookDeliveryRow {
  eventType: string;
  payload: Record<string, unknown>;
}

const deliveryColumns = { delivery: webhookDeliveries, eventType: webhookEvents.type, payload: webhookEvents.payload };
const flatten = (r: { delivery: WebhookDeliveryRow; eventType: string; payload: Record<string, unknown> }): DeliveryWithEvent => ({
  ...r.delivery,
  eventType: r.eventType,
  payload: r.payload,
});

/** A page of an endpoint's deliveries, newest first, optionally of one status. */
export async function listDeliveries(
  ex: Executor,
  filter: { endpointId: string; status?: DeliveryStatus | null },
  page: PageRequest,
): Promise<DeliveryWithEvent[]> {
  const d = webhookDeliveries;
  const rows = await ex
    .select(deliveryColumns)
    .from(d)
    .innerJoin(webhookEvents, eq(webhookEvents.id, d.eventId))
    .where(
      and(
        eq(d.endpointId, filter.endpointId),
        filter.status ? eq(d.status, filter.status) : undefined,
        page.after
          ? or(lt(d.createdAt, page.after.createdAt), and(eq(d.createdAt, page.after.createdAt), lt(d.id, page.after.id)))
          : undefined,
      ),
    )
    .orderBy(desc(d.createdAt), desc(d.id))
    .limit(page.first + 1);
  return rows.map(flatten);
}

export async function findDelivery(ex: Executor, id: string): Promise<DeliveryWithEvent | null> {
  const [row] = await ex
    .select(deliveryColumns)
    .from(webhookDeliveries)
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(eq(webhookDeliveries.id, id));
  return row ? flatten(row) : null;
}

/** Makes a delivery due again now, whatever its state; its attempts so far stay counted. */
export async function requeueDelivery(ex: Executor, id: string): Promise<boolean> {
  const rows = await ex
    .update(webhookDeliveries)
    .set({ status: 'pending', nextAttemptAt: sql`now()`, deliveredAt: null })
    .where(eq(webhookDeliveries.id, id))
    .returning({ id: webhookDeliveries.id });
  return rows.length > 0;
}

/** A `webhook.test` event with one delivery, to this endpoint only. */
export async function insertTestEvent(
  ex: Executor,
  endpointId: string,
  payload: Record<string, unknown>,
): Promise<string> {
  const [event] = await ex
    .insert(webhookEvents)
    .values({ type: payload.type as string, payload })
    .returning({ id: webhookEvents.id, seq: webhookEvents.seq });
  const [delivery] = await ex
    .insert(webhookDeliveries)
    .values({ eventId: event!.id, endpointId, eventSeq: event!.seq })
    .returning({ id: webhookDeliveries.id });
  return delivery!.id;
}

export interface ClaimedDelivery {
  id: string;
  eventId: string;
  attempts: number;
  url: string;
  secret: string;
  payload: Record<string, unknown>;
}

/**
 * Claims up to `limit` due deliveries for this instance: their due time moves to the end of a
 * lease, so no other instance takes them meanwhile (and one whose instance died is taken again
 * once the lease ends). FOR UPDATE SKIP LOCKED lets instances claim side by side without waiting.
 * A delivery waits while an earlier event of the same user is pending for the same endpoint, so
 * each endpoint gets a user's events in commit order.
 */
export async function claimDueDeliveries(ex: Executor, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const result = (await ex.execute(sql`
    WITH due AS (
      SELECT c.id FROM webhook_deliveries c
      JOIN webhook_endpoints w ON w.id = c.endpoint_id AND w.enabled
      WHERE c.status = 'pending' AND c.next_attempt_at <= now()
        AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries p
          WHERE p.endpoint_id = c.endpoint_id AND p.user_id = c.user_id AND p.status = 'pending' AND p.event_seq < c.event_seq)
      ORDER BY c.next_attempt_at, c.event_seq
      LIMIT ${limit}
      FOR UPDATE OF c SKIP LOCKED
    ), claimed AS (
      UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => ${leaseMs / 1000})
      FROM due WHERE d.id = due.id
      RETURNING d.id, d.event_id, d.endpoint_id, d.attempts, d.event_seq
    )
    SELECT claimed.id, claimed.event_id, claimed.attempts, w.url, w.secret, e.payload
    FROM claimed
    JOIN webhook_endpoints w ON w.id = claimed.endpoint_id
    JOIN webhook_events e ON e.id = claimed.event_id
    ORDER BY claimed.event_seq`)) as unknown as {
    rows: { id: string; event_id: string; attempts: number; url: string; secret: string; payload: Record<string, unknown> | string }[];
  };
  return result.rows.map((r) => ({
    id: r.id,
    eventId: r.event_id,
    attempts: Number(r.attempts),
    url: r.url,
    secret: r.secret,
    payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload,
  }));
}

export interface AttemptOutcome {
  status: DeliveryStatus;
  statusCode: number | null;
  error: string | null;
  /** When pending: the wait before the next attempt. */
  retryInMs: number;
}

/**
 * Records one attempt of each of these claimed deliveries, in one statement whatever their number
 * (so a batch's answers cost one round trip and one commit, not one each).
 */
export async function recordAttempts(ex: Executor, attempts: readonly (AttemptOutcome & { id: string })[]): Promise<void> {
  if (attempts.length === 0) return;
  const rows = attempts.map((a) => ({ id: a.id, status: a.status, status_code: a.statusCode, error: a.error, retry_ms: a.retryInMs }));
  await ex.execute(sql`
    UPDATE webhook_deliveries d SET
      attempts = d.attempts + 1,
      status = v.status,
      last_attempt_at = now(),
      last_status_code = v.status_code,
      last_error = v.error,
      delivered_at = CASE WHEN v.status = 'delivered' THEN now() ELSE NULL END,
      next_attempt_at = now() + v.retry_ms * interval '1 millisecond'
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      AS v(id uuid, status text, status_code int, error text, retry_ms int)
    WHERE d.id = v.id`);
}

/** Gives claimed deliveries back unattempted (the instance is stopping), due at once for any instance. */
export async function releaseClaims(ex: Executor, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await ex.execute(sql`
    UPDATE webhook_deliveries SET next_attempt_at = now()
    WHERE id IN (SELECT unnest(${`{${ids.join(',')}}`}::uuid[])) AND status = 'pending'`);
}

/** Seconds since the oldest pending delivery's event was written; 0 when none is pending. */
export async function oldestPendingAgeSeconds(ex: Executor): Promise<number> {
  const result = (await ex.execute(sql`
    SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(d.created_at)), 0) AS age
    FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
    WHERE d.status = 'pending'`)) as unknown as { rows: { age: string | number }[] };
  return Number(result.rows[0]?.age ?? 0);
}
