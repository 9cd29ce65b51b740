// Firebase Auth users, as `firebase auth:export users.json --format=json` writes them:
//   {"users": [{ localId, email, emailVerified, passwordHash, salt, createdAt, lastSignedInAt, disabled,
//                providerUserInfo: [{ providerId, rawId, email, … }], customAttributes, … }]}
// passwordHash and salt are base64; createdAt and lastSignedInAt are milliseconds since 1970 (strings);
// customAttributes is the JSON text of the custom claims. The password hashes are Firebase's modified
// scrypt, checked with the project's parameters (the console's "Password hash parameters", given as
// `--hash-key --salt-separator --rounds --mem-cost`), which are stored in every hash.
//
// Status: a disabled user stays disabled. Firebase lets users with a password sign in before they
// verify their address, so a user with a password is confirmed whatever emailVerified says; a user
// without one (signed in with Google, …) is confirmed when the address is verified and pending
// otherwise. A user with an email gets a local-userpass identity (without a password when it has
// none: it can set one by resetting); other providers are kept as identities (google.com →
// oauth2-google, facebook.com → oauth2-facebook, apple.com → oauth2-apple, others as
// `firebase-<providerId>`); a user with neither is an anonymous one (anon-user).
import type { ImportIdentity, ImportUser } from '../users/import.js';
import { firebaseScryptHash, type FirebaseScryptParams } from '../users/passwords.js';
import { jsonArrayElements } from './json-array.js';
import { epochDate, isObject, jsonObject, optionalString, recordOf, RecordError, requiredString, type ByteSource, type ImportRecord } from './types.js';

const PROVIDER_TYPES: Record<string, string> = {
  'google.com': 'oauth2-google',
  'facebook.com': 'oauth2-facebook',
  'apple.com': 'oauth2-apple',
};

function firebaseUser(params: FirebaseScryptParams | null) {
  return (element: unknown): ImportUser => {
    if (!isObject(element)) throw new RecordError('MALFORMED_RECORD', 'a user that is not an object.');
    const id = requiredString(element, 'localId');
    const email = optionalString(element, 'email');
    const passwordHash = optionalString(element, 'passwordHash');
    const salt = optionalString(element, 'salt');
    let storedHash: string | null = null;
    if (passwordHash) {
      if (!params) throw new RecordError('MALFORMED_RECORD', 'a password hash, but no --hash-key, --salt-separator, --rounds and --mem-cost were given.');
      if (!salt) throw new RecordError('MALFORMED_RECORD', 'a password hash without its "salt".');
      if (!email) throw new RecordError('MALFORMED_RECORD', 'a password hash without an "email".');
      storedHash = firebaseScryptHash(params, salt, passwordHash);
    }
    const identities: ImportIdentity[] = [];
    if (email) identities.push({ providerType: 'local-userpass', providerId: email.toLowerCase(), passwordHash: storedHash });
    const providers = element.providerUserInfo ?? [];
    if (!Array.isArray(providers)) throw new RecordError('MALFORMED_RECORD', '"providerUserInfo" is not an array.');
    for (const [i, provider] of providers.entries()) {
      if (!isObject(provider)) throw new RecordError('MALFORMED_RECORD', `providerUserInfo[${i}] is not an object.`);
      const providerId = requiredString(provider, 'providerId');
      if (providerId === 'password') continue; // the local-userpass identity above
      identities.push({ providerType: PROVIDER_TYPES[providerId] ?? `firebase-${providerId}`, providerId: requiredString(provider, 'rawId') });
    }
    if (identities.length === 0) identities.push({ providerType: 'anon-user', providerId: id });
    if (element.disabled !== undefined && typeof element.disabled !== 'boolean') throw new RecordError('MALFORMED_RECORD', '"disabled" is not a boolean.');
    const createdAt = epochDate(element, 'createdAt', 'milliseconds');
    if (!createdAt) throw new RecordError('MALFORMED_RECORD', '"createdAt" is missing.');
    return {
      id,
      email,
      status: element.disabled ? 'disabled' : storedHash || element.emailVerified === true || !email ? 'confirmed' : 'pending',
      createdAt,
      lastAuthenticatedAt: epochDate(element, 'lastSignedInAt', 'milliseconds'),
      // Firebase does not say when a user was disabled.
      disabledAt: null,
      customData: jsonObject(element, 'customAttributes'),
      identities,
    };
  };
}

/** The users of one `firebase auth:export` JSON file; `params` null when the project's hash parameters were not given. */
export async function* parseFirebase(source: ByteSource, params: FirebaseScryptParams | null): AsyncGenerator<ImportRecord> {
  const toUser = firebaseUser(params);
  for await (const element of jsonArrayElements(source, { key: 'users' })) {
    yield element.error ? { line: element.line, error: element.error } : recordOf(element.line, element.value, toUser);
  }
}
