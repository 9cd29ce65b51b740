import { Cache, type CacheOptions } from '../changefeed/cache.js';
import type { RevocationFeed } from '../changefeed/feed.js';
import type { Executor } from '../db/client.js';
import type { AdminKeyRow } from '../db/schema.js';
import { findActiveKeyBySecret, hashSecret, touchAdminKey } from './keys.js';

/**
 * Active admin keys by the SHA-256 of their secret, from memory while the feed is live: a revoked
 * key or a changed role reaches every instance as a notification, so revocation stays immediate.
 * Unknown secrets are never kept (and failed checks are rate-limited elsewhere). Every request
 * hashes the secret it presents (a microsecond or two): nothing here is keyed by a secret itself,
 * so no admin secret outlives its request in the process's memory (a heap or core dump).
 */
export class CachedAdminKeys {
  private readonly cache: Cache<string, AdminKeyRow>;

  constructor(
    private readonly db: Executor,
    feed: RevocationFeed,
    options: CacheOptions = {},
  ) {
    this.cache = new Cache(feed, options.maxEntries ?? 1_000, options.maxAgeMs ?? 60_000);
    feed.subscribe({
      userChanged: () => {},
      // There are few keys: any change to one drops them all.
      keyChanged: () => this.cache.clear(),
      reset: () => this.cache.clear(),
    });
  }

  /** The key of this secret if it is in memory (and the feed live), without a lookup; else undefined. */
  cachedKeyBySecret(secret: string): AdminKeyRow | undefined {
    return this.cache.get(hashSecret(secret).toString('hex'));
  }

  async findActiveKeyBySecret(secret: string): Promise<AdminKeyRow | null> {
    const hash = hashSecret(secret).toString('hex');
    const cached = this.cache.get(hash);
    if (cached) return cached;
    const generation = this.cache.generation;
    const key = await findActiveKeyBySecret(this.db, secret);
    if (key) this.cache.set(hash, key, generation);
    return key;
  }

  /** Whether the key's use was recorded within the last minute, so touch would write nothing. */
  touchedLately(key: AdminKeyRow): boolean {
    return key.lastUsedAt !== null && Date.now() - key.lastUsedAt.getTime() < 60_000;
  }

  /** Records the key's use at most once a minute, as touchAdminKey does, without a write per request. */
  async touch(key: AdminKeyRow): Promise<void> {
    if (this.touchedLately(key)) return;
    const before = key.lastUsedAt;
    // The cached row is this same object: later requests see the new time and skip the write.
    key.lastUsedAt = new Date();
    await touchAdminKey(this.db, { ...key, lastUsedAt: before });
  }
}
