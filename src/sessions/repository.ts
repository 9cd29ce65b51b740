import { and, count, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import type { PageRequest } from '../db/keyset.js';
import { refreshTokens, type RefreshTokenRow, type RevokeReason } from '../db/schema.js';
import { liveSession, sessionsAsT } from './live.js';

/** Live-session counts for many users in one statement; users without sessions are absent. */
export async function countLiveSessionsByUser(
  ex: Executor,
  userIds: readonly string[],
): Promise<Map<string, number>> {
  const rows = await ex
    .select({ userId: refreshTokens.userId, n: count() })
    .from(refreshTokens)
    .where(and(inArray(refreshTokens.userId, [...userIds]), liveSession()))
    .groupBy(refreshTokens.userId);
  return new Map(rows.map((r) => [r.userId, r.n]));
}

/**
 * One page of live sessions, newest first, for each of many users, in one statement: a lateral
 * join runs the per-user keyset query against refresh_tokens_live_user_idx.
 */
export async function liveSessionPagesByUser(
  ex: Executor,
  userIds: readonly string[],
  page: PageRequest,
): Promise<Map<string, RefreshTokenRow[]>> {
  const after = page.after
    ? sql`AND (t.created_at, t.id) < (${page.after.createdAt.toISOString()}::timestamptz, ${page.after.id}::uuid)`
    : sql``;
  const result = (await ex.execute(sql`
    SELECT t.id, t.user_id, t.device_id, t.created_at, t.expires_at, t.last_used_at
    FROM unnest(${sql.param(`{${userIds.join(',')}}`)}::uuid[]) AS u(id)
    CROSS JOIN LATERAL (
      SELECT * FROM refresh_tokens t
      WHERE t.user_id = u.id AND ${liveSession(sessionsAsT)} ${after}
      ORDER BY t.created_at DESC, t.id DESC
      LIMIT ${page.first + 1}
    ) t`)) as unknown as { rows: Record<string, unknown>[] };
  const byUser = new Map<string, RefreshTokenRow[]>();
  for (const r of result.rows) {
    const row: RefreshTokenRow = {
      id: r.id as string,
      userId: r.user_id as string,
      tokenHash: Buffer.alloc(0),
      deviceId: (r.device_id as string | null) ?? null,
      createdAt: new Date(r.created_at as string),
      expiresAt: new Date(r.expires_at as string),
      lastUsedAt: r.last_used_at == null ? null : new Date(r.last_used_at as string),
      revokedAt: null,
      revokeReason: null,
    };
    const list = byUser.get(row.userId) ?? [];
    list.push(row);
    byUser.set(row.userId, list);
  }
  return byUser;
}

/**
 * Revokes every live session of the users in one statement; returns how many each user had
 * (users without live sessions are absent). One user is `revokeLiveSessions(ex, [id], reason)`.
 */
export async function revokeLiveSessions(
  ex: Executor,
  userIds: readonly string[],
  reason: RevokeReason,
): Promise<Map<string, number>> {
  if (userIds.length === 0) return new Map();
  const result = (await ex.execute(sql`
    WITH revoked AS (
      UPDATE ${refreshTokens} SET revoked_at = now(), revoke_reason = ${reason}
      WHERE user_id = ANY(${sql.param(`{${userIds.join(',')}}`)}::uuid[]) AND ${liveSession()}
      RETURNING user_id
    )
    SELECT user_id, count(*)::int AS n FROM revoked GROUP BY user_id`)) as unknown as {
    rows: { user_id: string; n: number }[];
  };
  return new Map(result.rows.map((r) => [r.user_id, Number(r.n)]));
}
