// Refresh tokens as signed JWTs. realm-core (impl/app_metadata.cpp, jwt.cpp) parses both tokens a
// login returns as JWTs (three base64url parts, a JSON payload with numeric `exp` and `iat`) and drops
// a user whose refresh token is not one; so the refresh token is a JWT too. Its secret part is still
// 256 random bits (`jti`), it is still stored only as a SHA-256 (src/sessions/repository.ts), and the
// session row stays the one authority on whether it works: revocation rules are unchanged.
//
// It is signed with its own key (gateway_secrets `refresh_token_signing_key`), never with JWT_SECRET or
// any key an access-token verifier may be given: a refresh token is never a valid access token, and
// its `typ` (`refresh`) and audience (`<app id>#refresh`) say so again. An access token fails here on
// the key, the `typ` and the audience.
import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { Executor } from '../db/client.js';
import { InvalidSessionError } from './errors.js';
import { findGatewaySecret, insertGatewaySecretUnlessExists } from './secrets.js';
import { importHs256Key } from './signing-keys.js';

const REFRESH_TOKEN_ALGORITHM = 'HS256';
const REFRESH_KEY_SECRET_NAME = 'refresh_token_signing_key';
export const REFRESH_TOKEN_TYPE = 'refresh';

/** The refresh-token key of one deployment, shared by its instances through gateway_secrets. */
export interface RefreshTokenKeys {
  /** The audience refresh tokens carry: the app id with `#refresh`, never the access tokens' audience. */
  audience: string;
  key(): Promise<CryptoKey>;
}

export function createRefreshTokenKeys(db: Executor, settings: { appId: string }): RefreshTokenKeys {
  let loading: Promise<CryptoKey> | undefined;
  const load = async (): Promise<CryptoKey> => {
    // Of instances starting together, the first insert wins and everyone reads that one.
    await insertGatewaySecretUnlessExists(db, REFRESH_KEY_SECRET_NAME, randomBytes(32).toString('base64url'));
    const stored = await findGatewaySecret(db, REFRESH_KEY_SECRET_NAME);
    if (!stored) throw new Error(`gateway secret ${REFRESH_KEY_SECRET_NAME} is missing right after its insert`);
    return importHs256Key(Buffer.from(stored, 'base64url'));
  };
  return {
    audience: `${settings.appId}#refresh`,
    key() {
      loading ??= load().catch((err) => {
        loading = undefined;
        throw err;
      });
      return loading;
    },
  };
}

/** A new refresh token for the user: a JWT whose `jti` holds 256 random bits. */
export async function signRefreshToken(
  keys: RefreshTokenKeys,
  claims: { sub: string; ttlSeconds: number },
  now = Date.now(),
): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({ typ: REFRESH_TOKEN_TYPE })
    .setProtectedHeader({ alg: REFRESH_TOKEN_ALGORITHM, typ: 'JWT' })
    .setSubject(claims.sub)
    .setAudience(keys.audience)
    .setJti(randomBytes(32).toString('base64url'))
    .setIssuedAt(iat)
    .setExpirationTime(iat + claims.ttlSeconds)
    .sign(await keys.key());
}

/** A JWT in shape (three dot-separated parts), as opposed to the opaque refresh tokens issued before. */
const looksLikeJwt = (token: string) => token.split('.').length === 3;

/**
 * Checks what a refresh token itself can tell, before its session is looked up by hash: signed
 * with the refresh key, `typ` refresh, this app's refresh audience. An access token (or anything
 * else shaped like a JWT) is refused here. An opaque token issued before refresh tokens became JWTs
 * passes on to the lookup by hash, which alone decides for it, as it always did.
 */
export async function checkRefreshToken(keys: RefreshTokenKeys, token: string, unknownReason: string): Promise<void> {
  if (token.length > 4096) throw new InvalidSessionError(unknownReason);
  if (!looksLikeJwt(token)) return;
  let payload;
  try {
    ({ payload } = await jwtVerify(token, await keys.key(), {
      algorithms: [REFRESH_TOKEN_ALGORITHM],
      audience: keys.audience,
      requiredClaims: ['sub', 'jti', 'iat', 'exp'],
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new InvalidSessionError('refresh token expired');
    if (err instanceof joseErrors.JOSEError) throw new InvalidSessionError(unknownReason);
    throw err;
  }
  if (payload.typ !== REFRESH_TOKEN_TYPE) throw new InvalidSessionError(unknownReason);
}
