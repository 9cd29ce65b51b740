import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { pageRequest, toPage, type Page } from '../db/keyset.js';
import { userIdOrNull } from '../users/rules.js';
import { auditEvents, type AuditEventRow } from '../db/schema.js';
import { InvalidInputError } from '../errors.js';

export interface AuditFilter {
  userId?: string | null;
  action?: string | null;
}

export const ACTION_MAX_LENGTH = 64;

/**
 * A page of the audit trail, newest first (ties broken by id), optionally about one user and of one
 * action. Keyset-paginated over (at, id): each filter has an index that serves it.
 */
export async function findAuditEvents(
  ex: Executor,
  filter: AuditFilter,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<Page<AuditEventRow>> {
  const page = pageRequest(first, after);
  const conditions: SQL[] = [];
  if (filter.userId != null) {
    const userId = userIdOrNull(filter.userId);
    if (userId === null) throw new InvalidInputError('userId', `"${filter.userId.slice(0, 64)}" is not a valid user id.`);
    conditions.push(eq(auditEvents.userId, userId));
  }
  if (filter.action != null) {
    if (filter.action.length === 0 || filter.action.length > ACTION_MAX_LENGTH) {
      throw new InvalidInputError('action', `"action" must be 1 to ${ACTION_MAX_LENGTH} characters, such as "disableUser".`);
    }
    conditions.push(eq(auditEvents.action, filter.action));
  }
  if (page.after) {
    const { createdAt: at, id } = page.after;
    conditions.push(sql`(${auditEvents.at}, ${auditEvents.id}) < (${at.toISOString()}::timestamptz, ${id}::uuid)`);
  }
  const rows = await ex
    .select()
    .from(auditEvents)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(auditEvents.at), desc(auditEvents.id))
    .limit(page.first + 1);
  return toPage(rows, page.first);
}
