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

let lastTimeMs = Number.NaN;
let lastTime = '';

/**
 * pino's isoTime (`,"time":"2026-01-31T12:00:00.000Z"`), written once per millisecond: lines logged
 * in the same millisecond share it, and a new one costs less than V8's toISOString (issue 18).
 */
export function isoTimestamp(): string {
  const now = Date.now();
  if (now !== lastTimeMs) {
    lastTimeMs = now;
    lastTime = `,"time":"${isoStringOfMs(now)}"`;
  }
  return lastTime;
}

/** Loggers made by createLogger (not their children, which carry bindings): logAccess formats their access lines itself. */
const ownLoggers = new WeakSet<Logger>();

/** JSON lines on stdout (or `destination`); LOG_LEVEL picks the level (default info, silent under tests). */
export function createLogger(
  level = process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
  destination?: DestinationStream,
): Logger {
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

/**
 * The access-log line of an answered request, at info: the very line
 * `logger.info({ requestId, method, path, status, ms }, 'request')` writes, formatted here in one
 * template (pino's generic walk of the object, its serializer and mixin steps were a share of a
 * page's CPU time, issue 18). Any logger createLogger did not make logs it through pino.
 */
export function logAccess(logger: Logger, requestId: string, method: string, path: string, status: number, ms: number): void {
  const stream = ownLoggers.has(logger) ? (logger as unknown as Record<symbol, MetadataStream | undefined>)[pino.symbols.streamSym] : undefined;
  if (!stream || stream[pino.symbols.needsMetadataGsym] === true) {
    logger.info({ requestId, method, path, status, ms }, 'request');
    return;
  }
  if (!logger.isLevelEnabled('info')) return;
  const fields = `"requestId":${JSON.stringify(requestId)},"method":${JSON.stringify(method)},"path":${JSON.stringify(path)},"status":${status},"ms":${ms}`;
  stream.write(`{"level":${pino.levels.values.info}${isoTimestamp()},${fields},"msg":"request"}\n`);
}
