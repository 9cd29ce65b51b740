import { Cache, type CacheOptions } from '../changefeed/cache.js';
import type { RevocationFeed } from '../changefeed/feed.js';
import type { SessionState, SessionStateSource } from './verify.js';

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

  knownSessionState(sessionId: string): SessionState | undefined {
    return this.cache.get(sessionId);
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
