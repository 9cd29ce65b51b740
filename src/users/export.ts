// Taking users out (issue 17): every user with its identities, streamed in keyset order.
import type { Actor } from '../audit/log.js';
import type { Database } from '../db/client.js';
import type { UserStatus } from '../db/schema.js';

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

/** Streams every user (optionally only some statuses) in keyset order, in pages, never all in memory. */
// eslint-disable-next-line require-yield
export async function* exportUsers(
  _db: Database,
  _options: { statuses?: UserStatus[]; withPasswordHashes: boolean; pageSize?: number },
): AsyncGenerator<ExportedUser> {
  throw new Error('not implemented');
}

/** The audit event of an export (action 'users.exported', withPasswordHashes, count). */
export async function recordExport(_db: Database, _actor: Actor, _run: { withPasswordHashes: boolean; count: number }): Promise<void> {
  throw new Error('not implemented');
}
