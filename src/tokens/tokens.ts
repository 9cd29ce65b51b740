import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, jwtVerify, errors as joseErrors } from 'jose';
import type { RevocationFeed } from '../changefeed/feed.js';
import type { Database } from '../db/client.js';
import { InvalidSessionError } from './errors.js';
import { SigningKeyRing, type SigningSettings } from './signing-keys.js';

/** The access-token keys of one deployment, with the audience and issuer its tokens carry. */
export type TokenKeys = SigningKeyRing;

/**
 * The deployment's key ring (src/tokens/signing-keys.ts): JWT_SECRET's HS256 key, or the keys the
 * gateway generates and keeps in signing_keys, shared by every instance. With a change feed, a
 * rotation made anywhere is picked up at once.
 */
export function createTokenKeys(db: Database, settings: SigningSettings, feed?: RevocationFeed): TokenKeys {
  return new SigningKeyRing(db, settings, feed);
}

/** What an access token says; whether it still grants access is for verifyAccessToken to decide. */
export interface AccessTokenClaims {
  /** The user id. */
  sub: string;
  /** The session: the id of the refresh_tokens row the token was issued from. */
  sid: string;
  /** The client's device id, as Realm SDKs read it from `baas_device_id`. */
  deviceId: string;
  /** The user's custom data, as Realm SDKs read it from `user_data`. */
  userData: Record<string, unknown>;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
}

export async function signAccessToken(
  keys: TokenKeys,
  claims: Omit<AccessTokenClaims, 'iat' | 'exp'>,
  ttlSeconds: number,
  now = Date.now(),
): Promise<{ token: string; claims: AccessTokenClaims }> {
  const iat = Math.floor(now / 1000);
  const exp = iat + ttlSeconds;
  const signing = await keys.signingKey();
  const token = await new SignJWT({
    typ: 'access',
    sid: claims.sid,
    user_data: claims.userData,
    baas_device_id: claims.deviceId,
  })
    .setProtectedHeader({ alg: signing.alg, kid: signing.kid, typ: 'JWT' })
    .setIssuer(keys.issuer)
    .setSubject(claims.sub)
    .setAudience(keys.audience.length === 1 ? keys.audience[0]! : [...keys.audience])
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(signing.key);
  return { token, claims: { ...claims, iat, exp } };
}

/**
 * Checks what the token itself can tell: well formed; signed by a key of this deployment's ring that
 * may still verify, with that key's own algorithm (so never `none`, and never an HS256 token whose
 * "secret" is a published public key); for this deployment's audience and issuer; not expired; an
 * access token (`typ`), never a refresh token. Revocation is checked elsewhere. Tokens without a kid
 * (issued before signing keys, or with JWT_SECRET by an older instance) are checked with the HS256 key
 * that signed them, without an issuer, which they do not carry.
 */
export async function readAccessToken(keys: TokenKeys, token: string): Promise<AccessTokenClaims> {
  if (token.length > 8192) throw new InvalidSessionError('malformed access token');
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(token);
    if (header.kid !== undefined && typeof header.kid !== 'string') throw new InvalidSessionError('invalid access token');
    kid = header.kid;
  } catch (err) {
    if (err instanceof InvalidSessionError) throw err;
    throw new InvalidSessionError('malformed access token');
  }
  const key = await keys.verificationKey(kid);
  if (!key) throw new InvalidSessionError('invalid access token');
  let payload;
  try {
    ({ payload } = await jwtVerify(token, key.verificationKey, {
      algorithms: [key.alg],
      audience: [...keys.audience],
      issuer: kid === undefined ? undefined : keys.issuer,
      requiredClaims: ['sub', 'sid', 'iat', 'exp'],
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new InvalidSessionError('access token expired');
    if (err instanceof joseErrors.JOSEError) throw new InvalidSessionError('invalid access token');
    throw err;
  }
  const { sub, sid, iat, exp, typ, user_data: userData, baas_device_id: deviceId } = payload as Record<string, unknown>;
  if (typ !== 'access' || typeof sub !== 'string' || typeof sid !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') {
    throw new InvalidSessionError('invalid access token');
  }
  return {
    sub,
    sid,
    iat,
    exp,
    deviceId: typeof deviceId === 'string' ? deviceId : '',
    userData: userData && typeof userData === 'object' ? (userData as Record<string, unknown>) : {},
  };
}

/** 256 random bits, base64url: the opaque refresh token the client keeps. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Refresh and confirmation tokens are stored and looked up only by their SHA-256. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

const OBJECT_ID = /^[0-9a-f]{24}$/i;
const NO_DEVICE = '000000000000000000000000';

/**
 * Realm SDKs send their device id back as an ObjectId (`{"$oid": …}` in EJSON) and store the one a
 * login returns only if it parses as one; a new device gets a fresh ObjectId-shaped id.
 */
export function deviceIdFrom(given: unknown): string {
  const raw = typeof given === 'string' ? given : (given as { $oid?: unknown } | null)?.$oid;
  if (typeof raw === 'string' && OBJECT_ID.test(raw) && raw !== NO_DEVICE) return raw.toLowerCase();
  const seconds = Math.floor(Date.now() / 1000).toString(16).padStart(8, '0');
  return seconds + randomBytes(8).toString('hex');
}
