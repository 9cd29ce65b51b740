import { createCipheriv, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { hashRaw, type Algorithm, type Version } from '@node-rs/argon2';
import { passwordHashing } from '../limits/password-hashing.js';
import type { Lane } from '../limits/work-queue.js';
import { passwordHashes } from '../metrics.js';
import { bcryptCompare } from './bcrypt.js';

// A stored password hash (user_identities.password_hash) has one of these forms:
//   $argon2id$v=19$m=…,t=…,p=…$salt$hash
//                                 ours: Argon2id in the PHC string format every Argon2 library reads
//                                 and writes (salt and hash in unpadded standard base64); argon2i and
//                                 argon2d strings of other systems verify too;
//   scrypt$N$r$p$salt$hash        ours before Argon2id (salt and hash in base64url);
//   firebase-scrypt$rounds$memCost$saltSeparator$signerKey$salt$hash
//                                 Firebase Auth's modified scrypt, of users imported from Firebase
//                                 (standard base64, as `firebase auth:export` and the project's
//                                 password hash parameters give them);
//   $2a$… $2b$… $2y$…             bcrypt, of users imported from Supabase (auth.users.encrypted_password).
// Every form but ours verifies as it is and is replaced by ours at the first successful login
// (needsRehash), scrypt included. Every form's check runs through the password-hashing queue, and a
// stored string that is not well-formed, or whose cost is past the bounds below, never verifies.

// Argon2id at OWASP's first recommendation for password storage, m = 19 MiB, t = 2, p = 1: about
// 16 ms of one core and 19 MiB while it runs (scrypt at N=2^15, r=8 before it: ~120 ms and 32 MiB,
// under OWASP's scrypt minimum). Constants, not configuration: each hash stores its parameters, so
// raising them here later only affects new hashes, and the next login upgrades the older ones.
export const ARGON2_PARAMS = { memoryKiB: 19_456, timeCost: 2, parallelism: 1 } as const;
/** The memory of new hashes: ARGON2_PARAMS.memoryKiB, except in tests that lowered it (setPasswordHashCostForTests). */
let newHashMemoryKiB: number = ARGON2_PARAMS.memoryKiB;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

// @node-rs/argon2's Algorithm and Version are const enums, types without a value at run time: their numbers.
const ARGON2_ALGORITHMS = { argon2d: 0, argon2i: 1, argon2id: 2 } as const;
const ARGON2_VERSIONS: Record<string, number> = { '16': 0, '19': 1 };
type Argon2Variant = keyof typeof ARGON2_ALGORITHMS;

// What a stored hash may cost to check. Argon2: at most 64 MiB (RFC 9106's low-memory choice,
// argon2-cffi's default, and what PHP's and libsodium's interactive defaults fit in), work m·t at most
// 16 times ours, at most 16 lanes (each needs 8 KiB at least; @node-rs/argon2 runs them on threads
// of its own, two more per hash on 2 cores, the work still bounded by m·t), salts and hashes of the
// lengths the PHC format allows; such a hash is replaced by ours at its user's first login. The
// scrypt of our hashes before Argon2id was N=2^15, r=8, p=1: its memory is 128·N·r bytes (at most
// 256 MiB) and its work N·r·p (at most 16 times that). Firebase's own bounds are rounds 1–8 and
// mem_cost 1–14; bcrypt costs past 14 take seconds of pure JavaScript each.
const ARGON2_MAX_MEMORY_KIB = 64 * 1024;
const ARGON2_MAX_WORK = 16 * ARGON2_PARAMS.memoryKiB * ARGON2_PARAMS.timeCost;
const ARGON2_MAX_PARALLELISM = 16;
const ARGON2_SALT_BYTES = { min: 8, max: 64 } as const;
const ARGON2_HASH_BYTES = { min: 16, max: 64 } as const;
const FORMER_SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const;
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
const MAX_SCRYPT_WORK = 16 * FORMER_SCRYPT.N * FORMER_SCRYPT.r * FORMER_SCRYPT.p;
const FIREBASE_ROUNDS = { min: 1, max: 8 } as const;
const FIREBASE_MEM_COST = { min: 1, max: 14 } as const;
const BCRYPT_COST = { min: 4, max: 14 } as const;
/** bcrypt reads only the first 72 bytes of a password; a longer one is refused, not cut (Supabase refuses them too). */
const BCRYPT_MAX_PASSWORD_BYTES = 72;

/** The project-wide parameters of Firebase's modified scrypt, base64 strings as Firebase gives them. */
export interface FirebaseScryptParams {
  /** `base64_signer_key` (`--hash-key` of `firebase auth:import`). */
  signerKey: string;
  /** `base64_salt_separator`. */
  saltSeparator: string;
  rounds: number;
  /** `mem_cost`: N = 2^memCost. */
  memCost: number;
}

type ParsedHash =
  | { scheme: Argon2Variant; version: number; memoryKiB: number; timeCost: number; parallelism: number; salt: Buffer; hash: Buffer }
  | { scheme: 'scrypt'; N: number; r: number; p: number; salt: Buffer; hash: Buffer }
  | { scheme: 'firebase-scrypt'; rounds: number; memCost: number; saltSeparator: Buffer; signerKey: Buffer; salt: Buffer; hash: Buffer }
  | { scheme: 'bcrypt'; cost: number; stored: string };

/** A positive decimal integer without sign, leading zero or exponent; NaN otherwise. */
function integer(text: string | undefined): number {
  return text !== undefined && /^[1-9][0-9]{0,8}$/.test(text) ? Number(text) : NaN;
}

/** Bytes of a canonical base64 (or base64url) string of 0–maxBytes bytes; null when it is anything else. */
function decoded(text: string | undefined, encoding: 'base64' | 'base64url', maxBytes: number): Buffer | null {
  if (text === undefined || text.length > Math.ceil(maxBytes / 3) * 4) return null;
  const bytes = Buffer.from(text, encoding);
  // Node skips characters outside the alphabet: only a string that encodes back to itself is taken.
  return bytes.toString(encoding) === text ? bytes : null;
}

/** Bytes of unpadded standard base64 (the PHC string format's), of minBytes–maxBytes bytes; null when it is anything else. */
function decodedUnpadded(text: string | undefined, bounds: { min: number; max: number }): Buffer | null {
  if (text === undefined || text.length > Math.ceil((bounds.max * 4) / 3)) return null;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length < bounds.min || bytes.length > bounds.max) return null;
  return bytes.toString('base64').replace(/=+$/, '') === text ? bytes : null;
}

const within = (value: number, bounds: { min: number; max: number }) => value >= bounds.min && value <= bounds.max;

// The PHC string of Argon2 as its reference implementation writes it: $type$v=…$m=…,t=…,p=…$salt$hash
// (no key id, no associated data). Without `v=` ($type$m=…,t=…,p=…$salt$hash, as implementations
// wrote it before version 1.3) it is version 16 (0x10), as the PHC format and the library read it.
const ARGON2_PARAMETERS = /^m=([0-9]{1,9}),t=([0-9]{1,9}),p=([0-9]{1,9})$/;

function parseArgon2(all: string[]): ParsedHash | null {
  const fields = all.length === 5 ? [...all.slice(0, 2), 'v=16', ...all.slice(2)] : all;
  if (fields.length !== 6 || fields[0] !== '' || !Object.hasOwn(ARGON2_ALGORITHMS, fields[1]!)) return null;
  const version = /^v=([0-9]+)$/.exec(fields[2]!)?.[1];
  if (version === undefined || !Object.hasOwn(ARGON2_VERSIONS, version)) return null;
  const parameters = ARGON2_PARAMETERS.exec(fields[3]!);
  if (!parameters) return null;
  const [memoryKiB, timeCost, parallelism] = parameters.slice(1).map(integer) as [number, number, number];
  if (!(parallelism >= 1) || parallelism > ARGON2_MAX_PARALLELISM || !(timeCost >= 1)) return null;
  if (!(memoryKiB >= 8 * parallelism) || memoryKiB > ARGON2_MAX_MEMORY_KIB || memoryKiB * timeCost > ARGON2_MAX_WORK) return null;
  const salt = decodedUnpadded(fields[4], ARGON2_SALT_BYTES);
  const hash = decodedUnpadded(fields[5], ARGON2_HASH_BYTES);
  if (!salt || !hash) return null;
  return { scheme: fields[1] as Argon2Variant, version: Number(version), memoryKiB, timeCost, parallelism, salt, hash };
}

function parseScrypt(fields: string[]): ParsedHash | null {
  if (fields.length !== 6) return null;
  const [, n, r, p] = fields;
  const N = integer(n);
  const R = integer(r);
  const P = integer(p);
  const salt = decoded(fields[4], 'base64url', 1024);
  const hash = decoded(fields[5], 'base64url', 64);
  if (!salt || salt.length === 0 || !hash || hash.length < 16) return null;
  if (!(N > 1) || (N & (N - 1)) !== 0 || !(R >= 1) || !(P >= 1)) return null;
  if (128 * N * R > MAX_SCRYPT_MEMORY || N * R * P > MAX_SCRYPT_WORK) return null;
  return { scheme: 'scrypt', N, r: R, p: P, salt, hash };
}

function parseFirebaseScrypt(fields: string[]): ParsedHash | null {
  if (fields.length !== 7) return null;
  const rounds = integer(fields[1]);
  const memCost = integer(fields[2]);
  if (!within(rounds, FIREBASE_ROUNDS) || !within(memCost, FIREBASE_MEM_COST)) return null;
  const saltSeparator = decoded(fields[3], 'base64', 1024);
  const signerKey = decoded(fields[4], 'base64', 1024);
  const salt = decoded(fields[5], 'base64', 1024);
  const hash = decoded(fields[6], 'base64', 1024);
  // The hash is the signer key encrypted (AES-CTR keeps the length).
  if (!saltSeparator || !signerKey || !salt || !hash || signerKey.length < 16 || salt.length === 0 || hash.length !== signerKey.length) return null;
  return { scheme: 'firebase-scrypt', rounds, memCost, saltSeparator, signerKey, salt, hash };
}

// $2a$/$2b$/$2y$, a two-digit cost, then 22 characters of salt and 31 of hash in bcrypt's base64.
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

function parseBcrypt(stored: string): ParsedHash | null {
  const match = BCRYPT.exec(stored);
  const cost = match ? Number(match[1]) : NaN;
  return within(cost, BCRYPT_COST) ? { scheme: 'bcrypt', cost, stored } : null;
}

/** The stored hash's scheme and parameters, or null when it is not one of the accepted forms. */
function parsePasswordHash(stored: string): ParsedHash | null {
  if (typeof stored !== 'string' || stored.length > 4096) return null;
  if (stored.startsWith('$2')) return parseBcrypt(stored);
  const fields = stored.split('$');
  if (stored.startsWith('$argon2')) return parseArgon2(fields);
  if (fields[0] === 'scrypt') return parseScrypt(fields);
  if (fields[0] === 'firebase-scrypt') return parseFirebaseScrypt(fields);
  return null;
}

/** Whether `stored` is one of the accepted forms, well-formed and within the cost bounds. */
export function isAcceptedPasswordHash(stored: string): boolean {
  return parsePasswordHash(stored) !== null;
}

/** The scheme of a stored hash (`argon2id`, `argon2i`, `argon2d`, `scrypt`, `firebase-scrypt`, `bcrypt`), or null when it is not an accepted form. */
export function passwordHashScheme(stored: string): ParsedHash['scheme'] | null {
  return parsePasswordHash(stored)?.scheme ?? null;
}

/**
 * Whether a password that verified against `stored` should be stored again with ours: any form but
 * Argon2id v=19 with exactly our m, t and p (as argon2-cffi's check_needs_rehash), a 16-byte salt and
 * a 32-byte hash. Costlier parameters too: an imported hash of up to 64 MiB costs that only until
 * its user's first login.
 */
export function needsRehash(stored: string): boolean {
  const parsed = parsePasswordHash(stored);
  if (parsed?.scheme !== 'argon2id') return true;
  return (
    parsed.version !== 19 ||
    parsed.memoryKiB !== newHashMemoryKiB ||
    parsed.timeCost !== ARGON2_PARAMS.timeCost ||
    parsed.parallelism !== ARGON2_PARAMS.parallelism ||
    parsed.salt.length !== SALT_LENGTH ||
    parsed.hash.length !== KEY_LENGTH
  );
}

/**
 * The stored form of a Firebase user's password: the project's parameters and the user's
 * `salt` and `passwordHash` of `firebase auth:export`. Whether it is well-formed is
 * isAcceptedPasswordHash's to say.
 */
export function firebaseScryptHash(params: FirebaseScryptParams, salt: string, passwordHash: string): string {
  return ['firebase-scrypt', params.rounds, params.memCost, params.saltSeparator, params.signerKey, salt, passwordHash].join('$');
}

function scryptAsync(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function hashIn<T>(lane: Lane, kind: 'new' | 'check', task: () => Promise<T>): Promise<T> {
  return passwordHashing.run(lane, () => {
    passwordHashes.inc({ kind });
    return task();
  });
}

function optionsFor(N: number, r: number, p: number): ScryptOptions {
  return { N, r, p, maxmem: 256 * N * r };
}

/** Argon2 of `password` (on libuv's thread pool, off the event loop; the lanes of p > 1 on threads of the library's own), the raw key. */
function argon2(password: string, parsed: Omit<Extract<ParsedHash, { scheme: Argon2Variant }>, 'hash'>, keyLength: number): Promise<Buffer> {
  return hashRaw(password, {
    algorithm: ARGON2_ALGORITHMS[parsed.scheme] as Algorithm,
    version: ARGON2_VERSIONS[String(parsed.version)] as Version,
    memoryCost: parsed.memoryKiB,
    timeCost: parsed.timeCost,
    parallelism: parsed.parallelism,
    salt: parsed.salt,
    outputLen: keyLength,
  });
}

/** Returns "$argon2id$v=19$m=19456,t=2,p=1$salt$hash" (salt and hash in unpadded standard base64). */
export async function hashPassword(password: string, lane: Lane = 'deferrable'): Promise<string> {
  const params = {
    scheme: 'argon2id',
    version: 19,
    memoryKiB: newHashMemoryKiB,
    timeCost: ARGON2_PARAMS.timeCost,
    parallelism: ARGON2_PARAMS.parallelism,
    salt: randomBytes(SALT_LENGTH),
  } as const;
  const key = await hashIn(lane, 'new', () => argon2(password, params, KEY_LENGTH));
  const unpadded = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');
  const settings = `m=${params.memoryKiB},t=${params.timeCost},p=${params.parallelism}`;
  return ['', params.scheme, `v=${params.version}`, settings, unpadded(params.salt), unpadded(key)].join('$');
}

/**
 * Firebase's modified scrypt: scrypt(password, salt ‖ saltSeparator, N=2^memCost, r=rounds, p=1)
 * gives a 32-byte key, which encrypts the signer key with AES-256-CTR from a zero counter.
 */
async function firebaseScrypt(password: string, parsed: Extract<ParsedHash, { scheme: 'firebase-scrypt' }>): Promise<Buffer> {
  const key = await scryptAsync(password, Buffer.concat([parsed.salt, parsed.saltSeparator]), 32, optionsFor(2 ** parsed.memCost, parsed.rounds, 1));
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(parsed.signerKey), cipher.final()]);
}

/** Whether `password` is the one `stored` was made from, for any accepted form; false for anything malformed. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parsePasswordHash(stored);
  if (!parsed || typeof password !== 'string') return false;
  switch (parsed.scheme) {
    case 'argon2id':
    case 'argon2i':
    case 'argon2d': {
      const key = await hashIn('urgent', 'check', () => argon2(password, parsed, parsed.hash.length));
      return timingSafeEqual(key, parsed.hash);
    }
    case 'scrypt': {
      const key = await hashIn('urgent', 'check', () => scryptAsync(password, parsed.salt, parsed.hash.length, optionsFor(parsed.N, parsed.r, parsed.p)));
      return timingSafeEqual(key, parsed.hash);
    }
    case 'firebase-scrypt': {
      const encrypted = await hashIn('urgent', 'check', () => firebaseScrypt(password, parsed));
      return timingSafeEqual(encrypted, parsed.hash);
    }
    case 'bcrypt':
      if (Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_PASSWORD_BYTES) return false;
      return hashIn('urgent', 'check', () => bcryptCompare(password, parsed.stored));
  }
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

/**
 * Tests only (test/helpers/setup-file.ts): new hashes with `memoryKiB` of memory instead of ours,
 * 19 MiB (about 16 ms of CPU each; the suite makes hundreds where what is tested is not the hash's
 * cost), or ours again with no argument. The memory is stored in each hash, so every hash still
 * verifies. The gateway and its tools never call it.
 */
export function setPasswordHashCostForTests(memoryKiB: number = ARGON2_PARAMS.memoryKiB): void {
  if (!Number.isInteger(memoryKiB) || memoryKiB < 8 * ARGON2_PARAMS.parallelism || memoryKiB > ARGON2_PARAMS.memoryKiB) {
    throw new RangeError(`Argon2 memory must be an integer from ${8 * ARGON2_PARAMS.parallelism} to ${ARGON2_PARAMS.memoryKiB} KiB`);
  }
  if (memoryKiB !== newHashMemoryKiB) decoy = undefined;
  newHashMemoryKiB = memoryKiB;
}
