import { createHash, randomBytes } from 'node:crypto';
import { and, count, eq, isNull, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { adminKeys, type AdminKeyRow, type AdminRole } from '../db/schema.js';

const SECRET_PREFIX = 'agk_';

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64url');
}

export async function createAdminKey(
  ex: Executor,
  input: { name: string; role: AdminRole; secret?: string },
): Promise<{ key: AdminKeyRow; secret: string }> {
  const secret = input.secret ?? generateSecret();
  const [key] = await ex
    .insert(adminKeys)
    .values({ name: input.name, role: input.role, secretHash: hashSecret(secret) })
    .returning();
  return { key: key!, secret };
}

/**
 * The key whose secret this is, if it exists and is not revoked. The lookup is by SHA-256 of the
 * secret through a unique index, so no comparison ever runs on the secret itself.
 */
export async function findActiveKeyBySecret(ex: Executor, secret: string): Promise<AdminKeyRow | null> {
  const [key] = await ex
    .select()
    .from(adminKeys)
    .where(and(eq(adminKeys.secretHash, hashSecret(secret)), isNull(adminKeys.revokedAt)));
  return key ?? null;
}

/** Records use at most once a minute per key, so reads do not each cost a write. */
export async function touchAdminKey(ex: Executor, key: AdminKeyRow): Promise<void> {
  if (key.lastUsedAt && Date.now() - key.lastUsedAt.getTime() < 60_000) return;
  await ex.update(adminKeys).set({ lastUsedAt: sql`now()` }).where(eq(adminKeys.id, key.id));
}

export async function countActiveAdminKeys(ex: Executor): Promise<number> {
  const [row] = await ex.select({ n: count() }).from(adminKeys).where(isNull(adminKeys.revokedAt));
  return row?.n ?? 0;
}

export type StartupKey =
  | { kind: 'configured' }
  | { kind: 'existing' }
  | { kind: 'generated'; secret: string };

/**
 * At start: the key given in ADMIN_API_KEY is made to exist (as an owner key); with none given and
 * no active key in the database, one is generated and its secret returned to be printed once.
 */
export async function ensureStartupKey(ex: Executor, configuredSecret: string | null): Promise<StartupKey> {
  if (configuredSecret) {
    const existing = await ex
      .select({ id: adminKeys.id, revokedAt: adminKeys.revokedAt })
      .from(adminKeys)
      .where(eq(adminKeys.secretHash, hashSecret(configuredSecret)));
    if (existing.length === 0) {
      await createAdminKey(ex, { name: 'ADMIN_API_KEY', role: 'owner', secret: configuredSecret });
    }
    return { kind: 'configured' };
  }
  if ((await countActiveAdminKeys(ex)) > 0) return { kind: 'existing' };
  const { secret } = await createAdminKey(ex, { name: 'first-start', role: 'owner' });
  return { kind: 'generated', secret };
}
