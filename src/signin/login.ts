// Sessions of the app's users: login (email/password, anonymous), refresh, logout and the profile.
// A session is one refresh_tokens row; access tokens name it in their `sid` claim.
import { recordAuditEvent, type Actor } from '../audit/log.js';
import { enqueueUserEvent } from '../webhooks/outbox.js';
import type { Executor } from '../db/client.js';
import type { IdentityRow, UserRow } from '../db/schema.js';
import { AppError } from '../errors.js';
import * as sessions from '../sessions/repository.js';
import * as users from '../users/repository.js';
import { accessRefusal } from '../users/rules.js';
import { ANON_USER, LOCAL_USERPASS, normalizeEmail } from '../users/service.js';
import type { AuthDeps } from './deps.js';
import { readReportedDevice, storedDevice } from './device.js';
import { ConfirmationRequiredError, InvalidCredentialsError, UserDisabledError } from './errors.js';
import { InvalidSessionError } from '../tokens/errors.js';
import { QueueFullError } from '../limits/work-queue.js';
import { decoyPasswordHash, hashPassword, needsRehash, passwordHashScheme, verifyPassword } from '../users/passwords.js';
import { loginsFailed, recordSessionsRevoked } from '../metrics.js';
import { checkRefreshToken, signRefreshToken } from '../tokens/refresh-tokens.js';
import { deviceIdFrom, hashToken, signAccessToken } from '../tokens/tokens.js';
import { noAccessReason, verifyAccessToken, verifyAccessTokenNow } from '../tokens/verify.js';

/** What a login hands the client. */
export interface LoginResult {
  userId: string;
  accessToken: string;
  refreshToken: string;
  deviceId: string;
  sessionId: string;
}

export interface LoginInput {
  /** `options.device` of the login body as the SDK sent it, if any (read by device.ts). */
  device?: unknown;
  requestId?: string | null;
}

/** The message the Realm SDKs look for to treat logging out an unknown session as done. */
export const UNKNOWN_REFRESH_TOKEN = 'failed to find refresh token';

const userActor = (userId: string | null, requestId?: string | null): Actor => ({ type: 'user', userId, requestId });

export async function recordLoginFailure(
  auth: AuthDeps,
  userId: string | null,
  requestId: string | null | undefined,
  details: Record<string, unknown>,
): Promise<void> {
  loginsFailed.inc({ provider: String(details.provider), reason: String(details.code ?? details.reason) });
  try {
    await recordAuditEvent(auth.db, userActor(userId, requestId), { action: 'loginFailed', outcome: 'refused', userId, details });
  } catch (err) {
    auth.logger.warn({ err }, 'could not record a failed login');
  }
}

interface OpenedSession {
  user: UserRow;
  sessionId: string;
  deviceId: string;
  refreshToken: string;
}

/**
 * Opens a session for a user whose credentials were checked, in the caller's transaction, under the
 * user's row lock: a disable, delete or revoke either commits first (and the login is refused) or
 * waits for the login to commit (and then revokes the new session).
 */
async function openSession(
  auth: AuthDeps,
  tx: Executor,
  user: UserRow,
  provider: string,
  input: LoginInput,
  auditDetails: Record<string, unknown> = {},
): Promise<OpenedSession> {
  const refusal = accessRefusal(user.status);
  if (refusal === 'unconfirmed') throw new ConfirmationRequiredError(user.id);
  if (refusal === 'disabled') throw new UserDisabledError(user.id);
  // The key was loaded before the transaction (loadRefreshKey): signing here is only an HMAC.
  const refreshToken = await signRefreshToken(auth.refreshKeys, { sub: user.id, ttlSeconds: auth.settings.refreshTokenTtlSeconds });
  const reported = readReportedDevice(input.device);
  const deviceId = deviceIdFrom(reported.deviceId);
  const session = await sessions.insertSession(tx, {
    userId: user.id,
    tokenHash: hashToken(refreshToken),
    deviceId,
    device: storedDevice(reported),
    ttlSeconds: auth.settings.refreshTokenTtlSeconds,
  });
  const authenticated = await users.recordAuthentication(tx, user.id);
  await recordAuditEvent(tx, userActor(user.id, input.requestId), {
    action: 'login',
    outcome: 'success',
    userId: user.id,
    details: { provider, sessionId: session.id, deviceId, ...auditDetails },
  });
  return { user: authenticated, sessionId: session.id, deviceId, refreshToken };
}

/** Loads the refresh-token key before a transaction opens, so no query for it runs under a row lock. */
async function loadRefreshKey(auth: AuthDeps): Promise<void> {
  await auth.refreshKeys.key();
}

/**
 * Access tokens are signed once the session they name is committed, outside the transaction: no
 * crypto runs under the user's row lock, and a token never names a session that was rolled back.
 */
export async function signFor(auth: AuthDeps, user: UserRow, sessionId: string, deviceId: string): Promise<string> {
  const { token } = await signAccessToken(
    auth.keys,
    { sub: user.id, sid: sessionId, deviceId, userData: user.customData },
    auth.settings.accessTokenTtlSeconds,
  );
  return token;
}

async function loginResult(auth: AuthDeps, opened: OpenedSession): Promise<LoginResult> {
  return {
    userId: opened.user.id,
    accessToken: await signFor(auth, opened.user, opened.sessionId, opened.deviceId),
    refreshToken: opened.refreshToken,
    deviceId: opened.deviceId,
    sessionId: opened.sessionId,
  };
}

/** A password that verified against a hash to be replaced (needsRehash): the hash it had, and ours of the same password. */
export interface PasswordRehash {
  from: string;
  to: string;
}

/** The checked email/password identity, and the re-hash its login stores, if any (storeRehash). */
export interface CheckedPasswordIdentity {
  userId: string;
  rehash: PasswordRehash | null;
}

/**
 * The email/password identity whose password this is, or InvalidCredentialsError (recorded as a
 * failed login). Unknown emails, and identities without a password (users imported without one),
 * cost a check of our Argon2id too, so their timing matches that of users whose hash is ours; a
 * user whose hash is still in an older or imported form (our scrypt of before, bcrypt, Firebase's
 * scrypt, Argon2 of other parameters) takes that form's time until their first login upgrades it.
 * No delay is added to hide that: registration tells anyone whether an email has an account
 * anyway (409 AccountNameInUse, Realm's protocol), and logins are rate limited. A password that
 * verified against an imported hash (Firebase scrypt, bcrypt, Argon2 of other parameters) or our
 * scrypt of before Argon2id is hashed again with ours here, outside any transaction, for the login
 * to store.
 */
export async function checkPasswordCredentials(
  auth: AuthDeps,
  credentials: { username: string; password: string },
  requestId?: string | null,
): Promise<CheckedPasswordIdentity> {
  // A NUL or a lone surrogate is bad input (400), not a wrong password; the address is looked up
  // in the one form it is stored in (normalizeEmail, emailKey).
  const username = normalizeEmail(credentials.username, 'username');
  const identity = username.length <= 254 ? await users.findIdentity(auth.db, LOCAL_USERPASS, users.emailKey(username)) : null;
  const matches = await verifyPassword(credentials.password, identity?.passwordHash ?? (await decoyPasswordHash()));
  if (!identity?.passwordHash || !matches) {
    await recordLoginFailure(auth, identity?.userId ?? null, requestId, {
      provider: LOCAL_USERPASS,
      reason: identity ? 'wrong password' : 'unknown email',
      username: credentials.username.slice(0, 254),
    });
    throw new InvalidCredentialsError();
  }
  return { userId: identity.userId, rehash: await rehashFor(credentials.password, identity.passwordHash) };
}

/**
 * Ours of a password that verified against `stored`, when `stored` needs replacing. Only an
 * improvement: when the hashing queue is full the login goes on without it, and the next one tries again.
 */
async function rehashFor(password: string, stored: string): Promise<PasswordRehash | null> {
  if (!needsRehash(stored)) return null;
  try {
    return { from: stored, to: await hashPassword(password, 'urgent') };
  } catch (err) {
    if (err instanceof QueueFullError) return null;
    throw err;
  }
}

/**
 * Stores a login's re-hash in its transaction, unless the hash changed since it was checked (a
 * password reset committed meanwhile keeps its password). What the login's audit event says of it.
 */
export async function storeRehash(tx: Executor, identity: CheckedPasswordIdentity): Promise<Record<string, unknown>> {
  if (!identity.rehash) return {};
  const { from, to } = identity.rehash;
  const stored = await users.setPasswordHash(tx, identity.userId, LOCAL_USERPASS, to, from);
  return stored ? { passwordRehashedFrom: passwordHashScheme(from) ?? 'unknown' } : {};
}

/** Email/password login. */
export async function logInWithPassword(
  auth: AuthDeps,
  credentials: { username: string; password: string },
  input: LoginInput = {},
): Promise<LoginResult> {
  const identity = await checkPasswordCredentials(auth, credentials, input.requestId);
  await loadRefreshKey(auth);
  let opened: OpenedSession;
  try {
    opened = await auth.db.transaction(async (tx) => {
      const [user] = await users.lockUsers(tx, [identity.userId]);
      // Deleted between the password check and now.
      if (!user) throw new InvalidCredentialsError();
      return openSession(auth, tx, user, LOCAL_USERPASS, input, await storeRehash(tx, identity));
    });
  } catch (err) {
    if (err instanceof AppError) {
      await recordLoginFailure(auth, identity.userId, input.requestId, {
        provider: LOCAL_USERPASS,
        reason: err.message,
        code: err.code,
      });
    }
    throw err;
  }
  return loginResult(auth, opened);
}

/** Anonymous login: a new confirmed user without email, with an `anon-user` identity, and its session. */
export async function logInAnonymously(auth: AuthDeps, input: LoginInput = {}): Promise<LoginResult> {
  await loadRefreshKey(auth);
  const opened = await auth.db.transaction(async (tx) => {
    const user = (await users.insertUserUnlessEmailTaken(tx, { email: null, status: 'confirmed' }))!;
    await users.insertIdentity(tx, { userId: user.id, providerType: ANON_USER, providerId: user.id });
    const actor = userActor(user.id, input.requestId);
    const auditEventId = await recordAuditEvent(tx, actor, {
      action: 'register',
      outcome: 'success',
      userId: user.id,
      details: { provider: ANON_USER },
    });
    await enqueueUserEvent(tx, {
      type: 'user.created',
      userId: user.id,
      actor,
      auditEventId,
      data: { email: null, status: user.status, provider: ANON_USER },
    });
    return openSession(auth, tx, user, ANON_USER, input);
  });
  return loginResult(auth, opened);
}

/**
 * A new access token for a refresh token. One transaction: the user's row is share-locked first,
 * then one conditional UPDATE marks the session used only if it is still live. Against a racing
 * disable, delete or revoke (which lock the row FOR UPDATE), whichever commits second loses: either
 * the refresh sees the user disabled or the session revoked, or the admin action waits for it and
 * then revokes the session the new token names, so verifyAccessToken refuses that token from then on.
 */
export async function refreshAccessToken(auth: AuthDeps, refreshToken: string): Promise<{ accessToken: string }> {
  await checkRefreshToken(auth.refreshKeys, refreshToken, UNKNOWN_REFRESH_TOKEN);
  const tokenHash = hashToken(refreshToken);
  const { user, session } = await auth.db.transaction(async (tx) => {
    const ownerId = await sessions.findSessionOwner(tx, tokenHash);
    const user = ownerId ? await users.lockUserForShare(tx, ownerId) : null;
    if (!user) throw new InvalidSessionError(UNKNOWN_REFRESH_TOKEN);
    const noAccess = noAccessReason(user.status);
    if (noAccess) throw new InvalidSessionError(noAccess);
    const session = await sessions.useLiveSession(tx, tokenHash);
    if (!session) throw new InvalidSessionError('refresh token revoked or expired');
    return { user, session };
  });
  return { accessToken: await signFor(auth, user, session.id, session.deviceId ?? '') };
}

/** Logs one session out: its refresh token is revoked (reason `logout`), and every access token of it fails. */
export async function logOut(auth: AuthDeps, refreshToken: string, requestId?: string | null): Promise<void> {
  try {
    await checkRefreshToken(auth.refreshKeys, refreshToken, UNKNOWN_REFRESH_TOKEN);
  } catch (err) {
    // An expired session can still be logged out: the lookup by hash below decides.
    if (!(err instanceof InvalidSessionError && err.reason === 'refresh token expired')) throw err;
  }
  await auth.db.transaction(async (tx) => {
    const session = await sessions.revokeSessionByToken(tx, hashToken(refreshToken), 'logout');
    if (!session) throw new InvalidSessionError(UNKNOWN_REFRESH_TOKEN);
    const actor = userActor(session.userId, requestId);
    const auditEventId = await recordAuditEvent(tx, actor, {
      action: 'logout',
      outcome: 'success',
      userId: session.userId,
      details: { sessionId: session.id },
    });
    await enqueueUserEvent(tx, {
      type: 'user.sessions_revoked',
      userId: session.userId,
      actor,
      auditEventId,
      data: { revokedSessionCount: 1, reason: 'logout', sessionId: session.id },
    });
  });
  recordSessionsRevoked('logout', 1);
}

export interface Profile {
  user: UserRow;
  identities: IdentityRow[];
}

/** The user an access token belongs to, if the token still grants access. */
export async function profileOf(auth: AuthDeps, accessToken: string): Promise<Profile> {
  const verified = verifyAccessTokenNow(accessToken, auth.verifier) ?? (await verifyAccessToken(accessToken, auth.verifier));
  const found = await users.findUserWithIdentities(auth.db, verified.userId);
  if (!found) throw new InvalidSessionError('session not found');
  return found;
}
