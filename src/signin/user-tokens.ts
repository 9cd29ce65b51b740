// Every SQL statement on user_tokens: the single-use tokens mailed to users (email confirmation).
// Each function takes the database or a transaction (see db/client.ts).
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { userTokens, type UserTokenRow } from '../db/schema.js';
import { secondsFromNow } from '../db/time.js';

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
