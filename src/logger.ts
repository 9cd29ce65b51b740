import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger } from 'pino';
import { isoStringOfMs } from './iso-string.js';

export type { Logger };

/** The request being handled: its id. */
export interface RequestScope {
  requestId: string;
}

const requestScope = new AsyncLocalStorage<RequestScope>();

/**
 * Runs the handling of one request. Every line logged inside it carries the request id: through
 * any logger made by createLogger (the mixin below), so code that only holds the root logger still
 * tags its lines. (No child logger per request: making one was a measurable share of a token
 * check's CPU time, issue 18.)
 */
export function withRequestScope<T>(scope: RequestScope, handle: () => T): T {
  return requestScope.run(scope, handle);
}

/** Fields of an error worth logging: what it is and where, never what it was given. */
const ERROR_FIELDS = ['code', 'severity', 'routine', 'constraint', 'table', 'column', 'schema', 'dataType', 'errno', 'syscall', 'kind'];

/** Drizzle's query errors say `Failed query: <sql>\nparams: <values>`: the values go. */
function withoutParams(message: string): string {
  const at = message.indexOf('\nparams:');
  return at === -1 ? message : `${message.slice(0, at)}\nparams: (not logged)`;
}

/**
 * The `err` of a log line. An allow-list, not pino's copy of every property: database errors carry
 * the query's parameters (`params`, and values in `detail` such as "Key (email)=(…)"), which may be
 * emails, password hashes or token hashes, and those are never logged. Kept: the type, the message
 * (without parameters), the stack frames, the error code and where in the schema it happened, and the
 * cause, scrubbed the same way.
 */
export function serializeError(err: unknown, depth = 0): unknown {
  if (!err || typeof err !== 'object') return err;
  const e = err as Error & Record<string, unknown>;
  const message = withoutParams(String(e.message ?? ''));
  const type = e.constructor?.name ?? 'Error';
  const out: Record<string, unknown> = { type, message };
  if (typeof e.stack === 'string') {
    out.stack = [`${type}: ${message}`, ...e.stack.split('\n').filter((line) => /^\s+at /.test(line))].join('\n');
  }
  for (const key of ERROR_FIELDS) {
    const value = e[key];
    if (value !== undefined && value !== null && typeof value !== 'object') out[key] = value;
  }
  if (e.cause !== undefined && depth < 5) out.cause = serializeError(e.cause, depth + 1);
  if (Array.isArray(e.errors) && depth < 5) out.errors = e.errors.slice(0, 10).map((inner) => serializeError(inner, depth + 1));
  return out;
}

/** Log arguments handed over by libraries (Yoga's logger): errors among them are scrubbed too. */
const serializeArgs = (args: unknown) => (Array.isArray(args) ? args.map((a) => (a instanceof Error ? serializeError(a) : a)) : args);

/**
 * A pino timestamp function (`,"time":"…"`) that writes `format(Date.now())` once per millisecond:
 * lines logged in the same millisecond share it.
 */
export function timeOncePerMs(format: (ms: number) => string): () => string {
  let lastMs = Number.NaN;
  let last = '';
  return () => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      last = `,"time":"${format(now)}"`;
    }
    return last;
  };
}

/**
 * pino's isoTime (`,"time":"2026-01-31T12:00:00.000Z"`), written once per millisecond, and a new one
 * costs less than V8's toISOString (issue 18).
 */
export const isoTimestamp = timeOncePerMs(isoStringOfMs);

/** Loggers made by createLogger (not their children, which carry bindings): logAccess formats their access lines itself. */
const ownLoggers = new WeakSet<Logger>();

/** JSON lines on stdout (or `destination`); LOG_LEVEL picks the level (default info, silent under tests). */
export function createLogger(
  level = process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
  destination?: DestinationStream,
): Logger {
  // logAccess writes the access line itself, in a template that must match what these options make
  // pino write (no base, this timestamp, no redact or formatters, a mixin that adds nothing to a line
  // naming its request): test/access-log.test.ts holds it to them. Changing them here means changing
  // logAccess too.
  const options = {
    level,
    base: undefined,
    timestamp: isoTimestamp,
    serializers: { err: serializeError, error: serializeError, args: serializeArgs },
    mixin(line: object) {
      const scope = requestScope.getStore();
      // A line that names its request already (the access log's) keeps it.
      if (!scope || 'requestId' in line) return {};
      return { requestId: scope.requestId };
    },
  };
  const logger = destination ? pino(options, destination) : pino(options);
  ownLoggers.add(logger);
  return logger;
}

type MetadataStream = DestinationStream & { [key: symbol]: unknown };

/** String.prototype.isWellFormed (in Node 20, typed only from ES2024's lib): no lone surrogate. */
const wellFormed = (text: string) => (text as string & { isWellFormed(): boolean }).isWellFormed();

/** Fields the template writes as pino would: strings without a lone surrogate, finite numbers. */
function templateFits(requestId: unknown, method: unknown, path: unknown, status: unknown, ms: unknown): boolean {
  return (
    typeof requestId === 'string' &&
    typeof method === 'string' &&
    typeof path === 'string' &&
    Number.isFinite(status) &&
    Number.isFinite(ms) &&
    wellFormed(requestId) &&
    wellFormed(method) &&
    wellFormed(path)
  );
}

/**
 * The access-log line of an answered request, at `level` (info; debug for probes that succeeded):
 * the line of `logger[level]({ requestId, method, path, status, ms }, 'request')`. This function is the
 * one place that names the line's fields: the pino call below and the template after it.
 *
 * The template (pino's generic walk of the object, its serializer and mixin steps were a share of a
 * page's CPU time, issue 18) writes, byte for byte, the line pino writes for the same fields when all
 * of these hold: the logger is one createLogger made (not a child, whose bindings it would drop), its
 * stream does not ask for metadata (pino.multistream does), the three strings are strings without a
 * lone surrogate (JSON.stringify escapes one as \udXXX; pino, on Node before 25, writes it raw in a
 * string of up to 100 characters) and status and ms are finite numbers (pino writes NaN and Infinity
 * as null; the template would write invalid JSON). Anything else goes to pino itself.
 * test/access-log.test.ts compares the two lines, ordinary and odd fields alike, and holds the
 * template to createLogger's options.
 */
export function logAccess(
  logger: Logger,
  requestId: string,
  method: string,
  path: string,
  status: number,
  ms: number,
  level: 'info' | 'debug' = 'info',
): void {
  if (!logger.isLevelEnabled(level)) return;
  const stream = ownLoggers.has(logger) ? (logger as unknown as Record<symbol, MetadataStream | undefined>)[pino.symbols.streamSym] : undefined;
  if (!stream || stream[pino.symbols.needsMetadataGsym] === true || !templateFits(requestId, method, path, status, ms)) {
    logger[level]({ requestId, method, path, status, ms }, 'request');
    return;
  }
  const fields = `"requestId":${JSON.stringify(requestId)},"method":${JSON.stringify(method)},"path":${JSON.stringify(path)},"status":${status},"ms":${ms}`;
  stream.write(`{"level":${pino.levels.values[level]}${isoTimestamp()},${fields},"msg":"request"}\n`);
}
