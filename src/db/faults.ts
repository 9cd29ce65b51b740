import { AppError } from '../errors.js';

/**
 * Database faults a caller can do something about: wait and retry. Everything here is reported to
 * clients with a stable code and `retryable: true`, and never with the driver's own message, which
 * can name hosts, tables or SQL.
 */
export type FaultKind = 'unavailable' | 'busy' | 'lock_timeout' | 'statement_timeout' | 'conflict';

const FAULTS: Record<FaultKind, { code: string; httpStatus: number; message: string }> = {
  // The database cannot be reached, restarts, or dropped our connection. Not "nothing was
  // changed": a connection lost while COMMIT was on its way leaves the outcome unknown.
  unavailable: {
    code: 'SERVICE_UNAVAILABLE',
    httpStatus: 503,
    message: 'The database is unavailable right now. Try again shortly.',
  },
  // Every pooled connection stayed busy for DB_CONNECT_TIMEOUT_MS.
  busy: {
    code: 'SERVICE_UNAVAILABLE',
    httpStatus: 503,
    message: 'Every database connection of the gateway is busy; nothing was changed. Try again shortly.',
  },
  // A row the operation needs stayed locked by another transaction for DB_LOCK_TIMEOUT_MS.
  lock_timeout: {
    code: 'LOCK_TIMEOUT',
    httpStatus: 200,
    message: 'Another change to the same user is still running; nothing was changed. Try again.',
  },
  statement_timeout: {
    code: 'STATEMENT_TIMEOUT',
    httpStatus: 200,
    message: 'The database took too long to answer; nothing was changed. Try again.',
  },
  // Deadlock or serialization failure: PostgreSQL asks for the transaction to be retried.
  conflict: {
    code: 'RETRYABLE',
    httpStatus: 200,
    message: 'The change collided with a concurrent one; nothing was changed. Try again.',
  },
};

/** A classified database fault, as clients see it. */
export class DatabaseFault extends AppError {
  readonly code: string;
  readonly retryable = true;
  /** 503 when the gateway as a whole cannot serve; field-level faults keep GraphQL's 200. */
  readonly httpStatus: number;

  constructor(
    readonly kind: FaultKind,
    options?: { cause?: unknown },
  ) {
    super(FAULTS[kind].message, options);
    this.code = FAULTS[kind].code;
    this.httpStatus = FAULTS[kind].httpStatus;
  }
}

// SQLSTATE classes and codes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
function kindOfSqlState(state: string): FaultKind | null {
  if (state === '55P03') return 'lock_timeout'; // lock_not_available: lock_timeout, NOWAIT
  if (state === '57014') return 'statement_timeout'; // query_canceled: statement_timeout, a cancel
  if (state === '40001' || state === '40P01') return 'conflict'; // serialization_failure, deadlock_detected
  if (state.startsWith('08')) return 'unavailable'; // connection exception
  if (state === '57P01' || state === '57P02' || state === '57P03') return 'unavailable'; // shutdown, crash, starting up
  if (state === '53300') return 'unavailable'; // too_many_connections
  return null;
}

// node-postgres reports a lost or refused connection as a plain Error, recognised by its message
// or its socket error code.
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end',
];
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

function kindOf(error: unknown): FaultKind | null {
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (/^[0-9A-Z]{5}$/.test(code)) {
      const kind = kindOfSqlState(code);
      if (kind) return kind;
    }
    if (SOCKET_CODES.has(code)) return 'unavailable';
  }
  // pg-pool, when no pooled connection frees up within connectionTimeoutMillis.
  if (error.message === 'timeout exceeded when trying to connect') return 'busy';
  if (CONNECTION_MESSAGES.some((m) => error.message.includes(m))) return 'unavailable';
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const kind = kindOf(inner);
      if (kind) return kind;
    }
  }
  return null;
}

/**
 * The fault behind an error, if it is one: follows `cause` (drizzle wraps driver errors in
 * DrizzleQueryError) and GraphQL's `originalError`. Null for bugs and for anything unknown.
 */
export function toDatabaseFault(error: unknown): DatabaseFault | null {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (current instanceof DatabaseFault) return current;
    const kind = kindOf(current);
    if (kind) return new DatabaseFault(kind, { cause: error });
    current = (current as { originalError?: unknown }).originalError ?? current.cause;
  }
  return null;
}
