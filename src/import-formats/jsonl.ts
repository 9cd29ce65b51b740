// Our own export format (`npm run admin -- export`): one ExportedUser as JSON per line. Imported as it
// is, so export → import reproduces every user; identities exported without their hashes come back
// without a password (the users must reset it).
import type { ExportedUser } from '../users/export.js';
import type { ImportUser } from '../users/import.js';
import { isObject, recordOf, RecordError, requiredString, textChunks, timestampDate, type ByteSource, type ImportRecord } from './types.js';

const STATUSES = new Set<string>(['confirmed', 'pending', 'disabled']);

function exportedUser(value: unknown): ImportUser {
  if (!isObject(value)) throw new RecordError('MALFORMED_RECORD', 'a line that is not a JSON object.');
  const line = value as Partial<ExportedUser> & Record<string, unknown>;
  const id = requiredString(line, 'id');
  if (line.email !== null && typeof line.email !== 'string') throw new RecordError('MALFORMED_RECORD', '"email" is not a string or null.');
  if (typeof line.status !== 'string' || !STATUSES.has(line.status)) throw new RecordError('MALFORMED_RECORD', '"status" is not confirmed, pending or disabled.');
  const createdAt = timestampDate(line, 'createdAt');
  if (!createdAt) throw new RecordError('MALFORMED_RECORD', '"createdAt" is missing.');
  if (line.customData !== undefined && !isObject(line.customData)) throw new RecordError('MALFORMED_RECORD', '"customData" is not an object.');
  if (!Array.isArray(line.identities)) throw new RecordError('MALFORMED_RECORD', '"identities" is not an array.');
  const identities = line.identities.map((identity: unknown, i: number) => {
    if (!isObject(identity)) throw new RecordError('MALFORMED_RECORD', `identities[${i}] is not an object.`);
    const hash = identity.passwordHash;
    if (hash !== undefined && hash !== null && typeof hash !== 'string') throw new RecordError('MALFORMED_RECORD', `identities[${i}].passwordHash is not a string.`);
    return {
      providerType: requiredString(identity, 'providerType'),
      providerId: requiredString(identity, 'providerId'),
      ...(identity.providerType === 'local-userpass' ? { passwordHash: (hash as string | null | undefined) ?? null } : {}),
    };
  });
  return {
    id,
    email: line.email,
    status: line.status as ImportUser['status'],
    createdAt,
    lastAuthenticatedAt: timestampDate(line, 'lastAuthenticatedAt'),
    disabledAt: timestampDate(line, 'disabledAt'),
    customData: (line.customData as Record<string, unknown> | undefined) ?? {},
    identities,
  };
}

/** The lines of a file, each with its number; a last line without a newline counts. */
export async function* textLines(source: ByteSource): AsyncGenerator<{ line: number; text: string }> {
  let rest = '';
  let line = 0;
  for await (const chunk of textChunks(source)) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const text of parts) yield { line: ++line, text };
  }
  if (rest) yield { line: ++line, text: rest };
}

/** The users of one export file. Blank lines are skipped. */
export async function* parseJsonl(source: ByteSource): AsyncGenerator<ImportRecord> {
  for await (const { line, text } of textLines(source)) {
    if (!text.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      yield { line, error: { code: 'MALFORMED_JSON', message: `not JSON: ${(err as Error).message}` } };
      continue;
    }
    yield recordOf(line, value, exportedUser);
  }
}
