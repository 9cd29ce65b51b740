// Per-instance caches of what token and admin-key checks read, invalidated by the change feed
// (feed.ts): an entry is used only while the feed is live, and dropped as soon as it is notified.
import { findActiveKeyBySecret, hashSecret, touchAdminKey } from '../admin/keys.js';
import type { Executor } from '../db/client.js';
import type { AdminKeyRow } from '../db/schema.js';
import type { SessionState, SessionStateSource } from '../tokens/verify.js';
import type { RevocationFeed } from './feed.js';

export interface CacheOptions {
  /** At most this many entries; the oldest go first. */
  maxEntries?: number;
  /** An entry is read again after this long, even without a notification: a bound on any surprise. */
  maxAgeMs?: number;
}

interface Entry<T> {
  value: T;
  at: number;
}

/**
 * The bookkeeping both caches share. Reads that started before an invalidation must not put back
 * what they read: every invalidation bumps `generation`, and a read stores its answer only if the
 * generation is still the one it started under and the feed is live.
 */
class Cache<K, T> {
  private readonly entries = new Map<K, Entry<T>>();
  generation = 0;

  constructor(
    private readonly feed: RevocationFeed,
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
    /** Told of every entry that goes because it is too old or the cache is full. */
    private readonly onDrop: (key: K, value: T) => void = () => {},
  ) {}

  get(key: K): T | undefined {
    if (!this.feed.live) return undefined;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() - entry.at > this.maxAgeMs) {
      this.entries.delete(key);
      this.onDrop(key, entry.value);
      return undefined;
    }
    return entry.value;
  }

  /** Stores what a read that started under `generation` found, unless something changed since. */
  set(key: K, value: T, generation: number): boolean {
    if (!this.feed.live || generation !== this.generation) return false;
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [K, Entry<T>];
      this.entries.delete(oldestKey);
      this.onDrop(oldestKey, oldest.value);
    }
    this.entries.set(key, { value, at: Date.now() });
    return true;
  }

  delete(key: K) {
    this.entries.delete(key);
  }

  /** Drops everything, and what reads in flight would store. */
  clear() {
    this.entries.clear();
    this.generation += 1;
  }

  get size() {
    return this.entries.size;
  }
}

/**
 * Session states for verifyAccessToken, from memory while the feed is live. In the common case a
 * token check then needs no database round trip; any change to the user or its sessions drops the
 * user's entries on every instance before (here) or within milliseconds of (elsewhere) its commit.
 */
export class CachedSessionStates implements SessionStateSource {
  private readonly cache: Cache<string, SessionState>;
  private readonly sessionsByUser = new Map<string, Set<string>>();

  constructor(
    private readonly source: SessionStateSource,
    feed: RevocationFeed,
    options: CacheOptions = {},
  ) {
    this.cache = new Cache(feed, options.maxEntries ?? 100_000, options.maxAgeMs ?? 60_000, (sessionId, state) =>
      this.unindex(state.userId, sessionId),
    );
    feed.subscribe({
      userChanged: (userId) => this.forgetUser(userId),
      keyChanged: () => {},
      reset: () => {
        this.cache.clear();
        this.sessionsByUser.clear();
      },
    });
  }

  async getSessionState(sessionId: string): Promise<SessionState | null> {
    const cached = this.cache.get(sessionId);
    if (cached) return cached;
    const generation = this.cache.generation;
    const state = await this.source.getSessionState(sessionId);
    // Unknown sessions are not kept: they are rare, and a valid signature is needed to ask.
    if (state && this.cache.set(sessionId, state, generation)) {
      let sessions = this.sessionsByUser.get(state.userId);
      if (!sessions) this.sessionsByUser.set(state.userId, (sessions = new Set()));
      sessions.add(sessionId);
    }
    return state;
  }

  /** How many sessions are cached (for tests and metrics). */
  get size(): number {
    return this.cache.size;
  }

  private forgetUser(userId: string) {
    const sessions = this.sessionsByUser.get(userId);
    this.sessionsByUser.delete(userId);
    for (const sessionId of sessions ?? []) this.cache.delete(sessionId);
    // Also stops reads in flight for this user's sessions from storing what they read before the change.
    this.cache.generation += 1;
  }

  private unindex(userId: string, sessionId: string) {
    const sessions = this.sessionsByUser.get(userId);
    sessions?.delete(sessionId);
    if (sessions?.size === 0) this.sessionsByUser.delete(userId);
  }
}

/**
 * Active admin keys by the SHA-256 of their secret, from memory while the feed is live: a revoked
 * key or a changed role reaches every instance as a notification, so revocation stays immediate.
 * Unknown secrets are never kept (and failed checks are rate-limited elsewhere).
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

  async findActiveKeyBySecret(secret: string): Promise<AdminKeyRow | null> {
    const hash = hashSecret(secret).toString('hex');
    const cached = this.cache.get(hash);
    if (cached) return cached;
    const generation = this.cache.generation;
    const key = await findActiveKeyBySecret(this.db, secret);
    if (key) this.cache.set(hash, key, generation);
    return key;
  }

  /** Records the key's use at most once a minute, as touchAdminKey does, without a write per request. */
  async touch(key: AdminKeyRow): Promise<void> {
    if (key.lastUsedAt && Date.now() - key.lastUsedAt.getTime() < 60_000) return;
    const before = key.lastUsedAt;
    // The cached row is this same object: later requests see the new time and skip the write.
    key.lastUsedAt = new Date();
    await touchAdminKey(this.db, { ...key, lastUsedAt: before });
  }
}
