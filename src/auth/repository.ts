// The SQL of the sign-in API. Each function takes the database or a transaction (see db/client.ts).
import { and, eq, gt, isNull, sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { liveSession } from '../sessions/live.js';
import {
  gatewaySecrets,
  refreshTokens,
  userIdentities,
  users,
  userTokens,
  type RefreshTokenRow,
  type RevokeReason,
  type UserRow,
  type UserStatus,
  type UserTokenRow,
} from '../db/schema.js';

const secondsFromNow = (seconds: number) => sql`now() + make_interval(secs => ${seconds})`;

export async function insertGatewaySecretUnlessExists(ex: Executor, name: string, value: string): Promise<void> {
  await ex.insert(gatewaySecrets).values({ name, value }).onConflictDoNothing();
}

export async function findGatewaySecret(ex: Executor, name: string): Promise<string | null> {
  const [row] = await ex.select({ value: gatewaySecrets.value }).from(gatewaySecrets).where(eq(gatewaySecrets.name, name));
  return row?.value ?? null;
}

/** The identity a login names, through user_identities_provider_key. */
export async function findIdentity(
  ex: Executor,
  providerType: string,
  providerId: string | SQL,
): Promise<{ userId: string; passwordHash: string | null } | null> {
  const [row] = await ex
    .select({ userId: userIdentities.userId, passwordHash: userIdentities.passwordHash })
    .from(userIdentities)
    .where(and(eq(userIdentities.providerType, providerType), eq(userIdentities.providerId, providerId)));
  return row ?? null;
}

/** Through users_email_lower_key. */
export async function findUserByEmail(ex: Executor, email: string): Promise<UserRow | null> {
  const [row] = await ex
    .select()
    .from(users)
    .where(sql`lower(${users.email}) = lower(${email})`);
  return row ?? null;
}

/**
 * Reads the user and holds a share lock on its row until the transaction ends: refreshes of one
 * user run side by side, but never alongside a disable, delete or revoke (those lock FOR UPDATE).
 */
export async function lockUserForShare(ex: Executor, id: string): Promise<UserRow | null> {
  const [row] = await ex.select().from(users).where(eq(users.id, id)).for('share');
  return row ?? null;
}

export async function recordAuthentication(ex: Executor, userId: string): Promise<UserRow> {
  const [row] = await ex
    .update(users)
    .set({ lastAuthenticatedAt: sql`now()` })
    .where(eq(users.id, userId))
    .returning();
  return row!;
}

export async function setUserStatusIfPending(ex: Executor, id: string, status: UserStatus): Promise<UserRow | null> {
  const [row] = await ex
    .update(users)
    .set({ status })
    .where(and(eq(users.id, id), eq(users.status, 'pending')))
    .returning();
  return row ?? null;
}

export async function insertSession(
  ex: Executor,
  values: { userId: string; tokenHash: Buffer; deviceId: string; ttlSeconds: number },
): Promise<RefreshTokenRow> {
  const [row] = await ex
    .insert(refreshTokens)
    .values({
      userId: values.userId,
      tokenHash: values.tokenHash,
      deviceId: values.deviceId,
      expiresAt: secondsFromNow(values.ttlSeconds),
    })
    .returning();
  return row!;
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

export async function insertUserToken(
  ex: Executor,
  values: { userId: string; purpose: UserTokenRow['purpose']; tokenHash: Buffer; ttlSeconds: number },
): Promise<UserTokenRow> {
  const [row] = await ex
    .insert(userTokens)
    .values({
      userId: values.userId,
      purpose: values.purpose,
      tokenHash: values.tokenHash,
      expiresAt: secondsFromNow(values.ttlSeconds),
    })
    .returning();
  return row!;
}

/** Uses up a single-use token if it matches, is unused and unexpired; returns its user's id. */
export async function consumeUserToken(
  ex: Executor,
  token: { id: string; tokenHash: Buffer; purpose: UserTokenRow['purpose'] },
): Promise<string | null> {
  const [row] = await ex
    .update(userTokens)
    .set({ usedAt: sql`now()` })
    .where(
      and(
        eq(userTokens.id, token.id),
        eq(userTokens.tokenHash, token.tokenHash),
        eq(userTokens.purpose, token.purpose),
        isNull(userTokens.usedAt),
        gt(userTokens.expiresAt, sql`now()`),
      ),
    )
    .returning({ userId: userTokens.userId });
  return row?.userId ?? null;
}

/** Marks every outstanding token of a user and purpose as used, once it has no purpose left. */
export async function retireUserTokens(ex: Executor, userId: string, purpose: UserTokenRow['purpose']): Promise<void> {
  await ex
    .update(userTokens)
    .set({ usedAt: sql`now()` })
    .where(and(eq(userTokens.userId, userId), eq(userTokens.purpose, purpose), isNull(userTokens.usedAt)));
}
