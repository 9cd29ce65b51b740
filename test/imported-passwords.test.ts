// Users imported with the password hash of the system they come from: Firebase Auth's modified
// scrypt, Supabase's bcrypt and other systems' Argon2 verify as they are, and the first successful
// login stores ours (Argon2id) instead, as it does for our own scrypt hashes of before; users imported without a password (Atlas App Services exports none) answer a wrong
// password until they reset it.
import { randomUUID, scryptSync } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { and, desc, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, userIdentities, users } from '../src/db/schema.js';
import { passwordHashing } from '../src/limits/password-hashing.js';
import { passwordHashes } from '../src/metrics.js';
import { setPasswordHash } from '../src/users/repository.js';
import {
  firebaseScryptHash,
  hashPassword,
  isAcceptedPasswordHash,
  needsRehash,
  setPasswordHashCostForTests,
  verifyPassword,
  type FirebaseScryptParams,
} from '../src/users/passwords.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DEFAULT_APP_ID, PASSWORD, Realm, call, forgetRealmUsers, linkFromOutbox, realmApp, registerConfirmed, uniqueEmail } from './helpers/realm.js';

// Ours, as the gateway hashes (test/helpers/setup-file.ts lowers it): the stored form and the
// rehash of a weaker hash are what is tested here.
setPasswordHashCostForTests();

// The sample of firebase/scrypt's README: the project's password hash parameters, and one exported
// account (`firebase auth:export`) whose password is "user1password".
const FIREBASE: FirebaseScryptParams = {
  signerKey: 'jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==',
  saltSeparator: 'Bw==',
  rounds: 8,
  memCost: 14,
};
const FIREBASE_USER = {
  password: 'user1password',
  salt: '42xEC+ixf3L2lw==',
  passwordHash: 'lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==',
};
const FIREBASE_HASH = firebaseScryptHash(FIREBASE, FIREBASE_USER.salt, FIREBASE_USER.passwordHash);

// bcrypt hashes made elsewhere: pyca/bcrypt's test vectors ($2b$, $2a$) and PHP's password_hash
// manual example ($2y$, the form of crypt_blowfish).
const BCRYPT_VECTORS = [
  { password: 'Kk4DQuMMfZL9o', hash: '$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm' },
  { password: 'abcdefghijklmnopqrstuvwxyz', hash: '$2a$08$aTsUwsyowQuzRrDqFflhgekJ8d9/7Z3GV3UcgvzQW3J5zMyrTvlz.' },
  { password: 'rasmuslerdorf', hash: '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a' },
];

/** Ours as it was before Argon2id (scrypt N=2^15, r=8, p=1), or `N` lower: verifies, and is replaced at the next login. */
function formerScryptHash(password: string, N = 2 ** 15): string {
  const salt = Buffer.from('0123456789abcdef');
  const key = scryptSync(password, salt, 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 });
  return ['scrypt', N, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
}
const FORMER_SCRYPT_HASH = formerScryptHash(PASSWORD);

/** A hash of ours as the gateway makes it today. */
const OURS = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/;

// The example of Argon2's reference implementation (its README: `argon2 somesalt -t 2 -m 16 -p 4 -l 24`).
const ARGON2_REFERENCE = { password: 'password', hash: '$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG' };
// The same reference implementation's version 16 (`-v 10`), in the PHC form of before version 1.3: no `v=`.
const ARGON2_REFERENCE_V16 = { password: 'password', hash: '$argon2i$m=65536,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ' };
// argon2-cffi's README example (its PasswordHasher's defaults, RFC 9106's low-memory choice).
const ARGON2_CFFI = {
  password: 'correct horse battery staple',
  hash: '$argon2id$v=19$m=65536,t=3,p=4$MIIRqgvgQbgj220jfp0MPA$YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg',
};

/** Password hashes of `kind` computed by this process so far. */
async function hashesSoFar(kind: 'new' | 'check'): Promise<number> {
  const metric = await passwordHashes.get();
  return metric.values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

describe('verifying stored password hashes', () => {
  it("verifies Firebase's modified scrypt with the published sample, and nothing else", async () => {
    expect(FIREBASE_HASH).toBe(
      `firebase-scrypt$8$14$Bw==$${FIREBASE.signerKey}$${FIREBASE_USER.salt}$${FIREBASE_USER.passwordHash}`,
    );
    expect(isAcceptedPasswordHash(FIREBASE_HASH)).toBe(true);
    expect(needsRehash(FIREBASE_HASH)).toBe(true);
    expect(await verifyPassword(FIREBASE_USER.password, FIREBASE_HASH)).toBe(true);
    expect(await verifyPassword('user1passworD', FIREBASE_HASH)).toBe(false);
    expect(await verifyPassword('', FIREBASE_HASH)).toBe(false);
    // Another project's parameters do not verify the account.
    const otherSeparator = firebaseScryptHash({ ...FIREBASE, saltSeparator: 'CA==' }, FIREBASE_USER.salt, FIREBASE_USER.passwordHash);
    expect(await verifyPassword(FIREBASE_USER.password, otherSeparator)).toBe(false);
    const otherRounds = firebaseScryptHash({ ...FIREBASE, rounds: 7 }, FIREBASE_USER.salt, FIREBASE_USER.passwordHash);
    expect(await verifyPassword(FIREBASE_USER.password, otherRounds)).toBe(false);
  });

  it('verifies bcrypt hashes of other implementations ($2a$, $2b$, $2y$) and of bcryptjs', async () => {
    for (const { password, hash } of BCRYPT_VECTORS) {
      expect(isAcceptedPasswordHash(hash)).toBe(true);
      expect(needsRehash(hash)).toBe(true);
      expect(await verifyPassword(password, hash)).toBe(true);
      expect(await verifyPassword(`${password}x`, hash)).toBe(false);
    }
    const made = bcrypt.hashSync('a supabase password', 10);
    expect(made).toMatch(/^\$2b\$10\$/);
    expect(await verifyPassword('a supabase password', made)).toBe(true);
    expect(await verifyPassword('a supabase passworD', made)).toBe(false);
    // bcrypt reads 72 bytes: a longer password that starts with those 72 is refused, not cut to them.
    const seventyTwo = 'é'.repeat(36);
    const long = bcrypt.hashSync(seventyTwo, 4);
    expect(await verifyPassword(seventyTwo, long)).toBe(true);
    expect(await verifyPassword(`${seventyTwo}and more`, long)).toBe(false);
  });

  it('makes Argon2id PHC strings that verify, keeps them, and replaces our scrypt of before', async () => {
    const ours = await hashPassword(PASSWORD);
    expect(ours).toMatch(OURS);
    expect(isAcceptedPasswordHash(ours)).toBe(true);
    expect(needsRehash(ours)).toBe(false);
    expect(await verifyPassword(PASSWORD, ours)).toBe(true);
    expect(await verifyPassword(`${PASSWORD}!`, ours)).toBe(false);
    expect(await hashPassword(PASSWORD)).not.toBe(ours);
    for (const former of [FORMER_SCRYPT_HASH, formerScryptHash(PASSWORD, 2 ** 10)]) {
      expect(isAcceptedPasswordHash(former)).toBe(true);
      expect(needsRehash(former)).toBe(true);
      expect(await verifyPassword(PASSWORD, former)).toBe(true);
      expect(await verifyPassword(`${PASSWORD}!`, former)).toBe(false);
    }
  });

  it('verifies Argon2 PHC strings of other implementations, and replaces all but ours', async () => {
    // Other implementations' strings: the reference implementation's (v=19, and v=16 without `v=`)
    // and argon2-cffi's default (64 MiB, 3 passes, 4 lanes: verifies, and is replaced at login).
    for (const { password, hash } of [ARGON2_REFERENCE, ARGON2_REFERENCE_V16, ARGON2_CFFI]) {
      expect(isAcceptedPasswordHash(hash), hash).toBe(true);
      expect(await verifyPassword(password, hash), hash).toBe(true);
      expect(await verifyPassword(`${password}!`, hash), hash).toBe(false);
      expect(needsRehash(hash), hash).toBe(true);
    }
    // Ours verifies in another library's PHC decoder.
    expect(await argon2Verify(await hashPassword(PASSWORD), PASSWORD)).toBe(true);
    // Another library's PHC encoder, every variant and version.
    const options = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
    const made = [
      { hash: await argon2Hash(PASSWORD, { ...options, algorithm: 2 }), rehash: false },
      { hash: await argon2Hash(PASSWORD, { ...options, algorithm: 1 }), rehash: true },
      { hash: await argon2Hash(PASSWORD, { ...options, algorithm: 0 }), rehash: true },
      { hash: await argon2Hash(PASSWORD, { ...options, algorithm: 2, version: 0 }), rehash: true },
      { hash: await argon2Hash(PASSWORD, { memoryCost: 65536, timeCost: 3, parallelism: 4 }), rehash: true }, // costlier than ours
      { hash: await argon2Hash(PASSWORD, { ...options, timeCost: 3 }), rehash: true },
      { hash: await argon2Hash(PASSWORD, { ...options, parallelism: 2 }), rehash: true },
      { hash: await argon2Hash(PASSWORD, { memoryCost: 47104, timeCost: 1, parallelism: 1 }), rehash: true },
      { hash: await argon2Hash(PASSWORD, { memoryCost: 1024, timeCost: 2, parallelism: 1 }), rehash: true },
      { hash: await argon2Hash(PASSWORD, { ...options, outputLen: 16 }), rehash: true },
    ];
    expect(made.map((m) => m.hash.split('$').slice(1, 3).join('$'))).toEqual([
      'argon2id$v=19',
      'argon2i$v=19',
      'argon2d$v=19',
      'argon2id$v=16',
      'argon2id$v=19',
      'argon2id$v=19',
      'argon2id$v=19',
      'argon2id$v=19',
      'argon2id$v=19',
      'argon2id$v=19',
    ]);
    // Version 16 without `v=`, as PHC strings were written before version 1.3.
    made.push({ hash: made[3]!.hash.replace('$v=16$', '$'), rehash: true });
    expect(made.at(-1)!.hash).toMatch(/^\$argon2id\$m=19456,t=2,p=1\$/);
    for (const { hash, rehash } of made) {
      expect(isAcceptedPasswordHash(hash), hash).toBe(true);
      expect(needsRehash(hash), hash).toBe(rehash);
      expect(await verifyPassword(PASSWORD, hash), hash).toBe(true);
      expect(await verifyPassword(`${PASSWORD}!`, hash), hash).toBe(false);
    }
  });

  it('verifies an imported Argon2id of up to 64 MiB, and replaces it at login', async () => {
    const hash = await argon2Hash(PASSWORD, { memoryCost: 65536, timeCost: 1, parallelism: 1 });
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=65536,t=1,p=1\$/);
    expect(isAcceptedPasswordHash(hash)).toBe(true);
    expect(await verifyPassword(PASSWORD, hash)).toBe(true);
    expect(needsRehash(hash)).toBe(true);
    const ours = await hashPassword(PASSWORD);
    expect(needsRehash(ours)).toBe(false);
  });

  it('refuses crafted Argon2 PHC strings at once: too costly, truncated, another version, garbage', async () => {
    const [, , , , salt, hash] = (await hashPassword(PASSWORD)).split('$');
    const crafted = [
      `$argon2id$v=19$m=4194304,t=2,p=1$${salt}$${hash}`, // 4 GiB
      `$argon2id$v=19$m=65537,t=1,p=1$${salt}$${hash}`, // just past 64 MiB
      `$argon2id$v=19$m=66560,t=1,p=1$${salt}$${hash}`, // 65 MiB
      `$argon2id$v=19$m=19456,t=33,p=1$${salt}$${hash}`, // past 16 times our work
      `$argon2id$v=19$m=19456,t=4294967295,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=19456,t=0,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=19456,t=2,p=255$${salt}$${hash}`,
      `$argon2id$v=19$m=19456,t=2,p=0$${salt}$${hash}`,
      `$argon2id$v=19$m=7,t=2,p=1$${salt}$${hash}`, // less than 8 KiB a lane
      `$argon2id$v=19$m=19456,t=2,p=1$${salt!.slice(0, 8)}$${hash}`, // 6-byte salt
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${hash!.slice(0, 20)}`, // 15-byte hash
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${hash}${hash}${hash}`, // 96-byte hash
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$`,
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}`,
      `$argon2id$v=19$m=19456,t=2,p=1$$${hash}`,
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${hash}=`, // padded
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${hash!.slice(0, -1)}-`, // base64url
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${hash}$extra`,
      `$argon2id$v=20$m=19456,t=2,p=1$${salt}$${hash}`,
      `$argon2id$v=019$m=19456,t=2,p=1$${salt}$${hash}`,
      `$argon2id$m=19456,t=2,p=1$${salt}`, // no version and no hash
      `$argon2id$v=16$m=19456,t=2,p=1$${salt}`,
      `$argon2id$v=19$t=2,m=19456,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=19456,t=2,p=1,keyid=AAAA$${salt}$${hash}`,
      `$argon2id$v=19$m=019456,t=2,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=1.9e4,t=2,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=-19456,t=2,p=1$${salt}$${hash}`,
      `$argon2$v=19$m=19456,t=2,p=1$${salt}$${hash}`,
      `$argon2ID$v=19$m=19456,t=2,p=1$${salt}$${hash}`,
      `$argon2x$v=19$m=19456,t=2,p=1$${salt}$${hash}`,
      `argon2id$v=19$m=19456,t=2,p=1$${salt}$${hash}`,
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${hash} `,
      '$argon2id$',
      '$argon2id$$$$$',
      `$argon2id$v=19$m=19456,t=2,p=1$${'A'.repeat(5000)}$${hash}`,
    ];
    const checked = await hashesSoFar('check');
    for (const stored of crafted) {
      expect(isAcceptedPasswordHash(stored), stored).toBe(false);
      expect(needsRehash(stored), stored).toBe(true);
      await expect(verifyPassword(PASSWORD, stored), stored).resolves.toBe(false);
    }
    // None was hashed: refused before any Argon2 ran.
    expect(await hashesSoFar('check')).toBe(checked);
  });

  it('hashes off the event loop: timers keep firing while hashes at our cost run', async () => {
    const hashes = Array.from({ length: 6 }, () => hashPassword(PASSWORD, 'urgent'));
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 1);
    const started = performance.now();
    const stored = await Promise.all(hashes);
    await Promise.all(stored.map((s) => verifyPassword(PASSWORD, s)));
    const elapsed = performance.now() - started;
    clearInterval(timer);
    const longestGap = Math.max(...ticks.map((t, i) => t - (ticks[i - 1] ?? started)));
    console.log(`12 Argon2id hashes at our cost: ${Math.round(elapsed)} ms, ${ticks.length} timer ticks, longest gap ${Math.round(longestGap)} ms`);
    // 12 hashes of ~16 ms of CPU each, two at a time: on the event loop, no tick would come before the last.
    expect(ticks.length).toBeGreaterThan(5);
    expect(longestGap).toBeLessThan(elapsed / 2);
  });

  it('refuses malformed and too costly stored strings without throwing', async () => {
    const [, , , sep, key, salt, hash] = FIREBASE_HASH.split('$');
    const bcryptTail = BCRYPT_VECTORS[0]!.hash.slice(7);
    const [, , , , oursSalt, oursHash] = FORMER_SCRYPT_HASH.split('$');
    const malformed = [
      '',
      'plain text',
      '$',
      'scrypt',
      'scrypt$$$$$',
      `scrypt$32768$8$1$${oursSalt}`,
      `scrypt$32768$8$1$${oursSalt}$${oursHash}$extra`,
      `scrypt$32768$8$1$${oursSalt}$`,
      `scrypt$32767$8$1$${oursSalt}$${oursHash}`, // N not a power of two
      `scrypt$032768$8$1$${oursSalt}$${oursHash}`,
      `scrypt$3.2e4$8$1$${oursSalt}$${oursHash}`,
      `scrypt$-32768$8$1$${oursSalt}$${oursHash}`,
      `scrypt$1048576$8$1$${oursSalt}$${oursHash}`, // 1 GiB
      `scrypt$32768$8$64$${oursSalt}$${oursHash}`, // 64 times the work
      `scrypt$32768$8$1$${oursSalt}$${oursHash}==`,
      `scrypt$32768$8$1$${oursSalt}$not*base64url`,
      `SCRYPT$32768$8$1$${oursSalt}$${oursHash}`,
      `firebase-scrypt$0$14$${sep}$${key}$${salt}$${hash}`,
      `firebase-scrypt$9$14$${sep}$${key}$${salt}$${hash}`,
      `firebase-scrypt$8$15$${sep}$${key}$${salt}$${hash}`,
      `firebase-scrypt$8$14$${sep}$${key}$${salt}`,
      `firebase-scrypt$8$14$${sep}$${key}$$${hash}`, // no salt
      `firebase-scrypt$8$14$${sep}$${key}$${salt}$${hash.slice(4)}`, // not the signer key's length
      `firebase-scrypt$8$14$Bw=$${key}$${salt}$${hash}`, // not canonical base64
      `firebase-scrypt$8$14$${sep}$${key.replace(/-|_/g, '+')}$${salt}$${hash.replace('/', '_')}`, // base64url
      `firebase-scrypt$8$14$${sep}$${key}$${salt} $${hash}`,
      `$2b$03$${bcryptTail}`, // cost below bcrypt's minimum
      `$2b$15$${bcryptTail}`, // past the bound
      `$2b$31$${bcryptTail}`,
      `$2x$04$${bcryptTail}`,
      `$2$04$${bcryptTail}`,
      `$2b$04$${bcryptTail}x`,
      `$2b$04$${bcryptTail.slice(1)}`,
      `$2b$04$${bcryptTail.slice(0, -1)}!`,
      'x'.repeat(100_000),
    ];
    for (const stored of malformed) {
      expect(isAcceptedPasswordHash(stored), stored).toBe(false);
      expect(needsRehash(stored), stored).toBe(true);
      await expect(verifyPassword(PASSWORD, stored), stored).resolves.toBe(false);
    }
  });

  it('checks imported hashes in the password-hashing queue, behind its concurrency bound', async () => {
    const release: (() => void)[] = [];
    const holding = Array.from({ length: passwordHashing.settings.concurrency }, () =>
      passwordHashing.run('urgent', () => new Promise<void>((resolve) => release.push(resolve))),
    );
    try {
      const checks = [
        verifyPassword(FIREBASE_USER.password, FIREBASE_HASH),
        verifyPassword(BCRYPT_VECTORS[0]!.password, BCRYPT_VECTORS[0]!.hash),
        verifyPassword(ARGON2_REFERENCE.password, ARGON2_REFERENCE.hash),
        verifyPassword(PASSWORD, FORMER_SCRYPT_HASH),
      ];
      // All wait for a free slot, in the logins' lane.
      expect(passwordHashing.load).toMatchObject({ running: passwordHashing.settings.concurrency, urgent: 4 });
      for (const r of release) r();
      expect(await Promise.all(checks)).toEqual([true, true, true, true]);
    } finally {
      for (const r of release) r();
      await Promise.all(holding);
    }
  });
});

describe('imported users logging in with realm-web', () => {
  let t: TestApp;
  let app: Realm.App;
  const ACCOUNT_FAILURE_LIMIT = 3;

  beforeAll(async () => {
    t = await startTestApp({
      app: {
        limits: {
          loginPerAddress: { limit: 1000, windowMs: 60_000 },
          loginPerAccount: { limit: ACCOUNT_FAILURE_LIMIT, windowMs: 60_000 },
        },
      },
    });
  });
  afterAll(() => t?.close());
  afterEach(forgetRealmUsers);

  /** A confirmed email/password user as an import leaves it: written straight into the database. */
  async function insertImported(email: string, passwordHash: string | null): Promise<string> {
    // The id as the source gave it (a UUID: what every id column accepts).
    const id = randomUUID();
    await t.database.db.insert(users).values({ id, email, status: 'confirmed' });
    await t.database.db.insert(userIdentities).values({ userId: id, providerType: 'local-userpass', providerId: email.toLowerCase(), passwordHash });
    return id;
  }

  async function storedHash(userId: string): Promise<string | null> {
    const [row] = await t.database.db
      .select({ passwordHash: userIdentities.passwordHash })
      .from(userIdentities)
      .where(and(eq(userIdentities.userId, userId), eq(userIdentities.providerType, 'local-userpass')));
    return row!.passwordHash;
  }

  async function lastLoginDetails(userId: string): Promise<Record<string, unknown>> {
    const [event] = await t.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.userId, userId), eq(auditEvents.action, 'login')))
      .orderBy(desc(auditEvents.at))
      .limit(1);
    return event!.details as Record<string, unknown>;
  }

  const loginCall = (username: string, password: string) =>
    call(t, 'POST', `/api/client/v2.0/app/${DEFAULT_APP_ID}/auth/providers/local-userpass/login`, { body: { username, password } });

  /** What a wrong password answers today, for a user who signed up here. */
  async function wrongPasswordAnswer() {
    app = realmApp(t);
    const email = await registerConfirmed(t, app, uniqueEmail('native'));
    return loginCall(email, 'not the password');
  }

  for (const imported of [
    { source: 'Firebase', scheme: 'firebase-scrypt', hash: FIREBASE_HASH, password: FIREBASE_USER.password },
    { source: 'Supabase', scheme: 'bcrypt', hash: BCRYPT_VECTORS[2]!.hash, password: BCRYPT_VECTORS[2]!.password },
  ]) {
    it(`logs a ${imported.source} user in with the old password, then keeps ours of it`, async () => {
      app = realmApp(t);
      const email = uniqueEmail(imported.scheme);
      const id = await insertImported(email, imported.hash);

      const user = await app.logIn(Realm.Credentials.emailPassword(email, imported.password));
      expect(user.id).toBe(id);
      expect(user.profile.email).toBe(email);
      const stored = (await storedHash(id))!;
      expect(stored).toMatch(OURS);
      expect(needsRehash(stored)).toBe(false);
      expect(await lastLoginDetails(id)).toMatchObject({ provider: 'local-userpass', passwordRehashedFrom: imported.scheme });

      // The next login checks ours, and changes nothing more.
      await user.logOut();
      const again = await app.logIn(Realm.Credentials.emailPassword(email, imported.password));
      expect(again.id).toBe(id);
      expect(await storedHash(id)).toBe(stored);
      expect(await lastLoginDetails(id)).not.toHaveProperty('passwordRehashedFrom');
    });

    it(`answers a wrong password of a ${imported.source} user as for any user, counts it, and keeps the hash`, async () => {
      const expected = await wrongPasswordAnswer();
      expect(expected).toMatchObject({ status: 401, body: { error_code: 'InvalidPassword' } });
      app = realmApp(t);
      const email = uniqueEmail(`${imported.scheme}-wrong`);
      const id = await insertImported(email, imported.hash);

      await expect(app.logIn(Realm.Credentials.emailPassword(email, `${imported.password}!`))).rejects.toMatchObject({
        statusCode: 401,
        errorCode: 'InvalidPassword',
      });
      for (let i = 1; i < ACCOUNT_FAILURE_LIMIT; i++) {
        const answer = await loginCall(email, `wrong ${i}`);
        expect({ status: answer.status, body: answer.body }).toEqual({ status: expected.status, body: expected.body });
      }
      // The account's failures are used up: even the right password waits now.
      expect((await loginCall(email, imported.password)).status).toBe(429);
      expect(await storedHash(id)).toBe(imported.hash);
    });
  }

  it('logs a user in whose hash is our scrypt of before Argon2id, stores ours, and logs in with it after', async () => {
    app = realmApp(t);
    const email = uniqueEmail('former');
    const id = await insertImported(email, FORMER_SCRYPT_HASH);
    const user = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    expect(user.id).toBe(id);
    const stored = (await storedHash(id))!;
    expect(stored).toMatch(OURS);
    expect(await lastLoginDetails(id)).toMatchObject({ passwordRehashedFrom: 'scrypt' });
    await user.logOut();
    expect((await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD))).id).toBe(id);
    expect(await storedHash(id)).toBe(stored);
    expect(await lastLoginDetails(id)).not.toHaveProperty('passwordRehashedFrom');
    await expect(app.logIn(Realm.Credentials.emailPassword(email, `${PASSWORD}!`))).rejects.toMatchObject({ statusCode: 401 });
  });

  it('logs a user in whose hash is another system\'s Argon2i, and stores ours', async () => {
    app = realmApp(t);
    const email = uniqueEmail('argon2i');
    const id = await insertImported(email, ARGON2_REFERENCE.hash);
    expect((await app.logIn(Realm.Credentials.emailPassword(email, ARGON2_REFERENCE.password))).id).toBe(id);
    expect(await storedHash(id)).toMatch(OURS);
    expect(await lastLoginDetails(id)).toMatchObject({ passwordRehashedFrom: 'argon2i' });
  });

  it('answers a wrong password to a user imported without one, who can log in after a password reset', async () => {
    const expected = await wrongPasswordAnswer();
    app = realmApp(t);
    const email = uniqueEmail('atlas');
    const id = await insertImported(email, null);

    // Fewer than the account's failure limit: the reset does not clear it.
    for (const password of [PASSWORD, 'my new password']) {
      const answer = await loginCall(email, password);
      expect({ status: answer.status, body: answer.body }).toEqual({ status: expected.status, body: expected.body });
    }
    await app.emailPasswordAuth.sendResetPasswordEmail({ email });
    const { token, tokenId } = await linkFromOutbox(t, email, 'password_reset');
    await app.emailPasswordAuth.resetPassword({ password: 'my new password', token, tokenId });
    const user = await app.logIn(Realm.Credentials.emailPassword(email, 'my new password'));
    expect(user.id).toBe(id);
    expect(await storedHash(id)).toMatch(OURS);
  });

  it('answers a wrong password, not an error, to a user whose stored hash is malformed', async () => {
    const expected = await wrongPasswordAnswer();
    const email = uniqueEmail('garbage');
    await insertImported(email, `$2b$04$${'!'.repeat(53)}`);
    const answer = await loginCall(email, 'anything at all');
    expect({ status: answer.status, body: answer.body }).toEqual({ status: expected.status, body: expected.body });
  });

  it('re-hashes when an imported user links the email account to an anonymous user', async () => {
    app = realmApp(t);
    const email = uniqueEmail('link');
    const id = await insertImported(email, FIREBASE_HASH);
    const anonymous = await app.logIn(Realm.Credentials.anonymous());
    await anonymous.linkCredentials(Realm.Credentials.emailPassword(email, FIREBASE_USER.password));
    // The identity moved to the anonymous user, with ours of the password.
    const [identity] = await t.database.db.select().from(userIdentities).where(eq(userIdentities.providerId, email));
    expect(identity).toMatchObject({ userId: anonymous.id });
    expect(identity!.passwordHash).toMatch(OURS);
    expect(await storedHash(anonymous.id)).toBe(identity!.passwordHash);
    expect(id).not.toBe(anonymous.id);
  });

  it('stores one re-hash of concurrent first logins, each of which succeeds', async () => {
    const email = uniqueEmail('burst');
    const id = await insertImported(email, BCRYPT_VECTORS[0]!.hash);
    const logins = await Promise.all(Array.from({ length: 6 }, () => loginCall(email, BCRYPT_VECTORS[0]!.password)));
    expect(logins.map((l) => l.status)).toEqual(Array(6).fill(200));
    expect(new Set(logins.map((l) => l.body.user_id))).toEqual(new Set([id]));
    const events = await t.database.db
      .select({ details: auditEvents.details })
      .from(auditEvents)
      .where(and(eq(auditEvents.userId, id), eq(auditEvents.action, 'login')));
    expect(events).toHaveLength(6);
    // Every login verified the bcrypt hash; the first to commit stored ours, the others left it.
    expect(events.filter((e) => e.details?.passwordRehashedFrom === 'bcrypt')).toHaveLength(1);
    const stored = (await storedHash(id))!;
    expect(await verifyPassword(BCRYPT_VECTORS[0]!.password, stored)).toBe(true);
    expect(needsRehash(stored)).toBe(false);
  });

  it('leaves a hash that changed since the login checked it (a password reset in between)', async () => {
    const email = uniqueEmail('race');
    const id = await insertImported(email, FIREBASE_HASH);
    const reset = await hashPassword('set by a reset');
    await t.database.db.update(userIdentities).set({ passwordHash: reset }).where(eq(userIdentities.userId, id));
    const rehashed = await hashPassword(FIREBASE_USER.password);
    expect(await setPasswordHash(t.database.db, id, 'local-userpass', rehashed, FIREBASE_HASH)).toBe(false);
    expect(await storedHash(id)).toBe(reset);
    expect(await setPasswordHash(t.database.db, id, 'local-userpass', rehashed, reset)).toBe(true);
    expect(await storedHash(id)).toBe(rehashed);
  });
});
