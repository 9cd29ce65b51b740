import { createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, jwtVerify, errors as joseErrors } from 'jose';
import type { RevocationFeed } from '../changefeed/feed.js';
import type { Database } from '../db/client.js';
import { sha256 } from '../sha256.js';
import { InvalidSessionError } from './errors.js';
import { SigningKeyRing, tokenDigest, type SigningSettings } from './signing-keys.js';

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
  // The same token checked before, under the same ring, not expired since (SigningKeyRing.checkedToken).
  const digest = tokenDigest(token);
  const checked = keys.checkedToken(digest);
  if (checked !== undefined) return checked;
  const header = protectedHeaderOf(token);
  if (header.kid !== undefined && typeof header.kid !== 'string') throw new InvalidSessionError('invalid access token');
  const kid = header.kid;
  const key = await keys.verificationKey(kid);
  if (!key) throw new InvalidSessionError('invalid access token');
  const issuer = kid === undefined ? undefined : keys.issuer;
  let payload;
  if (key.hmacSecret && header.alg === 'HS256' && header.crit === undefined && header.b64 === undefined) {
    payload = verifyHs256(token, key.hmacSecret, keys.audience, issuer);
  } else {
    try {
      ({ payload } = await jwtVerify(token, key.verificationKey, {
        algorithms: [key.alg],
        audience: [...keys.audience],
        issuer,
        requiredClaims: REQUIRED_CLAIMS,
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new InvalidSessionError('access token expired');
      if (err instanceof joseErrors.JOSEError) throw new InvalidSessionError('invalid access token');
      throw err;
    }
  }
  const { sub, sid, iat, exp, typ, user_data: userData, baas_device_id: deviceId } = payload as Record<string, unknown>;
  if (typ !== 'access' || typeof sub !== 'string' || typeof sid !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') {
    throw new InvalidSessionError('invalid access token');
  }
  const claims: AccessTokenClaims = Object.freeze({
    sub,
    sid,
    iat,
    exp,
    deviceId: typeof deviceId === 'string' ? deviceId : '',
    userData:
      userData && typeof userData === 'object' && (Array.isArray(userData) || hasAnyKey(userData)) ? Object.freeze(userData as Record<string, unknown>) : NO_USER_DATA,
  });
  keys.rememberChecked(digest, kid, key, claims);
  return claims;
}

const REQUIRED_CLAIMS = ['sub', 'sid', 'iat', 'exp'];
/** The userData of every token without any: one object for all the checked tokens kept in memory. */
const NO_USER_DATA: Readonly<Record<string, unknown>> = Object.freeze({});
const hasAnyKey = (object: object) => {
  for (const _ in object) return true;
  return false;
};
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

type ProtectedHeader = ReturnType<typeof decodeProtectedHeader>;

/**
 * Decoded protected headers by their base64url segment. A deployment's tokens share a handful of
 * headers (one per signing key), so each is decoded once instead of on every check (issue 18).
 * Bounded: cleared when full, so forged headers cannot make it grow.
 */
const decodedHeaders = new Map<string, ProtectedHeader>();
const DECODED_HEADERS_MAX = 64;

/** The token's protected header, as jose's decodeProtectedHeader reads it (3 or 5 segments), frozen and shared. */
function protectedHeaderOf(token: string): ProtectedHeader {
  const firstDot = token.indexOf('.');
  let dots = 0;
  for (let at = firstDot; at >= 0; at = token.indexOf('.', at + 1)) dots += 1;
  if (firstDot <= 0 || (dots !== 2 && dots !== 4)) throw new InvalidSessionError('malformed access token');
  const segment = token.slice(0, firstDot);
  let header = decodedHeaders.get(segment);
  if (header === undefined) {
    try {
      header = Object.freeze(decodeProtectedHeader({ protected: segment }));
    } catch {
      throw new InvalidSessionError('malformed access token');
    }
    if (decodedHeaders.size >= DECODED_HEADERS_MAX) decodedHeaders.clear();
    decodedHeaders.set(segment, header);
  }
  return header;
}

/**
 * jwtVerify of an HS256 token, with node:crypto's HMAC instead of WebCrypto's (a sixth of
 * /introspect's CPU time went to WebCrypto's promise round trips, issue 18). The same checks, with
 * the same outcome: the signature, then the claims set a JSON object, `sub` and `sid` strings, the
 * issuer (when one is expected), the audience, `iat` and `exp` numbers, `nbf` (if any) a number not
 * in the future, and `exp` not past (else "expired"); each check also stands for jose's
 * "required claim present".
 * The header's `alg` is HS256 and it has no `crit` or `b64` (the caller sends such tokens to jose).
 * Stricter than jose in one way only: the signature must be the canonical base64url of the HMAC, as
 * every token the gateway signs has it.
 */
function verifyHs256(token: string, secret: KeyObject, audience: readonly string[], issuer: string | undefined): Record<string, unknown> {
  const invalid = () => new InvalidSessionError('invalid access token');
  const firstDot = token.indexOf('.');
  const lastDot = token.lastIndexOf('.');
  if (firstDot < 0 || lastDot === firstDot || token.indexOf('.', firstDot + 1) !== lastDot) throw invalid();
  const expected = createHmac('sha256', secret).update(token.slice(0, lastDot)).digest('base64url');
  const given = token.slice(lastDot + 1);
  if (given.length !== expected.length || !timingSafeEqual(Buffer.from(given), Buffer.from(expected))) throw invalid();
  let claims: unknown;
  try {
    claims = JSON.parse(strictUtf8.decode(Buffer.from(token.slice(firstDot + 1, lastDot), 'base64url')));
  } catch {
    throw invalid();
  }
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) throw invalid();
  const set = claims as Record<string, unknown>;
  // Each check implies the claim is present (jose's requiredClaims); `sub` and `sid` are checked
  // here, before expiry, as jose's required claims were.
  if (typeof set.sub !== 'string' || typeof set.sid !== 'string') throw invalid();
  if (issuer !== undefined && set.iss !== issuer) throw invalid();
  const aud = set.aud;
  if (!(typeof aud === 'string' ? audience.includes(aud) : Array.isArray(aud) && audience.some((a) => aud.includes(a)))) throw invalid();
  if (typeof set.iat !== 'number' || typeof set.exp !== 'number') throw invalid();
  const now = Math.floor(Date.now() / 1000);
  if (set.nbf !== undefined && (typeof set.nbf !== 'number' || set.nbf > now)) throw invalid();
  if (set.exp <= now) throw new InvalidSessionError('access token expired');
  return set;
}

/** 256 random bits, base64url: the opaque refresh token the client keeps. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Refresh and confirmation tokens are stored and looked up only by their SHA-256. */
export function hashToken(token: string): Buffer {
  return sha256(token);
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
