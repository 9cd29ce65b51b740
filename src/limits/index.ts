import type { AttemptLimit } from './attempts.js';
import { defaultRateLimits, type RateLimits } from './defaults.js';
import { MemoryAttemptStore, type AttemptStore, type CounterClaim } from './store.js';
import type { WorkQueueOptions } from './work-queue.js';

export { admit, AttemptLimiter, type AttemptLimit, type Reservation } from './attempts.js';
export { defaultRateLimits, type RateLimits } from './defaults.js';
export { MemoryAttemptStore, type AttemptStore } from './store.js';
export { PostgresAttemptStore } from './postgres-store.js';
export { QueueFullError, WorkQueue, type WorkQueueOptions } from './work-queue.js';

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
  registerPerAddress: AttemptCounter;
  anonLoginPerAddress: AttemptCounter;
  confirmSendPerAddress: AttemptCounter;
  mailPerEmail: AttemptCounter;
}

/**
 * The limiters for createApp, their counters in `store` (in this process by default; in
 * PostgreSQL, shared by every instance, with src/limits/postgres-store.ts). The password-hashing
 * bounds are the defaults when unset, so one app's test settings do not outlive it.
 */
export function createLimiters(limits: Partial<RateLimits> = {}, now?: () => number, store?: AttemptStore): Limiters {
  const merged = { ...defaultRateLimits, ...limits };
  const local = new MemoryAttemptStore(now);
  const counters = store ?? local;
  const counter = (name: keyof Omit<RateLimits, 'passwordHashing'>) => ({ counter: name, limit: merged[name] });
  return {
    // Per process, even with a shared store: the key check runs on every admin request and is
    // answered from the instance's key cache without a statement, which a shared count would undo.
    adminKey: new FailureLimiter(local, counter('adminKeyPerAddress')),
    login: new LoginLimiter(counters, counter('loginPerAddress'), counter('loginPerAccount')),
    signUp: {
      registerPerAddress: new AttemptCounter(counters, counter('registerPerAddress')),
      anonLoginPerAddress: new AttemptCounter(counters, counter('anonLoginPerAddress')),
      confirmSendPerAddress: new AttemptCounter(counters, counter('confirmSendPerAddress')),
      mailPerEmail: new AttemptCounter(counters, counter('mailPerEmail')),
    },
    passwordHashing: merged.passwordHashing,
  };
}

/** One limit of the store: its name and its allowance. */
type Counter = Omit<CounterClaim, 'key'>;

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

/** Every attempt per key counts, from the moment it arrives (sign-ups, mails asked for). */
export class AttemptCounter {
  constructor(
    private readonly store: AttemptStore,
    private readonly counter: Counter,
  ) {}

  /** Counts an attempt of `key` and returns null, or the refusal when the key has used its allowance. */
  async count(key: string): Promise<Refusal | null> {
    const admission = await this.store.admit([{ ...this.counter, key }]);
    if (!admission.admitted) return { retryAfter: admission.retryAfter };
    admission.settle('keep');
    return null;
  }
}

/** Failed attempts per key (a source address), counted from the moment they are admitted. */
export class FailureLimiter {
  constructor(
    private readonly store: AttemptStore,
    private readonly counter: Counter,
  ) {}

  async attempt(key: string): Promise<AttemptOutcome | Refusal> {
    const admission = await this.store.admit([{ ...this.counter, key }]);
    if (!admission.admitted) return { retryAfter: admission.retryAfter };
    return {
      failed: () => admission.settle('keep'),
      succeeded: () => admission.settle('refund'),
      abandoned: () => admission.settle('refund'),
    };
  }
}

/** Failed logins, counted per source address and per account; the stricter of the two decides. */
export class LoginLimiter {
  constructor(
    private readonly store: AttemptStore,
    private readonly perAddress: Counter,
    private readonly perAccount: Counter,
  ) {}

  /**
   * Admits one login of `account` from `address`, counted under both before its password is
   * checked, or refuses it. A success clears the account's count (not the address's: it may be
   * guessing others).
   */
  async attempt(address: string, account: string): Promise<AttemptOutcome | Refusal> {
    const accountClaim = { ...this.perAccount, key: account.trim().toLowerCase() };
    const admission = await this.store.admit([{ ...this.perAddress, key: address }, accountClaim]);
    if (!admission.admitted) return { retryAfter: admission.retryAfter };
    return {
      failed: () => admission.settle('keep'),
      succeeded: () => admission.settle('refund', [accountClaim]),
      abandoned: () => admission.settle('refund'),
    };
  }
}

export const isRefusal = (outcome: AttemptOutcome | Refusal): outcome is Refusal => 'retryAfter' in outcome;

/** The HTTP status and header of a refusal: 429 with Retry-After in whole seconds. */
export function retryAfterHeaders(seconds: number): Record<string, string> {
  return { 'retry-after': String(seconds) };
}
