import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { passwordHashing } from '../limits/password-hashing.js';
import type { Lane } from '../limits/work-queue.js';
import { passwordHashes } from '../metrics.js';

// scrypt with N=2^15, r=8, p=1 (OWASP's minimum recommendation is N=2^17 with r=8 for interactive
// logins at 64 MiB; 2^15 costs about 90 ms of one core here). The parameters are stored in
// every hash, so raising them later only affects new hashes.
const PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function scryptAsync(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function hashIn(lane: Lane, kind: 'new' | 'check', task: () => Promise<Buffer>): Promise<Buffer> {
  return passwordHashing.run(lane, () => {
    passwordHashes.inc({ kind });
    return task();
  });
}

function optionsFor(N: number, r: number, p: number): ScryptOptions {
  return { N, r, p, maxmem: 256 * N * r };
}

/** Returns "scrypt$N$r$p$salt$hash" (salt and hash in base64url). */
export async function hashPassword(password: string, lane: Lane = 'deferrable'): Promise<string> {
  const salt = randomBytes(16);
  const key = await hashIn(lane, 'new', () => scryptAsync(password, salt, KEY_LENGTH, optionsFor(PARAMS.N, PARAMS.r, PARAMS.p)));
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await hashIn('urgent', 'check', () =>
    scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, optionsFor(Number(n), Number(r), Number(p))),
  );
  return timingSafeEqual(key, expected);
}

/** A hash of nothing anyone knows: verifying against it costs what a real check costs. */
let decoy: Promise<string> | undefined;
export function decoyPasswordHash(): Promise<string> {
  if (!decoy) {
    decoy = hashPassword(randomBytes(16).toString('hex'), 'urgent');
    // A refusal (the queue was full) is not kept: the next login makes the decoy again.
    decoy.catch(() => (decoy = undefined));
  }
  return decoy;
}
