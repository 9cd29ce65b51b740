import { defaultRateLimits } from './defaults.js';
import { WorkQueue } from './work-queue.js';

/**
 * Every password hash of the process goes through this queue: ours (Argon2id), and the checks of
 * older and imported forms (scrypt, Firebase's scrypt, bcrypt). Argon2id and scrypt run on libuv's
 * thread pool (4 threads), bcrypt on worker threads; @node-rs/argon2 runs the lanes of an imported
 * p > 1 hash on threads of its own (two more per hash on 2 cores), its total work still bounded by
 * passwords.ts's m·t bound. Each takes a core while it runs (Argon2id ~16 ms and 19 MiB, our scrypt
 * of before ~120 ms and 32 MiB): unbounded, 150 concurrent sign-ups took every thread and core, and
 * a login waited behind them for half a minute. Two run at once (there are 2 cores, and the pool
 * keeps threads for everything else); a login's check goes before any waiting sign-up's new hash;
 * past the bounds of a lane, the request is refused at once (QueueFullError: 503 with Retry-After).
 * One per process on purpose, like the thread pool it guards; createLimiters() applies the
 * configured bounds (PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_QUEUE).
 */
export const passwordHashing = new WorkQueue(defaultRateLimits.passwordHashing);
