import type { Database, Executor } from '../db/client.js';
import { UUID_PATTERN } from '../db/keyset.js';
import type { UserStatus } from '../db/schema.js';
import { whyNotLive } from '../sessions/live.js';
import { accessRefusal } from '../users/rules.js';
import { InvalidSessionError } from './errors.js';
import { findSessionState, type SessionRowState } from '../sessions/repository.js';
import { tokenDigest, type AccessTokenChecked, type SigningSettings } from './signing-keys.js';
import { createTokenKeys, readAccessToken, type TokenKeys } from './tokens.js';

/** What an access token's validity depends on beyond its signature: its session and its user. */
export type SessionState = SessionRowState;

/**
 * Where verification reads session state. Today one indexed query per check; an instance-local
 * cache invalidated by LISTEN/NOTIFY can implement the same interface without touching callers.
 */
export interface SessionStateSource {
  /** null when there is no such session (never issued, or its user was deleted). */
  getSessionState(sessionId: string): Promise<SessionState | null>;
  /** The state if it is known without yielding (a cache); undefined when only getSessionState can tell. */
  knownSessionState?(sessionId: string): SessionState | undefined;
}

export function databaseSessionStates(db: Executor): SessionStateSource {
  return { getSessionState: (sessionId) => findSessionState(db, sessionId) };
}

/** Everything verifyAccessToken needs: the signing key and the session state. */
export interface AccessTokenVerifier {
  keys: TokenKeys;
  sessions: SessionStateSource;
}

/**
 * A verifier over the gateway's database, for the app's own back end running in-process, with the
 * gateway's settings (at least the app id and PUBLIC_URL or ACCESS_TOKEN_ISSUER):
 * `verifyAccessToken(token, createAccessTokenVerifier(db, config.auth))`. Every algorithm works.
 */
export function createAccessTokenVerifier(db: Database, settings: SigningSettings): AccessTokenVerifier {
  return { keys: createTokenKeys(db, settings), sessions: databaseSessionStates(db) };
}

/** Why a user's tokens are refused for its status (the InvalidSessionError reason), or null when they work. */
export function noAccessReason(status: UserStatus): 'user disabled' | 'confirmation required' | null {
  const refusal = accessRefusal(status);
  return refusal === 'disabled' ? 'user disabled' : refusal === 'unconfirmed' ? 'confirmation required' : null;
}

export interface VerifiedAccessToken {
  userId: string;
  sessionId: string;
  deviceId: string;
  userData: Record<string, unknown>;
  /** Seconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
  /** The app id the token was issued for. */
  audience: string;
}

/**
 * The one check of an access token, used by every route that takes one and by /introspect: the
 * signature, algorithm, audience and expiry, then the session (it exists, is not revoked or expired)
 * and its user (confirmed: not disabled, not pending; a deleted user has no sessions left).
 * Throws InvalidSessionError, whose `reason` says which check failed.
 */
export async function verifyAccessToken(token: string, verifier: AccessTokenVerifier): Promise<VerifiedAccessToken> {
  const claims = await readAccessToken(verifier.keys, token);
  if (!UUID_PATTERN.test(claims.sid)) throw new InvalidSessionError('invalid access token');
  return verifiedWith(claims, await verifier.sessions.getSessionState(claims.sid.toLowerCase()), verifier);
}

/**
 * verifyAccessToken without yielding, when everything it needs is in memory: a token checked before
 * (SigningKeyRing.checkedToken) whose session state the cache holds. Undefined when it cannot tell
 * (then verifyAccessToken must); throws InvalidSessionError as verifyAccessToken does. The same
 * checks, in the same order, minus promises (issue 18).
 */
export function verifyAccessTokenNow(token: string, verifier: AccessTokenVerifier): VerifiedAccessToken | undefined {
  const known = verifier.sessions.knownSessionState;
  if (known === undefined || token.length > 8192) return undefined;
  const claims = verifier.keys.checkedToken(tokenDigest(token));
  if (claims === undefined) return undefined;
  if (!UUID_PATTERN.test(claims.sid)) throw new InvalidSessionError('invalid access token');
  const state = known.call(verifier.sessions, claims.sid.toLowerCase());
  return state === undefined ? undefined : verifiedWith(claims, state, verifier);
}

/** The rest of verifyAccessToken, once the token is read and its session state known. */
function verifiedWith(claims: AccessTokenChecked, state: SessionState | null, verifier: AccessTokenVerifier): VerifiedAccessToken {
  if (!state || state.userId !== claims.sub) throw new InvalidSessionError('session not found');
  const notLive = whyNotLive(state);
  if (notLive) throw new InvalidSessionError(`session ${notLive}`);
  const noAccess = noAccessReason(state.userStatus);
  if (noAccess) throw new InvalidSessionError(noAccess);
  return {
    userId: claims.sub,
    sessionId: claims.sid,
    deviceId: claims.deviceId,
    userData: claims.userData,
    issuedAt: claims.iat,
    expiresAt: claims.exp,
    audience: verifier.keys.appId,
  };
}
