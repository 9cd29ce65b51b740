// Where the rate limits' counters live: in this process (the embedded database, or tests), or in
// PostgreSQL (src/limits/postgres-store.ts), shared by every instance on the server so a limit
// holds for the deployment, not per instance, and survives a restart.
import { admit, AttemptLimiter, settleAll, type AdmitOptions, type AttemptLimit } from './attempts.js';

/** One attempt to count: under `key` (an address, an account) of the limit named `counter`. */
export interface CounterClaim {
  /** The limit's name, e.g. `loginPerAccount`: keys of different limits never mix. */
  counter: string;
  limit: AttemptLimit;
  key: string;
}

export type StoreAdmission =
  | {
      admitted: true;
      /**
       * Settles the attempt under every claim, once: `keep` (it counts) or `refund` (it does not);
       * `forget` lists claims whose settled count is cleared as well (a login's account on success).
       * Resolves (never rejects) once the store holds the outcome.
       */
      settle(outcome: 'keep' | 'refund', forget?: readonly CounterClaim[]): Promise<void>;
    }
  /** Refused: wait this many seconds (at least 1). */
  | { admitted: false; retryAfter: number };

/**
 * The counters of the limits on attempts (src/limits/attempts.ts explains the rules). `admit`
 * counts one attempt under every claim, all or none, before the work it guards starts; while a
 * key's allowance is held by attempts of this process still in flight, it waits for one to settle
 * instead of refusing.
 */
export interface AttemptStore {
  admit(claims: readonly CounterClaim[]): Promise<StoreAdmission>;
  /** Whether `admit` of this one claim would admit it at once, if the store can tell without yielding. */
  admitsNow?(counter: string, limit: AttemptLimit, key: string): boolean;
}

type Settle = Extract<StoreAdmission, { admitted: true }>['settle'];

/** An admitted attempt whose `settle` acts on its first call only: an attempt is settled once. */
export function admittedOnce(settle: Settle): StoreAdmission {
  let settled = false;
  return {
    admitted: true,
    settle: (outcome, forget) => {
      if (settled) return Promise.resolve();
      settled = true;
      return settle(outcome, forget);
    },
  };
}

/** How long an attempt waits for the attempts in flight that hold its key's allowance. */
export const ADMIT_OPTIONS: Required<AdmitOptions> = { maxWaitMs: 10_000, maxWaiting: 256 };

/** The counters in this process's memory: what one process needs, and forgotten at a restart. */
export class MemoryAttemptStore implements AttemptStore {
  private readonly limiters = new Map<string, AttemptLimiter>();

  constructor(private readonly now?: () => number) {}

  /** The in-memory limiter of one limit, made at its first use. */
  limiter(counter: string, limit: AttemptLimit): AttemptLimiter {
    let limiter = this.limiters.get(counter);
    if (!limiter) {
      limiter = new AttemptLimiter({ ...limit, now: this.now });
      this.limiters.set(counter, limiter);
    }
    return limiter;
  }

  admitsNow(counter: string, limit: AttemptLimit, key: string): boolean {
    return this.limiter(counter, limit).state(key) === 'open';
  }

  async admit(claims: readonly CounterClaim[]): Promise<StoreAdmission> {
    const admission = await admit(
      claims.map((claim) => ({ limiter: this.limiter(claim.counter, claim.limit), key: claim.key })),
      ADMIT_OPTIONS,
    );
    if (!admission.admitted) return admission;
    return admittedOnce((outcome, forget = []) => {
      settleAll(admission.reservations, outcome);
      for (const claim of forget) this.limiter(claim.counter, claim.limit).reset(claim.key);
      return Promise.resolve();
    });
  }
}
