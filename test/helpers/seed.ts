import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database } from '../../src/db/client.js';
import { refreshTokens, userIdentities, users, type UserStatus } from '../../src/db/schema.js';

export interface SeededUser {
  id: string;
  email: string | null;
  status: UserStatus;
  createdAt: Date;
}

/**
 * Inserts users straight into the tables (no password hashing, so hundreds take milliseconds),
 * each with an email/password identity. createdAt goes back one second per user unless given.
 */
export async function seedUsers(
  db: Database,
  count: number,
  options: { status?: UserStatus; emailPrefix?: string; createdAt?: (i: number) => Date } = {},
): Promise<SeededUser[]> {
  const base = Date.now();
  const tag = randomBytes(3).toString('hex');
  const rows = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    email: `${options.emailPrefix ?? 'user'}${i}.${tag}@example.com`,
    status: options.status ?? ('confirmed' as UserStatus),
    createdAt: options.createdAt?.(i) ?? new Date(base - (i + 1) * 1000),
    disabledAt: options.status === 'disabled' ? new Date(base) : null,
  }));
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000);
    await db.insert(users).values(chunk);
    await db.insert(userIdentities).values(
      chunk.map((u) => ({ userId: u.id, providerType: 'local-userpass', providerId: u.email.toLowerCase() })),
    );
  }
  return rows.map(({ id, email, status, createdAt }) => ({ id, email, status, createdAt }));
}

/** Gives a user sessions: `live` working ones, plus optionally revoked and expired ones. */
export async function seedSessions(
  db: Database,
  userId: string,
  counts: { live: number; revoked?: number; expired?: number },
): Promise<string[]> {
  const now = Date.now();
  const make = (kind: 'live' | 'revoked' | 'expired', i: number) => ({
    userId,
    tokenHash: createHash('sha256').update(randomBytes(32)).digest(),
    deviceId: `device-${kind}-${i}`,
    createdAt: new Date(now - i * 1000),
    expiresAt: new Date(kind === 'expired' ? now - 1000 : now + 86_400_000),
    revokedAt: kind === 'revoked' ? new Date(now) : null,
    revokeReason: kind === 'revoked' ? ('logout' as const) : null,
  });
  const values = [
    ...Array.from({ length: counts.live }, (_, i) => make('live', i)),
    ...Array.from({ length: counts.revoked ?? 0 }, (_, i) => make('revoked', i)),
    ...Array.from({ length: counts.expired ?? 0 }, (_, i) => make('expired', i)),
  ];
  if (values.length === 0) return [];
  const rows = await db.insert(refreshTokens).values(values).returning({ id: refreshTokens.id });
  return rows.map((r) => r.id);
}

export async function liveSessionCount(db: Database, userId: string): Promise<number> {
  const result = (await db.execute(
    sql`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = ${userId} AND revoked_at IS NULL AND expires_at > now()`,
  )) as unknown as { rows: { n: number }[] };
  return result.rows[0]!.n;
}
