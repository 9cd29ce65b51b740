// A single-user action and its bulk twin on one id run the same plan (src/users/plans.ts): on two
// identical users they must leave identical rows, equivalent audit events and the same change-feed
// notifications, for every status a user can be in and for an unknown id.
import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../src/audit/log.js';
import { startRevocationFeed, type RevocationFeed } from '../src/changefeed/feed.js';
import { auditEvents, refreshTokens, users, type UserStatus } from '../src/db/schema.js';
import { createLogger } from '../src/logger.js';
import { deleteUsers, disableUsers, revokeSessionsOfUsers, type BulkActionResult } from '../src/users/bulk.js';
import { deleteUser, disableUser, revokeUserSessions } from '../src/users/service.js';
import { createTestDatabase, onPostgres, type TestDatabase } from './helpers/database.js';
import { seedSessions, seedUsers } from './helpers/seed.js';
import { pollUntil } from './helpers/wait.js';

let database: TestDatabase;
let feed: RevocationFeed;
const notified: string[] = [];
const actor: Actor = { type: 'system', name: 'parity' };

beforeAll(async () => {
  database = await createTestDatabase();
  feed = startRevocationFeed(database, createLogger());
  feed.subscribe({ userChanged: (id) => notified.push(`u:${id}`), keyChanged: (id) => notified.push(`k:${id}`), reset: () => {} });
  await pollUntil(() => feed.live, 5_000, 25);
  expect(feed.live).toBe(true);
});
afterAll(async () => {
  await feed?.close();
  await database?.close();
});

/** Notifications reach the other connections within milliseconds on PostgreSQL; PGlite calls back at once.
 * A fixed pause, not a poll: which notifications come is what is compared, so there is no state to wait for. */
const settle = () => new Promise((r) => setTimeout(r, onPostgres ? 250 : 0));

/** What the action left of the user, with its ids and instants replaced by what they mean. */
async function stateOf(userId: string) {
  const db = database.db;
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  const events = await db.select().from(auditEvents).where(eq(auditEvents.userId, userId)).orderBy(asc(auditEvents.at));
  const at = events.at(-1)?.at.getTime() ?? null;
  const sessions = await db
    .select()
    .from(refreshTokens)
    .where(eq(refreshTokens.userId, userId))
    .orderBy(asc(refreshTokens.deviceId));
  const state = {
    user: user && {
      status: user.status,
      disabledAt: user.disabledAt === null ? null : user.disabledAt.getTime() === at ? 'at the event' : 'earlier',
    },
    sessions: sessions.map((s) => ({
      deviceId: s.deviceId,
      revokeReason: s.revokeReason,
      revokedAt: s.revokedAt === null ? null : s.revokedAt.getTime() === at ? 'at the event' : 'earlier',
    })),
    events: events.map((e) => {
      // The bulk delete takes no linked-data declarations, so its events do not describe them.
      const { linkedData, linkedDataPurged, ...details } = e.details ?? {};
      return { action: e.action.replace(/Users?$|UserSessions$|SessionsOfUsers$/, ''), outcome: e.outcome, details };
    }),
  };
  return JSON.parse(JSON.stringify(state).replaceAll(userId, 'the user'));
}

/** Runs `act` and returns the notifications it caused, the user's id written as "the user". */
async function notificationsOf(userId: string, act: () => Promise<unknown>) {
  await settle();
  notified.length = 0;
  await act();
  await settle();
  return [...new Set(notified.map((n) => n.replace(userId, 'the user')))].sort();
}

async function twoIdenticalUsers(status: UserStatus): Promise<[string, string]> {
  const [a, b] = await seedUsers(database.db, 2, { status });
  if (status !== 'pending') {
    for (const u of [a!, b!]) await seedSessions(database.db, u.id, { live: 3, revoked: 1, expired: 1 });
  }
  return [a!.id, b!.id];
}

/** The single-user action's answer in the bulk outcome's terms: revoked sessions, or the error's code. */
async function singleOutcome(run: () => Promise<{ revokedSessionCount: number }>) {
  try {
    return { code: null, revokedSessionCount: (await run()).revokedSessionCount };
  } catch (err) {
    return { code: (err as { code?: string }).code ?? String(err), revokedSessionCount: 0 };
  }
}
const bulkOutcome = (r: BulkActionResult) => ({ code: r.outcomes[0]!.code, revokedSessionCount: r.outcomes[0]!.revokedSessionCount });

const twins = {
  disable: { single: disableUser, bulk: disableUsers },
  delete: { single: deleteUser, bulk: deleteUsers },
  revokeSessions: { single: revokeUserSessions, bulk: revokeSessionsOfUsers },
};

describe.each(Object.entries(twins))('%s of one user and of [that user]', (_, { single, bulk }) => {
  it.each(['confirmed', 'disabled', 'pending'] as const)('leave the same rows, events and notifications for a %s user', async (status) => {
    const [a, b] = await twoIdenticalUsers(status);
    let one, many;
    const singleNotes = await notificationsOf(a, async () => (one = await singleOutcome(() => single(database.db, actor, a))));
    const bulkNotes = await notificationsOf(b, async () => (many = bulkOutcome(await bulk(database.db, actor, [b]))));
    expect(many).toEqual(one);
    expect(await stateOf(b)).toEqual(await stateOf(a));
    expect(bulkNotes).toEqual(singleNotes);
  });

  it('refuse an unknown id alike', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    let one, many;
    const singleNotes = await notificationsOf(a, async () => (one = await singleOutcome(() => single(database.db, actor, a))));
    const bulkNotes = await notificationsOf(b, async () => (many = bulkOutcome(await bulk(database.db, actor, [b]))));
    expect(one).toEqual({ code: 'USER_NOT_FOUND', revokedSessionCount: 0 });
    expect(many).toEqual(one);
    expect(await stateOf(b)).toEqual(await stateOf(a));
    expect(bulkNotes).toEqual(singleNotes);
  });
});
