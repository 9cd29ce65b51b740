import type { Server, ServerResponse } from 'node:http';
import type { Logger } from './logger.js';

export interface ShutdownDeps {
  /** The HTTP servers to stop, the main one first. */
  servers: Server[];
  /** Closes the database (the pool, or the embedded database) once no request runs. */
  closeDatabase: () => Promise<void>;
  logger: Logger;
  /** How long requests in flight may run on after the signal (SHUTDOWN_GRACE_MS). */
  graceMs: number;
  exit?: (code: number) => void;
}

/**
 * Stops the gateway on SIGTERM or SIGINT without failing a request it accepted: the servers stop
 * accepting connections at once, the requests in flight run to their end (each answered with
 * `Connection: close`, and keep-alive connections closed as soon as they are idle), then the
 * database is closed and the process exits 0. Requests still running after the grace period are
 * cut and the exit code is 1; so does a second signal, at once.
 */
export function stopOnSignals(deps: ShutdownDeps): { isStopping: () => boolean } {
  const { servers, logger, graceMs } = deps;
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  const inFlight = new Set<ServerResponse>();
  let stopping = false;

  for (const server of servers) {
    server.on('request', (_req, res: ServerResponse) => {
      if (stopping) res.shouldKeepAlive = false;
      inFlight.add(res);
      res.once('close', () => {
        inFlight.delete(res);
        // A keep-alive connection whose response went out before the signal is idle now: close it.
        if (stopping) setImmediate(() => server.closeIdleConnections());
      });
    });
  }

  const cutEverything = () => {
    for (const server of servers) server.closeAllConnections();
  };

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal, inFlight: inFlight.size }, 'second signal: cutting the requests in flight');
      cutEverything();
      exit(1);
      return;
    }
    stopping = true;
    const startedAt = Date.now();
    logger.info({ signal, inFlight: inFlight.size, graceMs }, 'stopping: no new connections; finishing the requests in flight');
    for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;

    let cut = false;
    const deadline = setTimeout(() => {
      cut = true;
      logger.warn({ inFlight: inFlight.size, graceMs }, 'requests still in flight after the grace period; cutting them');
      cutEverything();
    }, graceMs);

    const closed = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    for (const server of servers) server.closeIdleConnections();
    void Promise.all(closed).then(async () => {
      clearTimeout(deadline);
      let code = cut ? 1 : 0;
      try {
        await deps.closeDatabase();
        logger.info('database closed');
      } catch (err) {
        logger.error({ err }, 'could not close the database cleanly');
        code = 1;
      }
      logger.info({ exitCode: code, ms: Date.now() - startedAt }, 'stopped');
      exit(code);
    });
  };

  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return { isStopping: () => stopping };
}
