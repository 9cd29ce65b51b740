// Waiting for attempts in flight, for the in-memory limiter (./attempts.ts) and the PostgreSQL store
// (./postgres-store.ts) alike: while a key's allowance is held by attempts of this process that may
// still be handed back, an admission waits for one of them to settle and looks again, instead of
// being refused for attempts that may not count.

/** The attempts in flight under one key, and the admissions waiting for one of them to settle. */
export class InFlight {
  private unsettled = 0;
  private readonly waiters = new Set<() => void>();

  /** Attempts admitted and not settled yet: begin() raises it, settle() lowers it. */
  get count(): number {
    return this.unsettled;
  }

  /** How many admissions wait now. */
  get waiting(): number {
    return this.waiters.size;
  }

  /** One attempt admitted; settle() it once when it is done. */
  begin(): void {
    this.unsettled += 1;
  }

  /** One attempt settled: every waiting admission looks again. */
  settle(): void {
    this.unsettled -= 1;
    this.wake();
  }

  /** Wakes every waiting admission (an attempt settled, or what they wait on is gone). */
  wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves at the next wake(), or after `ms`. */
  async woken(ms: number): Promise<void> {
    let wake!: () => void;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      wake = resolve;
      this.waiters.add(wake);
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.waiters.delete(wake);
  }
}

export interface AdmitOptions {
  /** How long an admission waits for attempts in flight before it is refused (Retry-After: 1). */
  maxWaitMs?: number;
  /** At most this many admissions wait on one key; more are refused at once (Retry-After: 1). */
  maxWaiting?: number;
}

/** What one look found: the answer (admitted or refused), or the attempts in flight to wait for (none: look again at once). */
export type Look<Answer> = { answer: Answer } | { waitOn: InFlight | undefined };

/**
 * Looks until `look` answers. Between looks it waits for an attempt of `waitOn` to settle; it is
 * refused with Retry-After: 1 once `maxWaitMs` has passed, or when `maxWaiting` admissions already
 * wait on that key. A look that needs no statement (the in-memory limiter) runs without yielding,
 * so what it finds is what it acts on.
 */
export async function lookUntilAnswered<Answer>(
  look: () => Look<Answer> | Promise<Look<Answer>>,
  options: AdmitOptions = {},
): Promise<Answer | { admitted: false; retryAfter: number }> {
  const maxWaitMs = options.maxWaitMs ?? 10_000;
  const maxWaiting = options.maxWaiting ?? 256;
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const pending = look();
    const looked = pending instanceof Promise ? await pending : pending;
    if ('answer' in looked) return looked.answer;
    const left = deadline - Date.now();
    if (left <= 0) return { admitted: false, retryAfter: 1 };
    const inFlight = looked.waitOn;
    if (!inFlight || inFlight.count === 0) continue;
    if (inFlight.waiting >= maxWaiting) return { admitted: false, retryAfter: 1 };
    await inFlight.woken(left);
  }
}
