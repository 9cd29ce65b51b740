// The admin key a request authenticates with, from its Authorization header, under the
// per-address limit on failed key checks.
import { findActiveKeyBySecret, touchAdminKey } from '../admin/keys.js';
import type { CachedAdminKeys } from '../admin/key-cache.js';
import type { Database } from '../db/client.js';
import type { AdminKeyRow } from '../db/schema.js';
import { isRefusal, type FailureCounter } from '../limits/index.js';
import type { Logger } from '../logger.js';
import { TooManyAttemptsError } from './errors.js';

/**
 * The admin key of a request's Authorization header (null when none), or null; rejects with
 * TooManyAttemptsError past the limit. Answered without a promise when it needs no lookup (no
 * header, or a key in the instance's cache): callers await it, or test for a Promise.
 */
export type AuthenticateAdminKey = (authorization: string | null, address: string) => AdminKeyRow | null | Promise<AdminKeyRow | null>;

const BEARER_KEY = /^Bearer\s+(\S{1,512})\s*$/i;

export function createAdminKeyAuth(deps: {
  db: Database;
  /** The per-instance cache of admin keys, kept exact by notifications; without it, every check reads the database. */
  adminKeys: CachedAdminKeys | null;
  /** Failed admin-key checks per source address. */
  limiter: FailureCounter;
  logger: Logger;
}): AuthenticateAdminKey {
  const { db, adminKeys, limiter, logger } = deps;
  /**
   * The admin key of the request, or null. A request that sends an Authorization header without a
   * working key counts as a failure of its address; past the limit, every key check from that
   * address is refused with TooManyAttemptsError until its window ends. The check is counted
   * before the lookup starts and handed back if the key works, so concurrent bad keys cannot all
   * be looked up before the first is counted (src/limits/attempts.ts).
   */
  return function authenticate(header: string | null, address: string): AdminKeyRow | null | Promise<AdminKeyRow | null> {
    if (header === null) return null;
    const secret = BEARER_KEY.exec(header)?.[1];
    // The common case, answered without yielding: a key in the instance's cache, from an address
    // the limit would admit at once. Admitted and handed back in the same tick, the attempt would
    // change nothing, so it is not made (its promises were a share of a token check, issue 18).
    if (secret !== undefined && adminKeys && limiter.admitsNow?.(address)) {
      const cached = adminKeys.cachedKeyBySecret(secret);
      if (cached) {
        if (!adminKeys.touchedLately(cached)) adminKeys.touch(cached).catch((err) => logger.warn({ err }, 'could not record admin key use'));
        return cached;
      }
    }
    return lookUp(secret, address);
  };

  /** The check that may yield: counted under the address's limit, the key read through the cache or the database. */
  async function lookUp(secret: string | undefined, address: string): Promise<AdminKeyRow | null> {
    const attempt = await limiter.attempt(address);
    if (isRefusal(attempt)) throw new TooManyAttemptsError(attempt.retryAfter);
    let key: AdminKeyRow | null;
    try {
      key = secret !== undefined ? await (adminKeys?.findActiveKeyBySecret(secret) ?? findActiveKeyBySecret(db, secret)) : null;
    } catch (err) {
      attempt.abandoned();
      throw err;
    }
    if (!key) {
      attempt.failed();
      logger.warn({ address }, 'a request came with an unknown, revoked or malformed admin key');
      return null;
    }
    void attempt.succeeded();
    (adminKeys?.touch(key) ?? touchAdminKey(db, key)).catch((err) => logger.warn({ err }, 'could not record admin key use'));
    return key;
  }
}
