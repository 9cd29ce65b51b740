// The default rate limits, as README.md's Security section lists them. Types only, no runtime
// imports of the project's: config.ts reads these without loading the limiters, the metrics or the
// hashing queue.
import { availableParallelism } from 'node:os';
import type { AttemptLimit } from './attempts.js';
import type { WorkQueueOptions } from './work-queue.js';

/** The rate limits; each counts per window from its first counted attempt. */
export interface RateLimits {
  /** Requests with an admin key that is unknown, revoked or malformed, per source address (failures). */
  adminKeyPerAddress: AttemptLimit;
  /** Failed user logins (wrong password, unknown email) per source address. */
  loginPerAddress: AttemptLimit;
  /** Failed logins per account (the email, lower-cased), from any address. */
  loginPerAccount: AttemptLimit;
  /** Sign-ups (`local-userpass/register`), every attempt, per source address. */
  registerPerAddress: AttemptLimit;
  /** Anonymous logins (each makes a user), every attempt, per source address. */
  anonLoginPerAddress: AttemptLimit;
  /** `local-userpass/confirm/send`, every attempt, per source address. */
  confirmSendPerAddress: AttemptLimit;
  /** Mails asked for one recipient (`confirm/send` and `reset/send`). */
  mailPerEmail: AttemptLimit;
  /** How many password hashes run at once, and how many may wait (src/users/passwords.ts). */
  passwordHashing: WorkQueueOptions;
}

const minutes = (n: number) => n * 60_000;

/**
 * Password hashes at once by default on a machine of `cores`: every core but one, and at most 2.
 * Each scrypt takes a core for about 100 ms and 32 MiB. The core left over keeps the event loop and
 * everything it serves going through a login flood (on 2 cores with both hashing, reads' p99 rose
 * several times over); libuv's pool (4 threads) keeps 2 threads for everything else; and the
 * process's peak is one hash's 32 MiB per lane above what it holds (README, Memory).
 */
export function hashConcurrencyFor(cores: number): number {
  return Math.max(1, Math.min(2, cores - 1));
}

export const defaultRateLimits: RateLimits = {
  adminKeyPerAddress: { limit: 20, windowMs: minutes(10) },
  loginPerAddress: { limit: 30, windowMs: minutes(10) },
  loginPerAccount: { limit: 10, windowMs: minutes(15) },
  registerPerAddress: { limit: 20, windowMs: minutes(10) },
  anonLoginPerAddress: { limit: 20, windowMs: minutes(10) },
  confirmSendPerAddress: { limit: 20, windowMs: minutes(10) },
  mailPerEmail: { limit: 5, windowMs: minutes(60) },
  passwordHashing: { concurrency: hashConcurrencyFor(availableParallelism()), maxQueued: { urgent: 64, deferrable: 32 } },
};
