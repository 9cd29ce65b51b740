// The shape of a user id, for every part that stores or matches one (users, sessions, audit,
// linked data): opaque text the gateway never rewrites.
import { sql } from 'drizzle-orm';
import { UUID_PATTERN } from './keyset.js';

/** 1–128 characters of [A-Za-z0-9_-]: Atlas ObjectIds, Firebase uids, Supabase and our older UUIDs, our ObjectIds. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The id as stored, or null when it is not one: a UUID is lower-cased (as ids were always printed
 * and matched, in any letter case); any other id is kept exactly (Firebase uids are case-sensitive).
 */
export function userIdOrNull(id: string): string | null {
  if (!USER_ID_PATTERN.test(id)) return null;
  return UUID_PATTERN.test(id) ? id.toLowerCase() : id;
}

/**
 * A text[] parameter of user ids: one bound value, however many ids. Each element is quoted, so an
 * id such as "NULL" stays an id (checked ids hold no quote, comma or backslash).
 */
export const userIdArray = (ids: readonly string[]) => sql`${sql.param(`{${ids.map((id) => `"${id}"`).join(',')}}`)}::text[]`;
