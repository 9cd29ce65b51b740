// Counting failed attempts (a wrong admin key, a wrong password) to stop guessing. Each key (an
// address, an account) may fail `limit` times within a window of `windowMs` that starts at its
// first failure; past that, every attempt is refused until the window ends, whether it would have
// succeeded or not, so a guesser learns nothing. Kept in memory, per process: a restart forgets.

export interface FailureLimit {
  /** Failures allowed within one window. */
  limit: number;
  /** How long a window lasts, from its first failure. */
  windowMs: number;
}

export interface FailureLimiterOptions extends FailureLimit {
  /** At most this many keys are tracked; past that the oldest windows are dropped first. */
  maxKeys?: number;
  /** The clock, in milliseconds; tests pass their own. */
  now?: () => number;
}

interface Window {
  failures: number;
  endsAt: number;
}

export class FailureLimiter {
  readonly limit: number;
  readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  // Insertion order is window-start order, so the first entries are the oldest.
  private readonly windows = new Map<string, Window>();

  constructor(options: FailureLimiterOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1) throw new RangeError('limit must be a positive integer');
    if (!(options.windowMs > 0)) throw new RangeError('windowMs must be positive');
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.maxKeys = options.maxKeys ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /** Seconds until `key` may try again (at least 1), or 0 if it may try now. */
  retryAfter(key: string): number {
    const window = this.current(key);
    if (!window || window.failures < this.limit) return 0;
    return Math.max(1, Math.ceil((window.endsAt - this.now()) / 1000));
  }

  /** Counts a failure of `key`; returns what retryAfter() now says. */
  fail(key: string): number {
    let window = this.current(key);
    if (!window) {
      window = { failures: 0, endsAt: this.now() + this.windowMs };
      this.windows.set(key, window);
      this.prune();
    }
    window.failures += 1;
    return this.retryAfter(key);
  }

  /** Forgets the failures of `key` (after a success, for per-account counts). */
  reset(key: string): void {
    this.windows.delete(key);
  }

  /** How many keys are tracked now. */
  get size(): number {
    return this.windows.size;
  }

  private current(key: string): Window | undefined {
    const window = this.windows.get(key);
    if (window && window.endsAt <= this.now()) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  private prune(): void {
    const now = this.now();
    for (const [key, window] of this.windows) {
      if (this.windows.size <= this.maxKeys && window.endsAt > now) break;
      this.windows.delete(key);
    }
  }
}
