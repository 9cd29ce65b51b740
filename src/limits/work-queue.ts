// At most `concurrency` tasks run at once; the others wait in line, in two lanes: `urgent` tasks (a
// login's password check) start before any `deferrable` one (a sign-up's new hash). Each lane holds
// at most its `maxQueued` waiting tasks; one more is refused at once with QueueFullError, so a flood
// costs memory and latency only up to a bound, and its excess is answered instead of piling up.

import { AppError } from '../errors.js';

export type Lane = 'urgent' | 'deferrable';

export interface WorkQueueOptions {
  /** Tasks running at once. */
  concurrency: number;
  /** Tasks that may wait in each lane. */
  maxQueued: Record<Lane, number>;
}

/** The lane is full: answer "busy, try again shortly" (503 with Retry-After; in GraphQL, SERVICE_UNAVAILABLE). */
export class QueueFullError extends AppError {
  readonly code = 'SERVICE_UNAVAILABLE';
  constructor(readonly lane: Lane) {
    super(`too many ${lane} tasks are waiting`);
  }
}

export class WorkQueue {
  private options: WorkQueueOptions;
  private running = 0;
  private readonly waiting: Record<Lane, (() => void)[]> = { urgent: [], deferrable: [] };

  constructor(options: WorkQueueOptions) {
    this.options = WorkQueue.checked(options);
  }

  /** New bounds; tasks already running or waiting are not affected. */
  configure(options: WorkQueueOptions): void {
    this.options = WorkQueue.checked(options);
    this.startWaiting();
  }

  get settings(): WorkQueueOptions {
    return this.options;
  }

  /** Tasks running and waiting now. */
  get load(): { running: number; urgent: number; deferrable: number } {
    return { running: this.running, urgent: this.waiting.urgent.length, deferrable: this.waiting.deferrable.length };
  }

  /** Runs `task` when a slot is free; throws QueueFullError at once when its lane is full. */
  async run<T>(lane: Lane, task: () => Promise<T>): Promise<T> {
    if (this.running >= this.options.concurrency || this.waiting.urgent.length + this.waiting.deferrable.length > 0) {
      if (this.waiting[lane].length >= this.options.maxQueued[lane]) throw new QueueFullError(lane);
      await new Promise<void>((resolve) => this.waiting[lane].push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await task();
    } finally {
      this.running -= 1;
      this.startWaiting();
    }
  }

  /** Hands free slots to waiting tasks, urgent ones first; a started task already counts as running. */
  private startWaiting(): void {
    while (this.running < this.options.concurrency) {
      const next = this.waiting.urgent.shift() ?? this.waiting.deferrable.shift();
      if (!next) return;
      this.running += 1;
      next();
    }
  }

  private static checked(options: WorkQueueOptions): WorkQueueOptions {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    for (const lane of ['urgent', 'deferrable'] as const) {
      if (!Number.isInteger(options.maxQueued[lane]) || options.maxQueued[lane] < 0) throw new RangeError(`maxQueued.${lane} must be a whole number`);
    }
    return { concurrency: options.concurrency, maxQueued: { ...options.maxQueued } };
  }
}
