// Bringing existing users in with their ids (issue 17): one transaction per batch, a handful of
// set-based statements whatever its size, an outcome for every item.
import type { Actor } from '../audit/log.js';
import type { Database } from '../db/client.js';

export interface ImportIdentity {
  /** 'local-userpass' | 'anon-user' | 'api-key' | 'custom-token' | …, kept as given. */
  providerType: string;
  /** The provider's id of the identity; for local-userpass the lower-cased email. */
  providerId: string;
  /** local-userpass only: a hash isAcceptedPasswordHash() accepts, or null (the user must reset it). */
  passwordHash?: string | null;
}

export interface ImportUser {
  /** Kept unchanged; must pass checkUserId (1–128 characters of [A-Za-z0-9_-]). */
  id: string;
  email: string | null;
  status: 'confirmed' | 'pending' | 'disabled';
  createdAt: Date;
  lastAuthenticatedAt?: Date | null;
  disabledAt?: Date | null;
  customData?: Record<string, unknown>;
  identities: ImportIdentity[];
}

export type ImportOutcome = 'created' | 'unchanged' | 'conflict' | 'malformed';

export interface ImportItemResult {
  /** Position in the batch given. */
  index: number;
  id: string | null;
  /** In a dry run: what would happen. */
  outcome: ImportOutcome;
  /** conflict/malformed: a stable code (ID_TAKEN, EMAIL_TAKEN, EMAIL_CASE_DUPLICATE, IDENTITY_TAKEN, MALFORMED_*). */
  code?: string;
  message?: string;
}

export interface ImportOptions {
  dryRun?: boolean;
  /** Send a user.created webhook for every created user (default: none). */
  notify?: boolean;
}

export interface ImportCounts {
  created: number;
  unchanged: number;
  conflicts: number;
  malformed: number;
}

/**
 * One transaction per call; items that conflict or are malformed are reported and skipped, never half
 * applied; the others are inserted. A user identical to one already present (same id, same email,
 * identities) is 'unchanged' (so running an import twice changes nothing).
 */
export async function importUserBatch(
  _db: Database,
  _actor: Actor,
  _users: ImportUser[],
  _options: ImportOptions = {},
): Promise<ImportItemResult[]> {
  throw new Error('not implemented');
}

/** The one audit event of an import run (action 'users.imported', with source, counts, dryRun). */
export async function recordImportRun(
  _db: Database,
  _actor: Actor,
  _run: { source: string; counts: ImportCounts; dryRun: boolean },
): Promise<void> {
  throw new Error('not implemented');
}
