// What makes a session live, in one place: its refresh token is neither revoked nor expired.
// Every query that reads, counts, uses or revokes live sessions takes its condition from here, and
// the token check asks the same question of a session already read.
import { and, gt, isNull, sql, type Column, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { refreshTokens } from '../db/schema.js';

/** refresh_tokens as `t`, for SQL written out with that alias (subqueries, lateral joins, checks). */
export const sessionsAsT = alias(refreshTokens, 't');

/**
 * The condition "this session is live" on `refresh_tokens`, or on the alias given: the columns are
 * qualified, so it reads the same in a subquery as in an UPDATE. refresh_tokens_live_user_idx and
 * refresh_tokens_live_user_hash are partial on `revoked_at IS NULL`, which this condition implies.
 */
export function liveSession(sessions: { revokedAt: Column; expiresAt: Column } = refreshTokens): SQL {
  return and(isNull(sessions.revokedAt), gt(sessions.expiresAt, sql`now()`))!;
}

/** The same rule for a session already read: why it is not live, or null when it is. */
export function whyNotLive(session: { revokedAt: Date | null; expiresAt: Date }, now = Date.now()): 'revoked' | 'expired' | null {
  if (session.revokedAt) return 'revoked';
  if (session.expiresAt.getTime() <= now) return 'expired';
  return null;
}
