// The bookkeeping of a per-instance cache kept exact by the change feed (feed.ts): an entry is used
// only while the feed is live, and what a read started before an invalidation found is not kept.
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
 * The bookkeeping every cache shares. Reads that started before an invalidation must not put back
 * what they read: every invalidation bumps `generation`, and a read stores its answer only if the
 * generation is still the one it started under and the feed is live.
 */
export class Cache<K, T> {
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
