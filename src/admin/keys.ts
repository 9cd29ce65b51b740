import { randomBytes, timingSafeEqual } from 'node:crypto';
import { and, count, desc, eq, isNull, sql } from 'drizzle-orm';
import { audited, type Actor } from '../audit/log.js';
import type { Database, Executor } from '../db/client.js';
import { UUID_PATTERN } from '../db/keyset.js';
import { adminKeys, adminRoles, type AdminKeyRow, type AdminRole } from '../db/schema.js';
import { AdminKeyNotFoundError, InvalidInputError, LastOwnerKeyError } from '../errors.js';
import { sha256 } from '../sha256.js';

const SECRET_PREFIX = 'agk_';

export function hashSecret(secret: string): Buffer {
  return sha256(secret);
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
 * secret through a unique index, so no comparison ever runs on the secret itself; the found hash is
 * compared once more in constant time.
 */
export async function findActiveKeyBySecret(ex: Executor, secret: string): Promise<AdminKeyRow | null> {
  const hash = hashSecret(secret);
  const [key] = await ex
    .select()
    .from(adminKeys)
    .where(and(eq(adminKeys.secretHash, hash), isNull(adminKeys.revokedAt)));
  if (!key || key.secretHash.length !== hash.length || !timingSafeEqual(key.secretHash, hash)) return null;
  return key;
}

export const KEY_NAME_MAX_LENGTH = 100;

/** A key's name: 1 to 100 printable characters, trimmed. */
export function checkKeyName(name: string): string {
  const trimmed = name.trim();
  // eslint-disable-next-line no-control-regex
  if (trimmed.length === 0 || trimmed.length > KEY_NAME_MAX_LENGTH || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new InvalidInputError('name', `A key's name must be 1 to ${KEY_NAME_MAX_LENGTH} printable characters.`);
  }
  return trimmed;
}

export function checkRole(role: string, field = 'role'): AdminRole {
  if (!(adminRoles as readonly string[]).includes(role)) {
    throw new InvalidInputError(field, `The role must be one of ${adminRoles.join(', ')}; got "${role.slice(0, 32)}".`);
  }
  return role as AdminRole;
}

const describeKey = (key: AdminKeyRow) => ({ details: { keyId: key.id, name: key.name, role: key.role } });

/** Creates a key and returns its secret, the only time it is ever available; audited as createAdminKey. */
export async function issueAdminKey(
  db: Database,
  actor: Actor,
  input: { name: string; role: AdminRole },
): Promise<{ key: AdminKeyRow; secret: string }> {
  const name = checkKeyName(input.name);
  const role = checkRole(input.role);
  return audited(
    db,
    actor,
    { action: 'createAdminKey' },
    (tx) => createAdminKey(tx, { name, role }),
    ({ key }) => describeKey(key),
  );
}

/**
 * Revokes a key: from now on a request with it is answered 401. Revoking a revoked key changes
 * nothing and succeeds. The last active owner key cannot be revoked (LastOwnerKeyError): the
 * active owner keys are locked first, in id order, so of two revocations racing for the last two
 * owner keys the second sees the first's commit and is refused. Audited as revokeAdminKey.
 */
export async function revokeAdminKey(db: Database, actor: Actor, id: string): Promise<AdminKeyRow> {
  if (!UUID_PATTERN.test(id)) throw new InvalidInputError('id', `"${id.slice(0, 64)}" is not a valid admin key id.`);
  return audited(
    db,
    actor,
    { action: 'revokeAdminKey' },
    async (tx) => {
      // Locked before the key itself, always in the same order, so two revocations queue here
      // instead of deadlocking; a key revoked meanwhile drops out of the set once its lock is free.
      const owners = await tx
        .select({ id: adminKeys.id })
        .from(adminKeys)
        .where(and(eq(adminKeys.role, 'owner'), isNull(adminKeys.revokedAt)))
        .orderBy(adminKeys.id)
        .for('update');
      const [key] = await tx.select().from(adminKeys).where(eq(adminKeys.id, id.toLowerCase())).for('update');
      if (!key) throw new AdminKeyNotFoundError(id);
      if (key.revokedAt) return key;
      if (key.role === 'owner' && owners.length <= 1) throw new LastOwnerKeyError(key.id);
      const [revoked] = await tx
        .update(adminKeys)
        .set({ revokedAt: sql`now()` })
        .where(eq(adminKeys.id, key.id))
        .returning();
      return revoked!;
    },
    describeKey,
  );
}

/** Every key, revoked ones included, newest first. There are few. */
export async function listAdminKeys(ex: Executor): Promise<AdminKeyRow[]> {
  return ex.select().from(adminKeys).orderBy(desc(adminKeys.createdAt), desc(adminKeys.id));
}

/** Keys by id, for the audit trail's `actor`. */
export async function adminKeysByIds(ex: Executor, ids: readonly string[]): Promise<Map<string, AdminKeyRow>> {
  if (ids.length === 0) return new Map();
  const rows = await ex
    .select()
    .from(adminKeys)
    .where(sql`${adminKeys.id} = ANY(${sql.param(`{${ids.join(',')}}`)}::uuid[])`);
  return new Map(rows.map((row) => [row.id, row]));
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

/** The advisory lock that makes the first start's check-and-create one step across instances. */
const STARTUP_KEY_LOCK = 7_366_201;

/**
 * At start: the key given in ADMIN_API_KEY is made to exist (as an owner key); with none given and
 * no active key in the database, one is generated and its secret returned to be printed once. The
 * look and the insert are one transaction under an advisory lock, so instances starting together
 * on an empty database create, and print, exactly one key.
 */
export async function ensureStartupKey(db: Database, configuredSecret: string | null): Promise<StartupKey> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${STARTUP_KEY_LOCK})`);
    if (configuredSecret) {
      const existing = await tx
        .select({ id: adminKeys.id })
        .from(adminKeys)
        .where(eq(adminKeys.secretHash, hashSecret(configuredSecret)));
      if (existing.length === 0) await createAdminKey(tx, { name: 'ADMIN_API_KEY', role: 'owner', secret: configuredSecret });
      return { kind: 'configured' } as const;
    }
    if ((await countActiveAdminKeys(tx)) > 0) return { kind: 'existing' } as const;
    const { secret } = await createAdminKey(tx, { name: 'first-start', role: 'owner' });
    return { kind: 'generated', secret } as const;
  });
}
