// Bringing existing users in with their ids (issue 17): one transaction per batch, a handful of
// set-based statements whatever its size, an outcome for every item.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { recordAuditEvent, type Actor } from '../audit/log.js';
import type { Database, Executor } from '../db/client.js';
import { userIdentities, users as usersTable, type UserStatus } from '../db/schema.js';
import { userIdArray, userIdOrNull } from '../db/user-ids.js';
import { enqueueUserEvents } from '../webhooks/outbox.js';
import { isAcceptedPasswordHash } from './passwords.js';
import { checkEmail, checkText, LOCAL_USERPASS } from './service.js';

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
 * identities) is 'unchanged' (so running an import twice changes nothing). Set-based: whatever the
 * batch's size, one statement inserts the users with their identities, one reads what stood in the
 * way of those not inserted (none when all were; a dry run only reads), and one writes the webhook
 * events with `notify`; the items travel as JSON parameters.
 */
export async function importUserBatch(
  db: Database,
  actor: Actor,
  users: ImportUser[],
  options: ImportOptions = {},
): Promise<ImportItemResult[]> {
  const results: ImportItemResult[] = users.map((_, index) => ({ index, id: null, outcome: 'created' }));
  const candidates: Candidate[] = [];
  users.forEach((user, index) => {
    const checked = checkImportUser(user, index);
    if ('code' in checked) results[index] = { index, id: idOf(user), outcome: 'malformed', code: checked.code, message: checked.message };
    else {
      results[index]!.id = checked.id;
      candidates.push(checked);
    }
  });
  const refuse = (c: Candidate, code: string, message: string) => {
    results[c.index] = { index: c.index, id: c.id, outcome: 'conflict', code, message };
  };

  // Within the batch: the first item with an id, an email (in any case) or an identity keeps it.
  const ids = new Map<string, Candidate>();
  const emails = new Map<string, Candidate>();
  const identityKeys = new Map<string, Candidate>();
  const inBatch = candidates.filter((c) => {
    const sameId = ids.get(c.id);
    if (sameId) return refuse(c, 'DUPLICATE_ID', `Item ${sameId.index} of this batch has the same id ${c.id}.`), false;
    const sameEmail = c.email === null ? undefined : emails.get(c.email.toLowerCase());
    if (sameEmail) {
      const code = sameEmail.email === c.email ? 'EMAIL_TAKEN' : 'EMAIL_CASE_DUPLICATE';
      return refuse(c, code, `Item ${sameEmail.index} of this batch has the email ${sameEmail.email}.`), false;
    }
    const sameIdentity = c.identities.map((i) => identityKeys.get(identityKey(i))).find(Boolean);
    if (sameIdentity) return refuse(c, 'IDENTITY_TAKEN', `Item ${sameIdentity.index} of this batch has one of its identities.`), false;
    ids.set(c.id, c);
    if (c.email !== null) emails.set(c.email.toLowerCase(), c);
    for (const i of c.identities) identityKeys.set(identityKey(i), c);
    return true;
  });

  if (inBatch.length === 0) return results;
  return db.transaction(async (tx) => {
    // A batch's statements are estimated from a 100-row function scan with index look-ups per row; on
    // tables of a few hundred thousand users the estimate passes PostgreSQL's JIT thresholds and every
    // batch paid 1–2 s of LLVM compilation for a 50 ms query. Nothing here gains from JIT.
    await tx.execute(sql`SET LOCAL jit = off`);
    // Why a user cannot be created, against the database: the user of its id (the same user:
    // 'unchanged'), another user of its email, another owner of one of its identities. Returns false
    // when the user was refused (or found unchanged), true when nothing stands in its way.
    const classify = (c: Candidate, existing: Existing): boolean => {
      if (existing.idTaken) {
        if (existing.email === c.email && sameIdentities(existing.identities, c.identities)) {
          results[c.index] = { index: c.index, id: c.id, outcome: 'unchanged' };
        } else {
          refuse(c, 'ID_TAKEN', `A user with id ${c.id} exists, with another email or other identities.`);
        }
        return false;
      }
      if (existing.otherEmail !== null) {
        const code = existing.otherEmail === c.email ? 'EMAIL_TAKEN' : 'EMAIL_CASE_DUPLICATE';
        return refuse(c, code, `Another user has the email ${existing.otherEmail}.`), false;
      }
      if (existing.identityTaken) return refuse(c, 'IDENTITY_TAKEN', 'Another user has one of its identities.'), false;
      return true;
    };
    if (options.dryRun) {
      const found = await readExisting(tx, inBatch);
      for (const c of inBatch) classify(c, found.get(c.index)!);
      return results;
    }

    // Insert first, look later: the unique indexes tell which users cannot be created (the usual
    // case, new users, then costs no look-up of its own), and only those are read to say why. A user
    // that got its row but not every identity goes away whole, in this transaction.
    const { inserted, incomplete } = await insertUsersWithIdentities(tx, inBatch);
    if (incomplete.size > 0) await tx.execute(sql`DELETE FROM ${usersTable} WHERE id = ANY(${userIdArray([...incomplete])})`);
    const wasRefused = (c: Candidate) => !inserted.has(c.id) || incomplete.has(c.id);
    const refused = inBatch.filter(wasRefused);
    const found = refused.length > 0 ? await readExisting(tx, refused) : new Map<number, Existing>();
    const created: Candidate[] = [];
    for (const c of inBatch) {
      if (wasRefused(c)) {
        if (classify(c, found.get(c.index)!)) {
          // Nothing found: what stood in its way went away between the insert and the read.
          if (incomplete.has(c.id)) refuse(c, 'IDENTITY_TAKEN', 'Another user took one of its identities meanwhile.');
          else refuse(c, 'TAKEN_MEANWHILE', 'Its id or email was taken as it was inserted, and free again just after: try again.');
        }
      } else created.push(c);
    }
    if (options.notify && created.length > 0) {
      await enqueueUserEvents(
        tx,
        created.map((c) => ({
          type: 'user.created' as const,
          userId: c.id,
          actor,
          auditEventId: null,
          data: { email: c.email, status: c.status, provider: c.identities[0]?.providerType ?? null, imported: true },
        })),
      );
    }
    return results;
  });
}

/** An item that passed checkImportUser: in the form it is stored. */
interface Candidate {
  index: number;
  id: string;
  email: string | null;
  status: UserStatus;
  createdAt: Date;
  lastAuthenticatedAt: Date | null;
  disabledAt: Date | null;
  customData: Record<string, unknown>;
  identities: { providerType: string; providerId: string; passwordHash: string | null }[];
}

const STATUSES: readonly string[] = ['confirmed', 'pending', 'disabled'];
const PROVIDER_TYPE_MAX_LENGTH = 64;
const PROVIDER_ID_MAX_LENGTH = 1024;
const CUSTOM_DATA_MAX_LENGTH = 64 * 1024;

type Malformed = { code: string; message: string };

const idOf = (user: ImportUser): string | null => (typeof user?.id === 'string' ? user.id.slice(0, 128) : null);

function validDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime()) && value.getUTCFullYear() >= 1 && value.getUTCFullYear() <= 9999;
}

function textOk(text: string): boolean {
  try {
    checkText(text, 'text');
    return true;
  } catch {
    return false;
  }
}

/** The item in the form it is stored, or why it cannot be. */
function checkImportUser(user: ImportUser, index: number): Candidate | Malformed {
  if (typeof user !== 'object' || user === null) return { code: 'MALFORMED_ITEM', message: 'The item is not a user.' };
  const id = typeof user.id === 'string' ? userIdOrNull(user.id) : null;
  if (id === null) return { code: 'MALFORMED_ID', message: 'A user id is 1 to 128 characters of A–Z, a–z, 0–9, "_" and "-".' };
  let email: string | null = null;
  if (user.email != null) {
    try {
      email = checkEmail(String(user.email));
    } catch {
      return { code: 'MALFORMED_EMAIL', message: `"${String(user.email).slice(0, 64)}" is not a valid email address.` };
    }
  }
  if (!STATUSES.includes(user.status)) return { code: 'MALFORMED_STATUS', message: 'The status is confirmed, pending or disabled.' };
  if (!validDate(user.createdAt)) return { code: 'MALFORMED_DATE', message: 'createdAt is not a date.' };
  for (const date of [user.lastAuthenticatedAt, user.disabledAt]) {
    if (date != null && !validDate(date)) return { code: 'MALFORMED_DATE', message: 'lastAuthenticatedAt or disabledAt is not a date.' };
  }
  const customData = user.customData ?? {};
  const json = typeof customData === 'object' && !Array.isArray(customData) ? JSON.stringify(customData) : null;
  if (json === null || json.length > CUSTOM_DATA_MAX_LENGTH || json.includes('\\u0000')) {
    return { code: 'MALFORMED_CUSTOM_DATA', message: `customData is a JSON object of at most ${CUSTOM_DATA_MAX_LENGTH} characters, without NUL.` };
  }
  if (!Array.isArray(user.identities)) return { code: 'MALFORMED_IDENTITY', message: 'identities is a list.' };
  const identities: Candidate['identities'] = [];
  const seen = new Set<string>();
  for (const identity of user.identities) {
    const { providerType, providerId } = identity ?? {};
    if (
      typeof providerType !== 'string' ||
      typeof providerId !== 'string' ||
      providerType.length === 0 ||
      providerType.length > PROVIDER_TYPE_MAX_LENGTH ||
      providerId.length === 0 ||
      providerId.length > PROVIDER_ID_MAX_LENGTH ||
      !textOk(providerType) ||
      !textOk(providerId)
    ) {
      return { code: 'MALFORMED_IDENTITY', message: 'An identity needs a providerType (1–64 characters) and a providerId (1–1024).' };
    }
    const passwordHash = identity.passwordHash ?? null;
    let storedId = providerId;
    if (providerType === LOCAL_USERPASS) {
      // Logins find the identity by the user's email (emailKey): it must be that email.
      if (email === null || providerId.toLowerCase() !== email.toLowerCase()) {
        return { code: 'MALFORMED_IDENTITY', message: 'A local-userpass identity has the user\'s email as its providerId.' };
      }
      storedId = email.toLowerCase();
      if (passwordHash !== null && (typeof passwordHash !== 'string' || !isAcceptedPasswordHash(passwordHash))) {
        return {
          code: 'MALFORMED_PASSWORD_HASH',
          message: 'The password hash is none of the accepted forms (argon2id/argon2i/argon2d, scrypt, firebase-scrypt, bcrypt) or outside their cost bounds.',
        };
      }
    } else if (passwordHash !== null) {
      return { code: 'MALFORMED_IDENTITY', message: `Only a ${LOCAL_USERPASS} identity has a password hash.` };
    }
    const key = identityKey({ providerType, providerId: storedId });
    if (seen.has(key)) return { code: 'MALFORMED_IDENTITY', message: 'The same identity is listed twice.' };
    seen.add(key);
    identities.push({ providerType, providerId: storedId, passwordHash });
  }
  const status = user.status as UserStatus;
  return {
    index,
    id,
    email,
    status,
    createdAt: user.createdAt,
    lastAuthenticatedAt: user.lastAuthenticatedAt ?? null,
    // The database keeps disabled_at exactly on disabled users (src/users/invariants.ts).
    disabledAt: status === 'disabled' ? (user.disabledAt ?? user.lastAuthenticatedAt ?? user.createdAt) : null,
    customData: customData as Record<string, unknown>,
    identities,
  };
}

const identityKey = (i: { providerType: string; providerId: string }) => `${i.providerType}\u0000${i.providerId}`;

function sameIdentities(existing: readonly string[], wanted: Candidate['identities']): boolean {
  const keys = new Set(wanted.map(identityKey));
  return existing.length === keys.size && existing.every((k) => keys.has(k));
}

interface Existing {
  idTaken: boolean;
  email: string | null;
  /** identityKey of each identity of the user with the id. */
  identities: string[];
  /** The email of another user whose email is the candidate's in any case; null when none. */
  otherEmail: string | null;
  identityTaken: boolean;
}

// The key an identity is stored under (the database's lower() on top of JavaScript's, as emailKey).
const storedProviderId = sql.raw(`CASE WHEN c.provider_type = '${LOCAL_USERPASS}' THEN lower(c.provider_id) ELSE c.provider_id END`);

/** One statement: for each candidate, its id's user, another user of its email, and whether another user has one of its identities. */
async function readExisting(tx: Executor, candidates: readonly Candidate[]): Promise<Map<number, Existing>> {
  const items = candidates.map((c) => ({ i: c.index, id: c.id, email: c.email }));
  const identities = candidates.flatMap((c) =>
    c.identities.map((i) => ({ i: c.index, user_id: c.id, provider_type: i.providerType, provider_id: i.providerId })),
  );
  const result = (await tx.execute(sql`
    WITH taken AS (
      SELECT DISTINCT c.i
      FROM json_to_recordset(${JSON.stringify(identities)}::json) AS c(i int, user_id text, provider_type text, provider_id text)
      JOIN ${userIdentities} x ON x.provider_type = c.provider_type AND x.provider_id = ${storedProviderId} AND x.user_id <> c.user_id
    )
    SELECT c.i, u.id IS NOT NULL AS id_taken, u.email,
      CASE WHEN u.id IS NULL THEN '[]'::jsonb ELSE (
        SELECT coalesce(jsonb_agg(x.provider_type || chr(1) || x.provider_id), '[]'::jsonb)
        FROM ${userIdentities} x WHERE x.user_id = u.id) END AS identities,
      (SELECT o.email FROM ${usersTable} o WHERE c.email IS NOT NULL AND lower(o.email) = lower(c.email) AND o.id <> c.id LIMIT 1) AS other_email,
      EXISTS (SELECT 1 FROM taken WHERE taken.i = c.i) AS identity_taken
    FROM json_to_recordset(${JSON.stringify(items)}::json) AS c(i int, id text, email text)
    LEFT JOIN ${usersTable} u ON u.id = c.id`)) as unknown as {
    rows: { i: number; id_taken: boolean; email: string | null; identities: string[] | string; other_email: string | null; identity_taken: boolean }[];
  };
  return new Map(
    result.rows.map((r) => {
      const list = (typeof r.identities === 'string' ? JSON.parse(r.identities) : r.identities) as string[];
      return [
        Number(r.i),
        {
          idTaken: r.id_taken,
          email: r.email,
          identities: list.map((k) => k.replace('\u0001', '\u0000')),
          otherEmail: r.other_email,
          identityTaken: r.identity_taken,
        },
      ];
    }),
  );
}

/**
 * Inserts the users (none whose id or email is taken by then) and the identities of those inserted
 * (none taken by then), in one statement; returns the ids inserted, and those of the inserted users
 * that did not get every identity (the caller removes them).
 */
async function insertUsersWithIdentities(
  tx: Executor,
  candidates: readonly Candidate[],
): Promise<{ inserted: Set<string>; incomplete: Set<string> }> {
  const userRows = candidates.map((c) => ({
    id: c.id,
    email: c.email,
    status: c.status,
    created_at: c.createdAt.toISOString(),
    last_authenticated_at: c.lastAuthenticatedAt?.toISOString() ?? null,
    disabled_at: c.disabledAt?.toISOString() ?? null,
    custom_data: c.customData,
  }));
  const identityIds = timeOrderedUuids(candidates.reduce((n, c) => n + c.identities.length, 0));
  const identityRows = candidates.flatMap((c) =>
    c.identities.map((i) => ({
      id: identityIds.pop()!,
      user_id: c.id,
      provider_type: i.providerType,
      provider_id: i.providerId,
      password_hash: i.passwordHash,
      created_at: c.createdAt.toISOString(),
    })),
  );
  // The identities' foreign key is checked at the end of the statement, when the users are there.
  const result = (await tx.execute(sql`
    WITH u AS (
      INSERT INTO ${usersTable} (id, email, status, created_at, last_authenticated_at, disabled_at, custom_data)
      SELECT r.id, r.email, r.status, r.created_at, r.last_authenticated_at, r.disabled_at, r.custom_data
      FROM json_to_recordset(${JSON.stringify(userRows)}::json)
        AS r(id text, email text, status user_status, created_at timestamptz, last_authenticated_at timestamptz, disabled_at timestamptz, custom_data jsonb)
      ON CONFLICT DO NOTHING
      RETURNING id
    ), i AS (
      INSERT INTO ${userIdentities} (id, user_id, provider_type, provider_id, password_hash, created_at)
      SELECT c.id, c.user_id, c.provider_type, ${storedProviderId}, c.password_hash, c.created_at
      FROM json_to_recordset(${JSON.stringify(identityRows)}::json)
        AS c(id uuid, user_id text, provider_type text, provider_id text, password_hash text, created_at timestamptz)
      WHERE c.user_id IN (SELECT id FROM u)
      ON CONFLICT DO NOTHING
      RETURNING user_id
    )
    SELECT u.id, count(i.user_id)::int AS identities FROM u LEFT JOIN i ON i.user_id = u.id GROUP BY u.id`)) as unknown as {
    rows: { id: string; identities: number }[];
  };
  const wanted = new Map(candidates.map((c) => [c.id, c.identities.length]));
  const inserted = new Set(result.rows.map((r) => r.id));
  const incomplete = new Set(result.rows.filter((r) => Number(r.identities) < wanted.get(r.id)!).map((r) => r.id));
  return { inserted, incomplete };
}

/**
 * `count` UUIDs of version 7 (RFC 9562: a millisecond timestamp, then random bits) for the imported
 * identities: a batch's keys land together at the right edge of the primary key's B-tree instead of
 * on a random leaf each (gen_random_uuid()), so a million-user import dirties and logs far fewer pages.
 */
function timeOrderedUuids(count: number): string[] {
  const bytes = randomBytes(16 * count);
  const now = Date.now();
  const ids: string[] = [];
  for (let k = 0; k < count; k++) {
    const b = bytes.subarray(16 * k, 16 * k + 16);
    b.writeUIntBE(now, 0, 6);
    b[6] = 0x70 | (b[6]! & 0x0f);
    b[8] = 0x80 | (b[8]! & 0x3f);
    const hex = b.toString('hex');
    ids.push(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`);
  }
  return ids;
}

/** The one audit event of an import run (action 'users.imported', with source, counts, dryRun). */
export async function recordImportRun(
  db: Database,
  actor: Actor,
  run: { source: string; counts: ImportCounts; dryRun: boolean },
): Promise<void> {
  await recordAuditEvent(db, actor, {
    action: 'users.imported',
    outcome: 'success',
    details: { source: run.source, dryRun: run.dryRun, ...run.counts },
  });
}

/** The counts of a batch's (or a run's) results. */
export function countOutcomes(results: readonly ImportItemResult[], into: ImportCounts = { created: 0, unchanged: 0, conflicts: 0, malformed: 0 }): ImportCounts {
  for (const r of results) {
    if (r.outcome === 'created') into.created++;
    else if (r.outcome === 'unchanged') into.unchanged++;
    else if (r.outcome === 'conflict') into.conflicts++;
    else into.malformed++;
  }
  return into;
}
