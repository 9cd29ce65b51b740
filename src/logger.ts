import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** The request being handled: its id and its own child logger. */
export interface RequestScope {
  requestId: string;
  logger: Logger;
}

const requestScope = new AsyncLocalStorage<RequestScope>();

/**
 * Runs the handling of one request. Every line logged inside it carries the request id: through
 * the request's child logger, and through any other logger made by createLogger (the mixin below),
 * so code that only holds the root logger still tags its lines.
 */
export function withRequestScope<T>(scope: RequestScope, handle: () => T): T {
  return requestScope.run(scope, handle);
}

/** The current request's child logger, if a request is being handled. */
export function requestLogger(): Logger | undefined {
  return requestScope.getStore()?.logger;
}

/** JSON lines on stdout (or `destination`); LOG_LEVEL picks the level (default info, silent under tests). */
export function createLogger(
  level = process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
  destination?: DestinationStream,
): Logger {
  const options = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin(_line: object, _level: number, logger: Logger) {
      const scope = requestScope.getStore();
      if (!scope || 'requestId' in logger.bindings()) return {};
      return { requestId: scope.requestId };
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
