// Taking users out (issue 17): every user with its identities, streamed in keyset order.
import { and, asc, gt, inArray, type SQL } from 'drizzle-orm';
import { recordAuditEvent, type Actor } from '../audit/log.js';
import type { Database } from '../db/client.js';
import { users, type UserRow, type UserStatus } from '../db/schema.js';
import { identitiesByUser } from './repository.js';
import { LOCAL_USERPASS } from './service.js';

/** One line of `npm run admin -- export` (JSON.stringify of this, one per line); also the jsonl import format. */
export interface ExportedUser {
  id: string;
  email: string | null;
  status: 'confirmed' | 'pending' | 'disabled';
  /** ISO 8601. */
  createdAt: string;
  lastAuthenticatedAt: string | null;
  disabledAt: string | null;
  customData: Record<string, unknown>;
  /** passwordHash is present only when exported with hashes. */
  identities: { providerType: string; providerId: string; passwordHash?: string | null }[];
}

const DEFAULT_PAGE_SIZE = 1_000;

/**
 * Streams every user (optionally only some statuses) in keyset order (by id), in pages of
 * `pageSize`: two statements per page (the users, then their identities), never all in memory.
 */
export async function* exportUsers(
  db: Database,
  options: { statuses?: UserStatus[]; withPasswordHashes: boolean; pageSize?: number },
): AsyncGenerator<ExportedUser> {
  const pageSize = Math.max(1, Math.min(options.pageSize ?? DEFAULT_PAGE_SIZE, 10_000));
  const statuses = options.statuses?.length ? options.statuses : null;
  let after: string | null = null;
  for (;;) {
    const conditions: (SQL | undefined)[] = [
      statuses ? inArray(users.status, statuses) : undefined,
      after === null ? undefined : gt(users.id, after),
    ];
    const page: UserRow[] = await db
      .select()
      .from(users)
      .where(and(...conditions))
      .orderBy(asc(users.id))
      .limit(pageSize);
    if (page.length === 0) return;
    const identities = await identitiesByUser(db, page.map((u) => u.id));
    for (const user of page) {
      yield {
        id: user.id,
        email: user.email,
        status: user.status,
        createdAt: user.createdAt.toISOString(),
        lastAuthenticatedAt: user.lastAuthenticatedAt?.toISOString() ?? null,
        disabledAt: user.disabledAt?.toISOString() ?? null,
        customData: user.customData,
        identities: (identities.get(user.id) ?? []).map((i) =>
          options.withPasswordHashes && i.providerType === LOCAL_USERPASS
            ? { providerType: i.providerType, providerId: i.providerId, passwordHash: i.passwordHash }
            : { providerType: i.providerType, providerId: i.providerId },
        ),
      };
    }
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.id;
  }
}

/** The audit event of an export (action 'users.exported', withPasswordHashes, count). */
export async function recordExport(db: Database, actor: Actor, run: { withPasswordHashes: boolean; count: number }): Promise<void> {
  await recordAuditEvent(db, actor, {
    action: 'users.exported',
    outcome: 'success',
    details: { withPasswordHashes: run.withPasswordHashes, count: run.count },
  });
}
