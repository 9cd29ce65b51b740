import { Cache, type CacheOptions } from '../changefeed/cache.js';
import type { RevocationFeed } from '../changefeed/feed.js';
import { userStatus, type UserStatus } from '../db/schema.js';
import type { SessionState, SessionStateSource } from './verify.js';

/** The statuses as one string each: a state read from the database carries a string of its own per row. */
const STATUSES = new Map<string, UserStatus>(userStatus.enumValues.map((status) => [status, status]));

/**
 * Session states for verifyAccessToken, from memory while the feed is live. In the common case a
 * token check then needs no database round trip; any change to the user or its sessions drops the
 * user's entries on every instance before (here) or within milliseconds of (elsewhere) its commit.
 */
export class CachedSessionStates implements SessionStateSource {
  private readonly cache: Cache<string, SessionState>;
  /**
   * The cached sessions of each user: the session id itself while it is the user's only one (most
   * users have one or two), a set from the second on. A set of one costs ten times its id (issue 18).
   */
  private readonly sessionsByUser = new Map<string, string | Set<string>>();

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
    const read = await this.source.getSessionState(sessionId);
    if (!read) return read;
    const state = { ...read, userStatus: STATUSES.get(read.userStatus) ?? read.userStatus };
    // Unknown sessions are not kept: they are rare, and a valid signature is needed to ask.
    if (this.cache.set(sessionId, state, generation)) this.index(state.userId, sessionId);
    return state;
  }

  /** How many sessions are cached (for tests and metrics). */
  get size(): number {
    return this.cache.size;
  }

  /** How many users the index holds (for tests: none once their sessions are gone). */
  get indexedUsers(): number {
    return this.sessionsByUser.size;
  }

  /** The cached sessions of `userId` (for tests). */
  sessionsOf(userId: string): string[] {
    const sessions = this.sessionsByUser.get(userId);
    return sessions === undefined ? [] : typeof sessions === 'string' ? [sessions] : [...sessions];
  }

  private forgetUser(userId: string) {
    const sessions = this.sessionsByUser.get(userId);
    this.sessionsByUser.delete(userId);
    if (typeof sessions === 'string') this.cache.delete(sessions);
    else for (const sessionId of sessions ?? []) this.cache.delete(sessionId);
    // Also stops reads in flight for this user's sessions from storing what they read before the change.
    this.cache.generation += 1;
  }

  private index(userId: string, sessionId: string) {
    const sessions = this.sessionsByUser.get(userId);
    if (sessions === undefined || sessions === sessionId) this.sessionsByUser.set(userId, sessionId);
    else if (typeof sessions === 'string') this.sessionsByUser.set(userId, new Set([sessions, sessionId]));
    else sessions.add(sessionId);
  }

  private unindex(userId: string, sessionId: string) {
    const sessions = this.sessionsByUser.get(userId);
    if (sessions === sessionId) this.sessionsByUser.delete(userId);
    else if (typeof sessions === 'object' && sessions.delete(sessionId)) {
      if (sessions.size === 1) this.sessionsByUser.set(userId, sessions.values().next().value!);
    }
  }
}
