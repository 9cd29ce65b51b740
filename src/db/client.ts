import { mkdirSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import { sql, type ExtractTablesWithRelations, type Logger } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import pg from 'pg';
import * as schema from './schema.js';

export type Schema = typeof schema;
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
/** What `db.transaction(…)` hands its callback. */
export type Transaction = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** What repositories take: the database itself, or a transaction that composes several calls. */
export type Executor = Database | Transaction;

export type DatabaseTarget =
  | { kind: 'postgres'; url: string }
  | {
      kind: 'embedded';
      dataDir: string | null /* null: in memory */;
      /** A data directory saved with PGlite's dumpDataDir() to start from, instead of an empty database. */
      loadDataDir?: Blob;
    };

export interface DatabaseOptions {
  poolMax?: number;
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  /** Called with every SQL statement drizzle sends; the N+1 tests count them. */
  onQuery?: (query: string, params: unknown[]) => void;
  /** Told when a pooled PostgreSQL connection dies (server restart, pg_terminate_backend, network). */
  onConnectionError?: (err: Error, state: 'idle' | 'in use') => void;
}

export interface DatabaseHandle {
  db: Database;
  kind: DatabaseTarget['kind'];
  /** The node-postgres pool, or null on the embedded database. */
  pool: pg.Pool | null;
  /** The PGlite instance, or null on PostgreSQL. */
  pglite: PGlite | null;
  ping(timeoutMs?: number): Promise<boolean>;
  /**
   * A few connections of their own for a background worker, so its statements never wait behind
   * requests for the pool (nor requests behind it). On the embedded database, the one database.
   */
  openSidePool(max: number, applicationName: string): SidePool;
  close(): Promise<void>;
}

export interface SidePool {
  db: Database;
  close(): Promise<void>;
}

function warnConnectionError(err: Error, state: 'idle' | 'in use') {
  process.emitWarning(`${state} PostgreSQL connection failed: ${err.message}`);
}

type ConnectCallback = (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: any) => void) => void;

/**
 * A pool whose connections can die at any moment without taking the process down or leaking.
 * node-postgres emits 'error' on a client whose connection dies; on an idle client the pool
 * listens, but on a checked-out one nothing does unless we do, and an unhandled 'error' event ends
 * the process. Such a client is released (and so dropped from the pool) at once: drizzle's
 * transaction() never releases a client whose BEGIN failed, so a connection that died just as it
 * was handed out would otherwise stay checked out for good and shrink the pool. release() is made
 * idempotent so the owner's own later release() is harmless.
 */
class GatewayPool extends pg.Pool {
  readonly #inUse = new Set<pg.PoolClient>();

  constructor(
    config: pg.PoolConfig,
    private readonly onConnectionError: (err: Error, state: 'idle' | 'in use') => void,
  ) {
    super(config);
    this.on('error', (err) => onConnectionError(err, 'idle'));
    this.on('connect', (client) => {
      client.on('error', (err) => {
        if (!this.#inUse.has(client)) return; // idle: the pool drops it and emits 'error' above
        onConnectionError(err, 'in use');
        client.release(err);
      });
    });
  }

  #guard(client: pg.PoolClient): pg.PoolClient {
    const release = client.release;
    let released = false;
    this.#inUse.add(client);
    client.release = (err?: Error | boolean) => {
      if (released) return;
      released = true;
      this.#inUse.delete(client);
      release.call(client, err);
    };
    // Its 'error' came while it was idle but after the pool picked it: no event will come again.
    if (isDead(client)) client.release(new Error('the connection died while idle'));
    return client;
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
    if (!callback) return this.#connectLive();
    super.connect((err, client) => {
      if (err || !client) return callback(err, undefined, () => {});
      const guarded = this.#guard(client);
      callback(undefined, guarded, guarded.release);
    });
  }

  /** A connection that is alive as far as anyone can tell; a dead idle one is dropped and another taken. */
  async #connectLive(): Promise<pg.PoolClient> {
    for (let attempt = 1; ; attempt++) {
      const client = this.#guard(await super.connect());
      if (!isDead(client) || attempt === 3) return client;
    }
  }
}

// node-postgres marks a client whose connection failed as not queryable (no public API for it).
function isDead(client: pg.PoolClient): boolean {
  const state = client as unknown as { _queryable?: boolean; _ending?: boolean };
  return state._queryable === false || state._ending === true;
}

/** The node-postgres pool under a database (not a transaction), for the few hot reads that skip drizzle. */
export interface RawPool {
  pool: pg.Pool;
  /** drizzle's logger (DatabaseOptions.onQuery), told of each statement as drizzle would tell it. */
  logQuery: ((query: string, params: unknown[]) => void) | undefined;
}

const rawPools = new WeakMap<Executor, RawPool>();

/**
 * The pool of `ex` when it is a PostgreSQL database itself; null for a transaction (its statements
 * must go on its own connection) and for the embedded database.
 */
export function rawPoolOf(ex: Executor): RawPool | null {
  return rawPools.get(ex) ?? null;
}

export async function openDatabase(
  target: DatabaseTarget,
  options: DatabaseOptions = {},
): Promise<DatabaseHandle> {
  const logger: Logger | undefined = options.onQuery
    ? { logQuery: (query, params) => options.onQuery!(query, params) }
    : undefined;

  if (target.kind === 'postgres') {
    const poolConfig: pg.PoolConfig = {
      connectionString: target.url,
      max: options.poolMax ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      statement_timeout: options.statementTimeoutMs ?? 15_000,
      lock_timeout: options.lockTimeoutMs ?? 5_000,
      idle_in_transaction_session_timeout: 60_000,
      application_name: 'app-users-gateway',
    };
    const onConnectionError = options.onConnectionError ?? warnConnectionError;
    const sidePools = new Set<() => Promise<void>>();
    const pool = new GatewayPool(poolConfig, onConnectionError);
    const db = drizzlePg(pool, { schema, logger }) as unknown as Database;
    rawPools.set(db, { pool, logQuery: logger?.logQuery.bind(logger) });
    return {
      db,
      kind: 'postgres',
      pool,
      pglite: null,
      ping: (timeoutMs = 2_000) => pingWithin(db, timeoutMs),
      openSidePool: (max, applicationName) => {
        const side = new GatewayPool({ ...poolConfig, max, application_name: `app-users-gateway (${applicationName})` }, onConnectionError);
        let ended: Promise<void> | null = null;
        const close = () => (ended ??= side.end().finally(() => sidePools.delete(close)));
        sidePools.add(close);
        const sideDb = drizzlePg(side, { schema, logger }) as unknown as Database;
        rawPools.set(sideDb, { pool: side, logQuery: logger?.logQuery.bind(logger) });
        return { db: sideDb, close };
      },
      // Side pools end with the database, whether or not their owner closed them.
      close: async () => {
        await Promise.all([...sidePools].map((closeSide) => closeSide()));
        await pool.end();
      },
    };
  }

  if (target.dataDir) mkdirSync(target.dataDir, { recursive: true });
  // Imported only here: on PostgreSQL the embedded database is never loaded (~50 MB).
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle: drizzlePglite } = await import('drizzle-orm/pglite');
  const pglite = new PGlite({ dataDir: target.dataDir ?? undefined, loadDataDir: target.loadDataDir });
  await pglite.waitReady;
  const db = drizzlePglite(pglite, { schema, logger }) as unknown as Database;
  let closed = false;
  return {
    db,
    kind: 'embedded',
    pool: null,
    pglite,
    ping: (timeoutMs = 2_000) => pingWithin(db, timeoutMs),
    openSidePool: () => ({ db, close: async () => {} }),
    close: async () => {
      if (closed) return;
      closed = true;
      await pglite.close();
    },
  };
}

/** Whether `db` answers `select 1` within `timeoutMs` (the handles' `ping`). */
export async function pingWithin(db: Database, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([db.execute(sql`select 1`).then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
