import * as crypto from 'node:crypto';

/**
 * SHA-256 of a string's UTF-8 bytes, as admin keys, refresh tokens and mailed tokens are stored and
 * looked up. node:crypto's one-shot `hash` (Node ≥ 20.12) where there is one: about a third of the
 * CPU of createHash().update().digest(), paid on every admin-key and refresh-token check.
 */
export const sha256: (text: string) => Buffer =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'buffer')
    : (text) => crypto.createHash('sha256').update(text, 'utf8').digest();

/** The same SHA-256 as 32 one-byte characters (`binary` is latin1): a compact Map key for a long secret (a token). */
export const sha256Key: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'binary')
    : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('binary');
