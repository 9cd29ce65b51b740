import { Cache, type CacheOptions } from '../changefeed/cache.js';
import type { RevocationFeed } from '../changefeed/feed.js';
import type { Executor } from '../db/client.js';
import type { AdminKeyRow } from '../db/schema.js';
import { findActiveKeyBySecret, hashSecret, touchAdminKey } from './keys.js';

/** At most this many secrets' digests are remembered (there are few keys; see digestOf). */
const DIGESTS_MAX = 100;

/**
 * Active admin keys by the SHA-256 of their secret, from memory while the feed is live: a revoked
 * key or a changed role reaches every instance as a notification, so revocation stays immediate.
 * Unknown secrets are never kept (and failed checks are rate-limited elsewhere).
 */
export class CachedAdminKeys {
  private readonly cache: Cache<string, AdminKeyRow>;
  /**
   * The digest of each secret that was an active key's, so that a request presenting it again skips
   * the SHA-256 (issue 18). Only the digest is remembered here, never whether the key works: that is
   * still asked of `cache` (by digest) on every request, and `cache` forgets a revoked or changed key
   * at its notification. Dropped with the keys, so a revoked key's secret does not stay in memory.
   */
  private readonly digests = new Map<string, string>();

  constructor(
    private readonly db: Executor,
    feed: RevocationFeed,
    options: CacheOptions = {},
  ) {
    this.cache = new Cache(feed, options.maxEntries ?? 1_000, options.maxAgeMs ?? 60_000);
    feed.subscribe({
      userChanged: () => {},
      // There are few keys: any change to one drops them all.
      keyChanged: () => this.clear(),
      reset: () => this.clear(),
    });
  }

  private clear() {
    this.cache.clear();
    this.digests.clear();
  }

  /** The hex SHA-256 of `secret`: remembered for secrets that were an active key's, computed otherwise. */
  private digestOf(secret: string): string {
    return this.digests.get(secret) ?? hashSecret(secret).toString('hex');
  }

  /** The key of this secret if it is in memory (and the feed live), without a lookup; else undefined. */
  cachedKeyBySecret(secret: string): AdminKeyRow | undefined {
    return this.cache.get(this.digestOf(secret));
  }

  async findActiveKeyBySecret(secret: string): Promise<AdminKeyRow | null> {
    const hash = this.digestOf(secret);
    const cached = this.cache.get(hash);
    if (cached) return cached;
    const generation = this.cache.generation;
    const key = await findActiveKeyBySecret(this.db, secret);
    if (key && this.cache.set(hash, key, generation) && !this.digests.has(secret)) {
      if (this.digests.size >= DIGESTS_MAX) this.digests.delete(this.digests.keys().next().value!);
      this.digests.set(secret, hash);
    }
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
