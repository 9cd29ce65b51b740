// Test 5: refreshes racing an operator's disableUser (and revokeUserSessions). Whichever commits
// second loses, so once the mutation has returned, not one access token handed out during the race
// is accepted anywhere.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvalidSessionError } from '../src/tokens/errors.js';
import { createAccessTokenVerifier, verifyAccessToken, type AccessTokenVerifier } from '../src/tokens/verify.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import {
  DEFAULT_APP_ID,
  PASSWORD,
  Realm,
  forgetRealmUsers,
  gql,
  introspect,
  profile,
  realmApp,
  refresh,
  registerConfirmed,
  userById,
} from './helpers/realm.js';
// Fixed pauses here (sleep) are the race itself: they spread the refreshes and the operator's action over time.
import { sleep } from './helpers/wait.js';

const ROUNDS = 5;
const SESSIONS = 5;
const REFRESHES = 50;

let t: TestApp;
let app: Realm.App;
let verifier: AccessTokenVerifier;

beforeAll(async () => {
  t = await startTestApp();
  verifier = createAccessTokenVerifier(t.database.db, { appId: DEFAULT_APP_ID, publicUrl: t.baseUrl, jwtSecret: null });
});
afterAll(() => t?.close());
afterEach(forgetRealmUsers);

interface RoundResult {
  issued: string[];
  refused: number;
}

/**
 * Logs the user in SESSIONS times, then fires REFRESHES refreshes over those sessions (one of them
 * through the SDK), started evenly over `spreadMs`, and the operator's mutation at `spreadMs / 4`,
 * so that refreshes run before, during and after it. Resolves once all have settled.
 */
async function race(email: string, mutation: string, spreadMs: number): Promise<RoundResult> {
  const sessions: { user: Realm.User; refreshToken: string }[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const user = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    sessions.push({ user, refreshToken: user.refreshToken! });
  }
  const sdkUser = sessions.at(-1)!.user;
  expect((await userById(t, sdkUser.id)).activeSessionCount).toBe(SESSIONS);

  const issued: string[] = [];
  let refused = 0;
  const refreshes = Array.from({ length: REFRESHES }, async (_, i) => {
    await sleep((i * spreadMs) / REFRESHES);
    if (i === REFRESHES / 2) {
      // The SDK's own refresh, in the middle of the crowd.
      try {
        await sdkUser.refreshAccessToken();
        issued.push(sdkUser.accessToken!);
      } catch (err) {
        expect(err).toMatchObject({ statusCode: 401, errorCode: 'InvalidSession' });
        refused++;
      }
      return;
    }
    const res = await refresh(t, sessions[i % SESSIONS]!.refreshToken);
    if (res.status === 201) issued.push(res.body.access_token);
    else {
      expect(res).toMatchObject({ status: 401, body: { error_code: 'InvalidSession' } });
      refused++;
    }
  });
  const operator = sleep(spreadMs / 4).then(() => gql(t, mutation, { id: sdkUser.id }));
  const [result] = await Promise.all([operator, ...refreshes]);
  expect(JSON.stringify(result)).toMatch(/Success/);

  // After the mutation returned: nothing of the race works, through any of the three checks.
  for (const token of issued) {
    const error = await verifyAccessToken(token, verifier).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidSessionError);
    expect((await profile(t, token)).status).toBe(401);
    expect((await introspect(t, token)).body).toEqual({ active: false });
  }
  for (const { refreshToken } of sessions) expect((await refresh(t, refreshToken)).status).toBe(401);
  expect((await userById(t, sdkUser.id)).activeSessionCount).toBe(0);
  return { issued, refused };
}

describe("refreshes racing the operator: every token handed out during the race is dead once the operator's action is done", () => {
  it(`disableUser: ${ROUNDS} rounds of ${REFRESHES} concurrent refreshes over ${SESSIONS} sessions`, async () => {
    app = realmApp(t);
    const email = await registerConfirmed(t, app);
    const totals = { issued: 0, refused: 0 };
    let id = '';
    for (let round = 0; round < ROUNDS; round++) {
      const { issued, refused } = await race(
        email,
        `mutation ($id: ID!) { disableUser(id: $id) { __typename ... on DisableUserSuccess { user { id status } } } }`,
        20 + round * 20,
      );
      totals.issued += issued.length;
      totals.refused += refused;
      id = Object.values(app.allUsers)[0]!.id;
      expect((await userById(t, id)).status).toBe('DISABLED');
      await expect(app.logIn(Realm.Credentials.emailPassword(email, PASSWORD))).rejects.toMatchObject({
        errorCode: 'UserDisabled',
      });
      await gql(t, `mutation ($id: ID!) { enableUser(id: $id) { __typename } }`, { id });
    }
    // The race was real: tokens were handed out while it ran, and all of them are dead now.
    expect(totals.issued).toBeGreaterThan(0);
    expect(totals.issued + totals.refused).toBe(ROUNDS * REFRESHES);
  });

  it('revokeUserSessions: the same, twice', async () => {
    app = realmApp(t);
    const email = await registerConfirmed(t, app);
    for (let round = 0; round < 2; round++) {
      await race(
        email,
        `mutation ($id: ID!) { revokeUserSessions(id: $id) { __typename ... on RevokeUserSessionsSuccess { revokedSessionCount } } }`,
        40 + round * 40,
      );
    }
  });
});
