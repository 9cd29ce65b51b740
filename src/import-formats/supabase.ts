// Supabase Auth users: the rows of `auth.users`, as CSV with a header (the dashboard's export, or
// `\copy (select * from auth.users) to 'users.csv' csv header`) or as a JSON array of row objects
// (`select json_agg(u) from auth.users u`); the first character of the file tells which.
// Columns used: id (uuid), email, encrypted_password (bcrypt, kept as it is), email_confirmed_at,
// banned_until, created_at, updated_at, last_sign_in_at, raw_user_meta_data (the user's metadata,
// kept as custom data), is_anonymous, deleted_at.
//
// Status: banned_until in the future → disabled (since updated_at, the best time Supabase keeps);
// otherwise no email_confirmed_at → pending; otherwise confirmed. Rows with deleted_at (soft-deleted)
// are skipped. Users without an email are anonymous ones (anon-user) when is_anonymous says so, and
// refused otherwise (phone-only users: the gateway has no phone sign-in).
import type { ImportUser } from '../users/import.js';
import { csvObjects } from './csv.js';
import { jsonArrayElements } from './json-array.js';
import { isObject, jsonObject, optionalString, recordOf, RecordError, requiredString, timestampDate, textChunks, type ByteSource, type ImportRecord } from './types.js';

function supabaseUser(now: Date) {
  return (row: unknown): ImportUser => {
    if (!isObject(row)) throw new RecordError('MALFORMED_RECORD', 'a row that is not an object.');
    const id = requiredString(row, 'id');
    const email = optionalString(row, 'email');
    const anonymous = row.is_anonymous === true || row.is_anonymous === 'true' || row.is_anonymous === 't';
    if (!email && !anonymous) throw new RecordError('UNSUPPORTED_USER', 'a user without an email (phone sign-in) cannot be imported.');
    const createdAt = timestampDate(row, 'created_at');
    if (!createdAt) throw new RecordError('MALFORMED_RECORD', '"created_at" is missing.');
    const bannedUntil = timestampDate(row, 'banned_until');
    const banned = bannedUntil !== null && bannedUntil > now;
    return {
      id,
      email,
      status: banned ? 'disabled' : timestampDate(row, 'email_confirmed_at') || !email ? 'confirmed' : 'pending',
      createdAt,
      lastAuthenticatedAt: timestampDate(row, 'last_sign_in_at'),
      disabledAt: banned ? (timestampDate(row, 'updated_at') ?? createdAt) : null,
      customData: jsonObject(row, 'raw_user_meta_data'),
      identities: email
        ? [{ providerType: 'local-userpass', providerId: email.toLowerCase(), passwordHash: optionalString(row, 'encrypted_password') }]
        : [{ providerType: 'anon-user', providerId: id }],
    };
  };
}

/** The first non-blank character of a byte source, and the source again from its start. */
async function peek(source: ByteSource): Promise<{ first: string | null; source: ByteSource }> {
  const iterator = textChunks(source)[Symbol.asyncIterator]();
  const seen: string[] = [];
  let first: string | null = null;
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    seen.push(next.value);
    const match = /\S/.exec(next.value);
    if (match) {
      first = match[0];
      break;
    }
  }
  async function* again() {
    yield* seen;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { first, source: again() };
}

/** The users of one auth.users export, CSV or JSON. `now` decides which bans still hold. */
export async function* parseSupabase(input: ByteSource, now = new Date()): AsyncGenerator<ImportRecord> {
  const toUser = supabaseUser(now);
  const { first, source } = await peek(input);
  const rows = first === '[' ? jsonArrayElements(source) : csvObjects(source);
  for await (const row of rows) {
    if (row.error) {
      yield { line: row.line, error: row.error };
      continue;
    }
    if (isObject(row.value) && row.value.deleted_at !== undefined && row.value.deleted_at !== null && row.value.deleted_at !== '') continue;
    yield recordOf(row.line, row.value, toUser);
  }
}
