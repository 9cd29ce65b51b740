// Counting attempts per key (an address, an account, an email) to stop guessing and flooding. Each
// key may make `limit` counted attempts within a window of `windowMs` that starts at its first
// attempt; past that, every attempt is refused until the window ends, whether it would have
// succeeded or not, so a guesser learns nothing. This limiter keeps them in memory, per process (a
// restart forgets); on PostgreSQL src/limits/postgres-store.ts keeps them in the database instead.
//
// An attempt is counted when it is admitted, before the work it guards (a password check, a key
// lookup) starts, not after it ends: otherwise any number of concurrent attempts all pass the check
// before the first one is counted. A reservation then either stays counted (`keep`: a failure, or
// any attempt of a limit on attempts) or is handed back (`refund`: a success, for limits on
// failures). While a key's whole allowance is held by attempts in flight, `admit` makes the next
// one wait for one of them to settle, instead of refusing it: a refund lets it in, a kept failure
// that reaches the limit refuses it like any later attempt (./in-flight.ts, shared with the
// PostgreSQL store).

import { InFlight, lookUntilAnswered, type AdmitOptions } from './in-flight.js';

export type { AdmitOptions } from './in-flight.js';

export interface AttemptLimit {
  /** Attempts allowed within one window. */
  limit: number;
  /** How long a window lasts, from its first attempt. */
  windowMs: number;
}

export interface AttemptLimiterOptions extends AttemptLimit {
  /** At most this many keys are tracked; past that the oldest windows are dropped first. */
  maxKeys?: number;
  /** The clock, in milliseconds; tests pass their own. */
  now?: () => number;
}

interface Window {
  /** Attempts counted: settled ones that were kept, and the ones in flight. */
  counted: number;
  /** The attempts in flight, and the admissions waiting for one to settle. */
  inFlight: InFlight;
  endsAt: number;
}

/** One admitted attempt: settle it once, with keep() or refund(); later calls do nothing. */
export interface Reservation {
  /** The attempt counts (a failure; or any attempt, for a limit on attempts). */
  keep(): void;
  /** The attempt does not count (a success, or an error that checked nothing). */
  refund(): void;
}

export type KeyState = 'open' | 'full' | 'refused';

export class AttemptLimiter {
  readonly limit: number;
  readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  // Insertion order is window-start order, so the first entries are the oldest.
  private readonly windows = new Map<string, Window>();

  constructor(options: AttemptLimiterOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1) throw new RangeError('limit must be a positive integer');
    if (!(options.windowMs > 0)) throw new RangeError('windowMs must be positive');
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.maxKeys = options.maxKeys ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * `refused`: the key has used its allowance with attempts that stay counted, until its window
   * ends; `full`: the rest of its allowance is held by attempts in flight; `open`: it may try now.
   */
  state(key: string): KeyState {
    const window = this.current(key);
    if (!window) return 'open';
    if (window.counted - window.inFlight.count >= this.limit) return 'refused';
    return window.counted >= this.limit ? 'full' : 'open';
  }

  /** Seconds until `key` may try again (at least 1) when it is refused, or 0. */
  retryAfter(key: string): number {
    const window = this.current(key);
    if (!window || window.counted - window.inFlight.count < this.limit) return 0;
    return Math.max(1, Math.ceil((window.endsAt - this.now()) / 1000));
  }

  /** Counts an attempt of `key` now, if its state is `open`; null otherwise. */
  reserve(key: string): Reservation | null {
    if (this.state(key) !== 'open') return null;
    let window = this.current(key);
    if (!window) {
      window = { counted: 0, inFlight: new InFlight(), endsAt: this.now() + this.windowMs };
      this.windows.set(key, window);
      this.prune();
    }
    const held = window;
    held.counted += 1;
    held.inFlight.begin();
    let settled = false;
    const settle = (kept: boolean) => {
      if (settled) return;
      settled = true;
      if (!kept) held.counted -= 1;
      if (held.counted === 0 && this.windows.get(key) === held) this.windows.delete(key);
      held.inFlight.settle();
    };
    return { keep: () => settle(true), refund: () => settle(false) };
  }

  /** Counts an attempt that stays counted whatever happens: for limits on attempts, not failures. */
  count(key: string): boolean {
    const reservation = this.reserve(key);
    reservation?.keep();
    return reservation !== null;
  }

  /** Forgets the settled attempts of `key` (after a success, for per-account counts); ones in flight still count. */
  reset(key: string): void {
    const window = this.windows.get(key);
    if (!window) return;
    window.counted = window.inFlight.count;
    if (window.counted === 0) this.windows.delete(key);
    window.inFlight.wake();
  }

  /** The attempts of `key` in flight in its current window, if it has one. */
  inFlight(key: string): InFlight | undefined {
    return this.current(key)?.inFlight;
  }

  /** How many keys are tracked now. */
  get size(): number {
    return this.windows.size;
  }

  private current(key: string): Window | undefined {
    const window = this.windows.get(key);
    if (window && window.endsAt <= this.now()) {
      this.windows.delete(key);
      window.inFlight.wake();
      return undefined;
    }
    return window;
  }

  private prune(): void {
    const now = this.now();
    for (const [key, window] of this.windows) {
      if (this.windows.size <= this.maxKeys && window.endsAt > now) break;
      this.windows.delete(key);
      window.inFlight.wake();
    }
  }
}

/** A limiter and the key an attempt is counted under. */
export interface Claim {
  limiter: AttemptLimiter;
  key: string;
}

export type Admission =
  | { admitted: true; reservations: Reservation[] }
  /** Refused: wait this many seconds (at least 1). */
  | { admitted: false; retryAfter: number };

/**
 * Admits one attempt counted under every claim, all or none: refused if any key is refused; if
 * some key's allowance is held by attempts in flight, it waits for one to settle and looks again.
 * Nothing is held while waiting, so two admissions can never wait on each other.
 */
export function admit(claims: readonly Claim[], options: AdmitOptions = {}): Promise<Admission> {
  return lookUntilAnswered<Admission>(() => {
    let retryAfter = 0;
    let full: Claim | undefined;
    for (const claim of claims) {
      const state = claim.limiter.state(claim.key);
      if (state === 'refused') retryAfter = Math.max(retryAfter, claim.limiter.retryAfter(claim.key));
      else if (state === 'full') full ??= claim;
    }
    if (retryAfter > 0) return { answer: { admitted: false, retryAfter } };
    // Every key is open, and nothing ran since they were looked at: these reservations succeed.
    if (!full) return { answer: { admitted: true, reservations: claims.map((claim) => claim.limiter.reserve(claim.key)!) } };
    return { waitOn: full.limiter.inFlight(full.key) };
  }, options);
}

/** Settles every reservation of an admission the same way. */
export function settleAll(reservations: readonly Reservation[], outcome: 'keep' | 'refund'): void {
  for (const reservation of reservations) reservation[outcome]();
}
