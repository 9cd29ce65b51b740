// The default rate limits, as README.md's Security section lists them. Types only, no runtime
// imports: config.ts reads these without loading the limiters, the metrics or the hashing queue.
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

export const defaultRateLimits: RateLimits = {
  adminKeyPerAddress: { limit: 20, windowMs: minutes(10) },
  loginPerAddress: { limit: 30, windowMs: minutes(10) },
  loginPerAccount: { limit: 10, windowMs: minutes(15) },
  registerPerAddress: { limit: 20, windowMs: minutes(10) },
  anonLoginPerAddress: { limit: 20, windowMs: minutes(10) },
  confirmSendPerAddress: { limit: 20, windowMs: minutes(10) },
  mailPerEmail: { limit: 5, windowMs: minutes(60) },
  // 2 at once: there are 2 cores, and libuv's pool keeps 2 of its 4 threads for everything else.
  passwordHashing: { concurrency: 2, maxQueued: { urgent: 64, deferrable: 32 } },
};
