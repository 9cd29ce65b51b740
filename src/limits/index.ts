import { FailureLimiter, type FailureLimit } from './failures.js';

export { FailureLimiter, type FailureLimit } from './failures.js';

/** The limits on failed attempts, as README.md's Security section lists them. */
export interface FailureLimits {
  /** Requests with an admin key that is unknown, revoked or malformed, per source address. */
  adminKeyPerAddress: FailureLimit;
  /** Failed user logins (wrong password, unknown email) per source address. */
  loginPerAddress: FailureLimit;
  /** Failed logins per account (the email, lower-cased), from any address. */
  loginPerAccount: FailureLimit;
}

const minutes = (n: number) => n * 60_000;

export const defaultFailureLimits: FailureLimits = {
  adminKeyPerAddress: { limit: 20, windowMs: minutes(10) },
  loginPerAddress: { limit: 30, windowMs: minutes(10) },
  loginPerAccount: { limit: 10, windowMs: minutes(15) },
};

/** The failure counters of one gateway process. */
export interface Limiters {
  adminKey: FailureLimiter;
  login: LoginLimiter;
}

export function createLimiters(limits: Partial<FailureLimits> = {}, now?: () => number): Limiters {
  const merged = { ...defaultFailureLimits, ...limits };
  return {
    adminKey: new FailureLimiter({ ...merged.adminKeyPerAddress, now }),
    login: new LoginLimiter(
      new FailureLimiter({ ...merged.loginPerAddress, now }),
      new FailureLimiter({ ...merged.loginPerAccount, now }),
    ),
  };
}

/** Failed logins, counted per source address and per account; the stricter of the two decides. */
export class LoginLimiter {
  constructor(
    readonly perAddress: FailureLimiter,
    readonly perAccount: FailureLimiter,
  ) {}

  /** Seconds to wait before this address may try this account again; 0: it may try now. */
  retryAfter(address: string, account: string): number {
    return Math.max(this.perAddress.retryAfter(address), this.perAccount.retryAfter(accountKey(account)));
  }

  failed(address: string, account: string): void {
    this.perAddress.fail(address);
    this.perAccount.fail(accountKey(account));
  }

  /** A good password clears the account's count (not the address's: it may be guessing others). */
  succeeded(account: string): void {
    this.perAccount.reset(accountKey(account));
  }
}

const accountKey = (account: string) => account.trim().toLowerCase();

/** The HTTP status and header of a refusal: 429 with Retry-After in whole seconds. */
export function retryAfterHeaders(seconds: number): Record<string, string> {
  return { 'retry-after': String(seconds) };
}
