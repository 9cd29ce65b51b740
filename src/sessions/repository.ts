// Every SQL statement on refresh_tokens (one row per session): the admin actions' reads and
// revocations, and the sign-in API's logins, refreshes, logouts and token checks.
import { and, count, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import type { PageRequest } from '../db/keyset.js';
import { refreshTokens, users, type RefreshTokenRow, type RevokeReason, type UserStatus } from '../db/schema.js';
import { secondsFromNow } from '../db/time.js';
import { userIdArray } from '../db/user-ids.js';
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
 * join runs the per-user keyset query, through refresh_tokens_live_user_hash and a sort of the
 * user's live sessions (a user has few) or through refresh_tokens_live_user_idx in order, as the
 * planner finds cheaper.
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
    SELECT t.id, t.user_id, t.device_id, t.sdk, t.sdk_version, t.platform, t.platform_version, t.device_name,
      t.app_version, t.created_at, t.expires_at, t.last_used_at
    FROM unnest(${userIdArray(userIds)}) AS u(id)
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
      sdk: (r.sdk as string | null) ?? null,
      sdkVersion: (r.sdk_version as string | null) ?? null,
      platform: (r.platform as string | null) ?? null,
      platformVersion: (r.platform_version as string | null) ?? null,
      deviceName: (r.device_name as string | null) ?? null,
      appVersion: (r.app_version as string | null) ?? null,
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
      WHERE user_id = ANY(${userIdArray(userIds)}) AND ${liveSession()}
      RETURNING user_id
    )
    SELECT user_id, count(*)::int AS n FROM revoked GROUP BY user_id`)) as unknown as {
    rows: { user_id: string; n: number }[];
  };
  return new Map(result.rows.map((r) => [r.user_id, Number(r.n)]));
}

export async function insertSession(
  ex: Executor,
  values: { userId: string; tokenHash: Buffer; deviceId: string; device?: Partial<ReportedDeviceColumns>; ttlSeconds: number },
): Promise<RefreshTokenRow> {
  const [row] = await ex
    .insert(refreshTokens)
    .values({
      ...values.device,
      userId: values.userId,
      tokenHash: values.tokenHash,
      deviceId: values.deviceId,
      expiresAt: secondsFromNow(values.ttlSeconds),
    })
    .returning();
  return row!;
}

/** The columns of what the client reported about itself at login (src/signin/device.ts). */
export type ReportedDeviceColumns = Pick<
  RefreshTokenRow,
  'sdk' | 'sdkVersion' | 'platform' | 'platformVersion' | 'deviceName' | 'appVersion'
>;

/** Whose session this is (by its id), whatever its state; null when there is no such session. */
export async function findSessionUserId(ex: Executor, sessionId: string): Promise<string | null> {
  const [row] = await ex
    .select({ userId: refreshTokens.userId })
    .from(refreshTokens)
    .where(eq(refreshTokens.id, sessionId));
  return row?.userId ?? null;
}

/**
 * Revokes one session of one user by its id, if it is live; returns it as revoked, or null when it
 * is unknown, not that user's, already revoked or expired. The trigger on refresh_tokens publishes
 * the change (`u:<user id>`) to every instance's session cache in the same transaction.
 */
export async function revokeLiveSessionById(
  ex: Executor,
  userId: string,
  sessionId: string,
  reason: RevokeReason,
): Promise<RefreshTokenRow | null> {
  const [row] = await ex
    .update(refreshTokens)
    .set({ revokedAt: sql`now()`, revokeReason: reason })
    .where(and(eq(refreshTokens.id, sessionId), eq(refreshTokens.userId, userId), liveSession()))
    .returning();
  return row ?? null;
}

/** Whose refresh token this is, whatever its state; through refresh_tokens_token_hash_key. */
export async function findSessionOwner(ex: Executor, tokenHash: Buffer): Promise<string | null> {
  const [row] = await ex
    .select({ userId: refreshTokens.userId })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, tokenHash));
  return row?.userId ?? null;
}

/**
 * The one conditional statement a refresh rests on: it marks the session used only while it is
 * live, so a session revoked by a transaction that committed first is never used again.
 */
export async function useLiveSession(ex: Executor, tokenHash: Buffer): Promise<RefreshTokenRow | null> {
  const [row] = await ex
    .update(refreshTokens)
    .set({ lastUsedAt: sql`now()` })
    .where(and(eq(refreshTokens.tokenHash, tokenHash), liveSession()))
    .returning();
  return row ?? null;
}

/** Revokes one session by its token, if it is not revoked yet. */
export async function revokeSessionByToken(
  ex: Executor,
  tokenHash: Buffer,
  reason: RevokeReason,
): Promise<{ id: string; userId: string } | null> {
  const [row] = await ex
    .update(refreshTokens)
    .set({ revokedAt: sql`now()`, revokeReason: reason })
    .where(and(eq(refreshTokens.tokenHash, tokenHash), isNull(refreshTokens.revokedAt)))
    .returning({ id: refreshTokens.id, userId: refreshTokens.userId });
  return row ?? null;
}

export interface SessionRowState {
  userId: string;
  userStatus: UserStatus;
  revokedAt: Date | null;
  expiresAt: Date;
}

/** The state an access token depends on, in one primary-key lookup and join. */
export async function findSessionState(ex: Executor, sessionId: string): Promise<SessionRowState | null> {
  const [row] = await ex
    .select({
      userId: refreshTokens.userId,
      userStatus: users.status,
      revokedAt: refreshTokens.revokedAt,
      expiresAt: refreshTokens.expiresAt,
    })
    .from(refreshTokens)
    .innerJoin(users, eq(users.id, refreshTokens.userId))
    .where(eq(refreshTokens.id, sessionId));
  return row ?? null;
}
