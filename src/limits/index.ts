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
  adminKey: FailureCounter;
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
  const adminKeyLocal = new FailureLimiter(local, counter('adminKeyPerAddress'));
  return {
    // Counted in this process first: the key check runs on every admin request and is answered
    // from the instance's key cache without a statement. Only failures reach the shared store.
    adminKey: store ? new SharedFailureLimiter(adminKeyLocal, store, counter('adminKeyPerAddress'), now) : adminKeyLocal,
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
  /**
   * It succeeded: it is not counted (and a login clears its account's count). Resolves once every
   * instance would see that: a login answers only then, so attempts after it count from zero.
   */
  succeeded(): Promise<void>;
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

/** Failed attempts per key: admits an attempt (or refuses it), then is told how it went. */
export interface FailureCounter {
  attempt(key: string): Promise<AttemptOutcome | Refusal>;
  /**
   * Whether an attempt of `key` now would be admitted at once, nothing refused and nothing waited
   * for. A caller whose check then succeeds without yielding (a key found in memory) may skip the
   * attempt: admitted and handed back in the same tick, it would change nothing (issue 18).
   */
  admitsNow?(key: string): boolean;
}

/** Failed attempts per key (a source address), counted from the moment they are admitted. */
export class FailureLimiter implements FailureCounter {
  constructor(
    private readonly store: AttemptStore,
    private readonly counter: Counter,
  ) {}

  async attempt(key: string): Promise<AttemptOutcome | Refusal> {
    const admission = await this.store.admit([{ ...this.counter, key }]);
    if (!admission.admitted) return { retryAfter: admission.retryAfter };
    return {
      failed: () => void admission.settle('keep'),
      succeeded: () => admission.settle('refund'),
      abandoned: () => void admission.settle('refund'),
    };
  }

  admitsNow(key: string): boolean {
    return this.store.admitsNow?.(this.counter.counter, this.counter.limit, key) ?? false;
  }
}

/**
 * Failed attempts per key, counted in this process (so an attempt that succeeds costs no statement)
 * and, for failures only, in the shared store as well. When the shared count of a key is past its
 * allowance, this process refuses the key until the store's window ends: N instances allow the
 * documented number of failures between them, plus at most one more per instance (the one that
 * tells it), instead of N times the number.
 */
export class SharedFailureLimiter implements FailureCounter {
  /** Keys the shared store refused, and until when (ms). */
  private readonly blocked = new Map<string, number>();

  constructor(
    private readonly local: FailureLimiter,
    private readonly store: AttemptStore,
    private readonly counter: Counter,
    private readonly now: () => number = Date.now,
  ) {}

  async attempt(key: string): Promise<AttemptOutcome | Refusal> {
    const until = this.blocked.get(key);
    if (until !== undefined) {
      if (until > this.now()) return { retryAfter: Math.max(1, Math.ceil((until - this.now()) / 1000)) };
      this.blocked.delete(key);
    }
    const outcome = await this.local.attempt(key);
    if (isRefusal(outcome)) return outcome;
    return {
      ...outcome,
      failed: () => {
        outcome.failed();
        // Not awaited: the answer is a 401 either way; what the store says applies from the next attempt.
        void this.recordFailure(key);
      },
    };
  }

  admitsNow(key: string): boolean {
    const until = this.blocked.get(key);
    return (until === undefined || until <= this.now()) && this.local.admitsNow(key);
  }

  private async recordFailure(key: string): Promise<void> {
    try {
      const admission = await this.store.admit([{ ...this.counter, key }]);
      if (admission.admitted) admission.settle('keep');
      else {
        // Bounded: a refused key is dropped once its wait is over, and the map is emptied if it ever grows large.
        if (this.blocked.size >= 10_000) this.blocked.clear();
        this.blocked.set(key, this.now() + admission.retryAfter * 1000);
      }
    } catch {
      // The shared store is unreachable: this process's own count still applies.
    }
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
      failed: () => void admission.settle('keep'),
      succeeded: () => admission.settle('refund', [accountClaim]),
      abandoned: () => void admission.settle('refund'),
    };
  }
}

export const isRefusal = (outcome: AttemptOutcome | Refusal): outcome is Refusal => 'retryAfter' in outcome;

/** The HTTP status and header of a refusal: 429 with Retry-After in whole seconds. */
export function retryAfterHeaders(seconds: number): Record<string, string> {
  return { 'retry-after': String(seconds) };
}
