// The per-instance cache of session states (src/tokens/session-cache.ts) and its index of each
// user's cached sessions: a user's change forgets exactly that user's sessions, however many it has
// and whichever of them the cache dropped on its own before (full, or too old).
import { describe, expect, it } from 'vitest';
import type { RevocationFeed, RevocationSubscriber } from '../src/changefeed/feed.js';
import { CachedSessionStates } from '../src/tokens/session-cache.js';
import type { SessionState } from '../src/tokens/verify.js';

function setUp(options: { maxEntries?: number; maxAgeMs?: number } = {}) {
  const subscribers: RevocationSubscriber[] = [];
  const feed: RevocationFeed = { live: true, subscribe: (s) => subscribers.push(s), close: async () => {} };
  const owners = new Map<string, string>();
  let reads = 0;
  const source = {
    async getSessionState(sessionId: string): Promise<SessionState | null> {
      reads += 1;
      const userId = owners.get(sessionId);
      // A fresh string per read, as a row from the database is.
      return userId === undefined ? null : { userId, userStatus: ['con', 'firmed'].join('') as 'confirmed', revokedAt: null, expiresAt: new Date(Date.now() + 60_000) };
    },
  };
  const cache = new CachedSessionStates(source, feed, options);
  const userChanged = (userId: string) => subscribers.forEach((s) => s.userChanged(userId));
  return { cache, owners, userChanged, reads: () => reads };
}

describe('CachedSessionStates', () => {
  it("forgets all of a user's sessions on its change, one or many, and no one else's", async () => {
    const { cache, owners, userChanged } = setUp();
    const sessions = { ann: ['a1'], bob: ['b1', 'b2'], cid: ['c1', 'c2', 'c3'] };
    for (const [user, ids] of Object.entries(sessions)) for (const id of ids) owners.set(id, user);
    // Each read twice at once (both miss, both store): indexed once, as one id or a set without repeats.
    for (const id of owners.keys()) {
      const states = await Promise.all([cache.getSessionState(id), cache.getSessionState(id)]);
      expect(states.map((state) => state?.userStatus)).toEqual(['confirmed', 'confirmed']);
    }
    expect(cache.size).toBe(6);
    for (const [user, ids] of Object.entries(sessions)) expect(cache.sessionsOf(user).sort()).toEqual(ids);

    userChanged('cid');
    expect(['c1', 'c2', 'c3'].map((id) => cache.knownSessionState(id))).toEqual([undefined, undefined, undefined]);
    expect(cache.sessionsOf('cid')).toEqual([]);
    userChanged('ann');
    expect(cache.knownSessionState('a1')).toBeUndefined();
    expect(cache.knownSessionState('b1')?.userId).toBe('bob');
    expect(cache.knownSessionState('b2')?.userId).toBe('bob');
    userChanged('bob');
    expect(cache.size).toBe(0);
    expect(['ann', 'bob', 'cid'].flatMap((user) => cache.sessionsOf(user))).toEqual([]);
    // A user's only session read twice at once, then forgotten: nothing of it stays indexed.
    await Promise.all([cache.getSessionState('a1'), cache.getSessionState('a1')]);
    expect(cache.sessionsOf('ann')).toEqual(['a1']);
    userChanged('ann');
    expect(cache.sessionsOf('ann')).toEqual([]);
    expect(cache.size).toBe(0);
    expect(cache.indexedUsers).toBe(0);
  });

  it('keeps the index true to what the cache holds when it drops the oldest for room', async () => {
    const { cache, owners, userChanged } = setUp({ maxEntries: 2 });
    owners.set('b1', 'bob').set('b2', 'bob').set('x1', 'xia');
    await cache.getSessionState('b1');
    await cache.getSessionState('b2');
    expect(cache.sessionsOf('bob').sort()).toEqual(['b1', 'b2']);
    await cache.getSessionState('x1'); // drops b1
    expect(cache.knownSessionState('b1')).toBeUndefined();
    expect(cache.sessionsOf('bob')).toEqual(['b2']);
    await cache.getSessionState('b1'); // drops b2
    expect(cache.sessionsOf('bob')).toEqual(['b1']);
    userChanged('bob');
    expect(cache.knownSessionState('b1')).toBeUndefined();
    expect(cache.knownSessionState('x1')?.userId).toBe('xia');
    expect(cache.sessionsOf('bob')).toEqual([]);
    // A user's only session read twice at once, then dropped for room: the user leaves the index.
    userChanged('xia');
    owners.set('y1', 'yan');
    await Promise.all([cache.getSessionState('b2'), cache.getSessionState('b2')]);
    await cache.getSessionState('x1');
    await cache.getSessionState('y1'); // drops b2
    expect(cache.sessionsOf('bob')).toEqual([]);
    expect(cache.indexedUsers).toBe(2);
  });

  it('unindexes a session read again after it grew too old', async () => {
    const { cache, owners, reads } = setUp({ maxAgeMs: 0 });
    owners.set('d1', 'dan').set('d2', 'dan');
    await cache.getSessionState('d1');
    await cache.getSessionState('d2');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(cache.knownSessionState('d1')).toBeUndefined(); // too old: dropped, and out of the index
    expect(cache.sessionsOf('dan')).toEqual(['d2']);
    expect(cache.knownSessionState('d2')).toBeUndefined();
    expect(cache.sessionsOf('dan')).toEqual([]);
    await cache.getSessionState('d1');
    expect(reads()).toBe(3);
    expect(cache.sessionsOf('dan')).toEqual(['d1']);
  });

  it('does not keep sessions nobody has', async () => {
    const { cache } = setUp();
    expect(await cache.getSessionState('nope')).toBeNull();
    expect(cache.size).toBe(0);
  });
});
