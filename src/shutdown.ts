import { Server as NetServer, type Socket } from 'node:net';
import type { Server, ServerResponse } from 'node:http';
import type { Logger } from './logger.js';

export interface ShutdownDeps {
  /** The HTTP servers to stop, the main one first. */
  servers: Server[];
  /** Closes the database (the pool, or the embedded database) once no request runs. */
  closeDatabase: () => Promise<void>;
  logger: Logger;
  /**
   * How long the servers keep accepting connections after the signal, answering each request with
   * `Connection: close` (SHUTDOWN_DRAIN_MS): balancers that have not yet seen /ready turn 503 lose nothing.
   */
  drainMs: number;
  /** How long requests in flight may run on once the servers stop listening (SHUTDOWN_GRACE_MS). */
  graceMs: number;
  exit?: (code: number) => void;
}

/** What the shutdown knows of one connection. */
interface Connection {
  /** Responses begun on it and not yet finished. */
  responding: number;
  /** `socket.bytesRead` when its last response finished (0 while none has): more means a request is arriving. */
  bytesReadWhenIdle: number;
}

/**
 * Stops the gateway on SIGTERM or SIGINT without failing a request whose bytes reached it, the way
 * proxies drain:
 * 1. at once, /ready answers 503 (`isStopping`) and every response says `Connection: close`;
 * 2. for `drainMs` the servers still accept connections and answer them;
 * 3. then they stop listening; a connection is closed only when it is idle: no response running on
 *    it and no byte of a request received since its last response (a fresh connection that sent
 *    nothing in the whole drain). One that has received part of a request is answered first;
 * 4. once every connection is gone the database is closed and the process exits 0.
 * Requests still running `graceMs` after the servers stop listening are cut and the exit code is 1;
 * a second signal does the same at once.
 */
export function stopOnSignals(deps: ShutdownDeps): { isStopping: () => boolean } {
  const { servers, logger, drainMs, graceMs } = deps;
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  const inFlight = new Set<ServerResponse>();
  const connections = new Map<Socket, Connection>();
  let stopping = false;
  let listening = true;

  const isIdle = (socket: Socket, connection: Connection) =>
    connection.responding === 0 && socket.bytesRead === connection.bytesReadWhenIdle;
  const closeIfIdle = (socket: Socket) => {
    const connection = connections.get(socket);
    if (connection && isIdle(socket, connection)) socket.destroy();
  };

  for (const server of servers) {
    server.on('connection', (socket: Socket) => {
      connections.set(socket, { responding: 0, bytesReadWhenIdle: 0 });
      socket.once('close', () => connections.delete(socket));
    });
    server.on('request', (req, res: ServerResponse) => {
      const socket = req.socket;
      const connection = connections.get(socket);
      if (stopping) res.shouldKeepAlive = false;
      inFlight.add(res);
      if (connection) connection.responding += 1;
      res.once('close', () => {
        inFlight.delete(res);
        if (!connection) return;
        connection.responding -= 1;
        connection.bytesReadWhenIdle = socket.bytesRead;
        // After the drain a connection goes as soon as it is idle (Node ends `Connection: close` ones itself).
        if (stopping && !listening) setImmediate(() => closeIfIdle(socket));
      });
    });
  }

  const cutEverything = () => {
    for (const socket of connections.keys()) socket.destroy();
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
    logger.info(
      { signal, inFlight: inFlight.size, connections: connections.size, drainMs, graceMs },
      'stopping: /ready answers 503; still accepting, with Connection: close, during the drain',
    );
    for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;

    let cut = false;
    let deadline: NodeJS.Timeout | undefined;
    const drained = new Promise<void>((resolve) => setTimeout(resolve, drainMs));
    void drained
      .then(async () => {
        listening = false;
        deadline = setTimeout(() => {
          cut = true;
          logger.warn({ inFlight: inFlight.size, graceMs }, 'requests still in flight after the grace period; cutting them');
          cutEverything();
        }, graceMs);
        // net.Server's close, not http.Server's: that one also closes the connections Node deems idle,
        // among them fresh ones whose request is received but not yet parsed.
        const closed = servers.map((server) => new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve())));
        logger.info({ inFlight: inFlight.size, connections: connections.size }, 'drain over: no new connections; finishing the requests in flight');
        for (const socket of [...connections.keys()]) closeIfIdle(socket);
        await Promise.all(closed);
      })
      .then(async () => {
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
