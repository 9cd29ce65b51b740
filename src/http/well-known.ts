// GET /.well-known/jwks.json and /.well-known/openid-configuration: what a service needs to verify
// the gateway's access tokens itself (PowerSync, Hasura, PostgREST, API gateways, any `jose` back end).
import { createHash } from 'node:crypto';
import type { TokenKeys } from '../tokens/tokens.js';
import { json } from './json.js';

export const JWKS_PATH = '/.well-known/jwks.json';
export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration';

export function isWellKnownPath(pathname: string): boolean {
  return pathname === JWKS_PATH || pathname === OPENID_CONFIGURATION_PATH;
}

// Verifiers fetch again on a kid they do not know (jose does), so a short max-age only bounds how long
// a cache in between (a CDN) may hand out the keys from before a rotation.
const PUBLIC_DOCUMENT = {
  'cache-control': 'public, max-age=60, must-revalidate',
  'access-control-allow-origin': '*',
};

/** Answers the well-known documents from the key ring: public keys only, never an HS256 secret. */
export function createWellKnown(keys: TokenKeys, publicUrl: string) {
  return async (request: Request, pathname: string): Promise<Response> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return json({ error: 'method not allowed' }, 405, { allow: 'GET, HEAD' });
    }
    const body =
      pathname === JWKS_PATH
        ? { keys: await keys.publicKeys() }
        : {
            issuer: keys.issuer,
            jwks_uri: `${publicUrl}${JWKS_PATH}`,
            id_token_signing_alg_values_supported: [await keys.algorithm()],
            subject_types_supported: ['public'],
            response_types_supported: ['token'],
          };
    const text = JSON.stringify(body);
    const etag = `"${createHash('sha256').update(text).digest('base64url').slice(0, 22)}"`;
    const headers = { ...PUBLIC_DOCUMENT, etag, 'content-type': 'application/json; charset=utf-8' };
    if (request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers });
    return new Response(request.method === 'HEAD' ? null : text, { status: 200, headers });
  };
}
