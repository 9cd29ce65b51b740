// Atlas App Services users, as the Admin API v3 lists them: a file is one JSON array, the body of
//   GET /groups/{groupId}/apps/{appId}/users                               (confirmed users), or of
//   GET /groups/{groupId}/apps/{appId}/user_registrations/pending_users    (pending sign-ups),
// or both concatenated into one array; each element is told apart by its fields.
//
// What this relies on (the Admin API v3 reference, operations adminListUsers/adminGetUser and
// adminListPendingUsers):
//   user:    { _id, identities: [{ id, provider_type, provider_id, provider_data? }], type: 'normal'|'server',
//              creation_date (seconds), last_authentication_date (seconds), disabled, data: { email, … } }
//            (custom_data, when the operator merged it in, is kept as the user's custom data);
//   pending: { _id, user_id ('' until confirmed), domain_id, login_ids: [{ id_type: 'email', id }] }.
// Atlas exports no password hashes: local-userpass users come without a password and must reset it.
// A local-userpass identity's `id` is Atlas's internal one; ours is the lower-cased email.
import type { ImportIdentity, ImportUser } from '../users/import.js';
import { jsonArrayElements } from './json-array.js';
import { epochDate, isObject, jsonObject, optionalString, recordOf, RecordError, requiredString, type ByteSource, type ImportRecord } from './types.js';

const LOCAL_USERPASS = 'local-userpass';

/** The creation time of an ObjectId (its first 4 bytes, seconds since 1970), or null if `id` is not one. */
function objectIdTime(id: string): Date | null {
  return /^[0-9a-f]{24}$/i.test(id) ? new Date(parseInt(id.slice(0, 8), 16) * 1000) : null;
}

function emailOf(user: Record<string, unknown>): string | null {
  const data = isObject(user.data) ? user.data : {};
  if (typeof data.email === 'string' && data.email) return data.email;
  for (const identity of Array.isArray(user.identities) ? user.identities : []) {
    if (isObject(identity) && isObject(identity.provider_data) && typeof identity.provider_data.email === 'string') return identity.provider_data.email;
  }
  return null;
}

function confirmedUser(user: Record<string, unknown>): ImportUser {
  const id = requiredString(user, '_id');
  if (!Array.isArray(user.identities)) throw new RecordError('MALFORMED_RECORD', '"identities" is missing or not an array.');
  const email = emailOf(user);
  const identities: ImportIdentity[] = user.identities.map((identity, i) => {
    if (!isObject(identity)) throw new RecordError('MALFORMED_RECORD', `identities[${i}] is not an object.`);
    const providerType = requiredString(identity, 'provider_type');
    if (providerType === LOCAL_USERPASS) {
      if (!email) throw new RecordError('MALFORMED_RECORD', 'a local-userpass user without data.email.');
      return { providerType, providerId: email.toLowerCase(), passwordHash: null };
    }
    return { providerType, providerId: requiredString(identity, 'id') };
  });
  const createdAt = epochDate(user, 'creation_date', 'seconds') ?? objectIdTime(id);
  if (!createdAt) throw new RecordError('MALFORMED_RECORD', '"creation_date" is missing.');
  if (user.disabled !== undefined && typeof user.disabled !== 'boolean') throw new RecordError('MALFORMED_RECORD', '"disabled" is not a boolean.');
  return {
    id,
    email,
    status: user.disabled ? 'disabled' : 'confirmed',
    createdAt,
    lastAuthenticatedAt: epochDate(user, 'last_authentication_date', 'seconds'),
    // Atlas does not say when a user was disabled.
    disabledAt: null,
    customData: jsonObject(user, 'custom_data'),
    identities,
  };
}

function pendingUser(pending: Record<string, unknown>): ImportUser {
  const registrationId = requiredString(pending, '_id');
  // user_id is '' until the registration is confirmed; the registration's own ObjectId stands in.
  const id = optionalString(pending, 'user_id') ?? registrationId;
  const loginIds = pending.login_ids as unknown[];
  const login = loginIds.find((l) => isObject(l) && l.id_type === 'email');
  if (!isObject(login) || typeof login.id !== 'string' || !login.id) throw new RecordError('MALFORMED_RECORD', 'a pending user without an email login id.');
  return {
    id,
    email: login.id,
    status: 'pending',
    createdAt: objectIdTime(registrationId) ?? new Date(0),
    lastAuthenticatedAt: null,
    disabledAt: null,
    customData: {},
    identities: [{ providerType: LOCAL_USERPASS, providerId: login.id.toLowerCase(), passwordHash: null }],
  };
}

function atlasUser(element: unknown): ImportUser {
  if (!isObject(element)) throw new RecordError('MALFORMED_RECORD', 'an element that is not an object.');
  if (Array.isArray(element.login_ids)) return pendingUser(element);
  if ('identities' in element || 'creation_date' in element) return confirmedUser(element);
  throw new RecordError('MALFORMED_RECORD', 'neither a user (identities, creation_date) nor a pending user (login_ids).');
}

/** The users of one Admin API export file. */
export async function* parseAtlas(source: ByteSource): AsyncGenerator<ImportRecord> {
  for await (const element of jsonArrayElements(source)) {
    yield element.error ? { line: element.line, error: element.error } : recordOf(element.line, element.value, atlasUser);
  }
}
