import { admit, AttemptLimiter, settleAll, type AdmitOptions, type AttemptLimit } from './attempts.js';
import { defaultRateLimits, type RateLimits } from './defaults.js';
import type { WorkQueueOptions } from './work-queue.js';

export { admit, AttemptLimiter, type AttemptLimit, type Reservation } from './attempts.js';
export { defaultRateLimits, type RateLimits } from './defaults.js';
export { QueueFullError, WorkQueue, type WorkQueueOptions } from './work-queue.js';

/** How long an attempt waits for the attempts in flight that hold its key's allowance. */
const ADMIT_OPTIONS: AdmitOptions = { maxWaitMs: 10_000, maxWaiting: 256 };

/** The rate limiters of one gateway process. */
export interface Limiters {
  adminKey: FailureLimiter;
  login: LoginLimiter;
  signUp: SignUpLimiters;
  /** The bounds of the process-wide password-hashing queue (src/limits/password-hashing.ts), for createApp to apply. */
  passwordHashing: WorkQueueOptions;
}

/** Limits on every attempt, not only failures: each is counted when it arrives. */
export interface SignUpLimiters {
  registerPerAddress: AttemptLimiter;
  anonLoginPerAddress: AttemptLimiter;
  confirmSendPerAddress: AttemptLimiter;
  mailPerEmail: AttemptLimiter;
}

/**
 * The limiters for createApp. The password-hashing bounds are the defaults when unset, so one
 * app's test settings do not outlive it.
 */
export function createLimiters(limits: Partial<RateLimits> = {}, now?: () => number): Limiters {
  const merged = { ...defaultRateLimits, ...limits };
  const limiter = (limit: AttemptLimit) => new AttemptLimiter({ ...limit, now });
  return {
    adminKey: new FailureLimiter(limiter(merged.adminKeyPerAddress)),
    login: new LoginLimiter(limiter(merged.loginPerAddress), limiter(merged.loginPerAccount)),
    signUp: {
      registerPerAddress: limiter(merged.registerPerAddress),
      anonLoginPerAddress: limiter(merged.anonLoginPerAddress),
      confirmSendPerAddress: limiter(merged.confirmSendPerAddress),
      mailPerEmail: limiter(merged.mailPerEmail),
    },
    passwordHashing: merged.passwordHashing,
  };
}

/** What an admitted attempt turned out to be; call one of them, once. */
export interface AttemptOutcome {
  /** It failed: it stays counted. */
  failed(): void;
  /** It succeeded: it is not counted (and a login clears its account's count). */
  succeeded(): void;
  /** It checked nothing conclusive (a fault, a disabled user): it is not counted. */
  abandoned(): void;
}

/** Refused before anything is checked: wait this many seconds. */
export interface Refusal {
  retryAfter: number;
}

/** Failed attempts per key (a source address), counted from the moment they are admitted. */
export class FailureLimiter {
  constructor(readonly attempts: AttemptLimiter) {}

  async attempt(key: string): Promise<AttemptOutcome | Refusal> {
    const admission = await admit([{ limiter: this.attempts, key }], ADMIT_OPTIONS);
    if (!admission.admitted) return { retryAfter: admission.retryAfter };
    const [reservation] = admission.reservations;
    return { failed: () => reservation!.keep(), succeeded: () => reservation!.refund(), abandoned: () => reservation!.refund() };
  }
}

/** Failed logins, counted per source address and per account; the stricter of the two decides. */
export class LoginLimiter {
  constructor(
    readonly perAddress: AttemptLimiter,
    readonly perAccount: AttemptLimiter,
  ) {}

  /**
   * Admits one login of `account` from `address`, counted under both before its password is
   * checked, or refuses it. A success clears the account's count (not the address's: it may be
   * guessing others).
   */
  async attempt(address: string, account: string): Promise<AttemptOutcome | Refusal> {
    const accountKey = account.trim().toLowerCase();
    const admission = await admit(
      [
        { limiter: this.perAddress, key: address },
        { limiter: this.perAccount, key: accountKey },
      ],
      ADMIT_OPTIONS,
    );
    if (!admission.admitted) return { retryAfter: admission.retryAfter };
    const { reservations } = admission;
    return {
      failed: () => settleAll(reservations, 'keep'),
      succeeded: () => {
        settleAll(reservations, 'refund');
        this.perAccount.reset(accountKey);
      },
      abandoned: () => settleAll(reservations, 'refund'),
    };
  }
}

export const isRefusal = (outcome: AttemptOutcome | Refusal): outcome is Refusal => 'retryAfter' in outcome;

/** The HTTP status and header of a refusal: 429 with Retry-After in whole seconds. */
export function retryAfterHeaders(seconds: number): Record<string, string> {
  return { 'retry-after': String(seconds) };
}
