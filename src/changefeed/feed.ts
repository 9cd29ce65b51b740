// The change feed: what the per-instance caches (tokens/session-cache.ts, admin/key-cache.ts, built on
// cache.ts) are told, kept exact by the database itself.
//
// Triggers (migrations/0001_revocation_notify.sql) publish every change that can make a cached
// answer wrong on the channel gateway_revocations, in the transaction that makes it (and
// migrations/0003_signing_keys_notify.sql publishes "s:<kid>" when the signing keys change: a
// rotation, which every instance's key ring reloads on). Each instance:
//   - LISTENs on a dedicated connection: changes made by other instances arrive within milliseconds;
//   - also LISTENs on each pooled connection it uses: PostgreSQL hands a session its own
//     transaction's notifications before that COMMIT returns, so a change made by this instance is
//     out of its caches before the mutation that made it answers;
//   - when the dedicated connection is lost (notifications are not replayed), drops both caches and
//     reads through to the database until it listens again.
// On the embedded database (one process) PGlite calls the listener before the committing statement
// returns, so the caches are invalidated directly.
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { DatabaseHandle } from '../db/client.js';
import type { Logger } from '../logger.js';

export const REVOCATION_CHANNEL = 'gateway_revocations';

/** What a cache is told. */
export interface RevocationSubscriber {
  /** Something about this user changed: its status, its existence, or one of its sessions. */
  userChanged(userId: string): void;
  /** This admin key was revoked, deleted or given another role. */
  keyChanged(keyId: string): void;
  /** An access-token signing key was created, retired or deleted (a rotation): reload the key ring. */
  signingKeysChanged?(keyId: string): void;
  /** Notifications may have been missed: forget everything. */
  reset(): void;
}

export interface RevocationFeed {
  /** True while every committed change is sure to be notified here; caches are used only then. */
  readonly live: boolean;
  subscribe(subscriber: RevocationSubscriber): void;
  close(): Promise<void>;
}

export interface RevocationFeedOptions {
  /** First delay before connecting the listener again; doubles up to 2 s. */
  reconnectDelayMs?: number;
  /** How often the dedicated connection is checked with a query, to notice a silently dead one. */
  heartbeatMs?: number;
}

function dispatch(subscribers: RevocationSubscriber[], payload: string | undefined) {
  if (!payload) return;
  const id = payload.slice(2);
  if (payload.startsWith('u:')) for (const s of subscribers) s.userChanged(id);
  else if (payload.startsWith('k:')) for (const s of subscribers) s.keyChanged(id);
  else if (payload.startsWith('s:')) for (const s of subscribers) s.signingKeysChanged?.(id);
  else for (const s of subscribers) s.reset();
}

/** Starts listening on the database of `database`: a dedicated connection on PostgreSQL, PGlite's own on the embedded one. */
export function startRevocationFeed(
  database: DatabaseHandle,
  logger: Logger,
  options: RevocationFeedOptions = {},
): RevocationFeed {
  if (database.pglite) return embeddedFeed(database.pglite, logger);
  return postgresFeed(database.pool!, logger, options);
}

function embeddedFeed(pglite: PGlite, logger: Logger): RevocationFeed {
  const subscribers: RevocationSubscriber[] = [];
  let live = false;
  let unlisten: (() => Promise<void>) | undefined;
  const listening = pglite
    .listen(REVOCATION_CHANNEL, (payload) => dispatch(subscribers, payload))
    .then((stop) => {
      unlisten = stop;
      live = true;
    })
    .catch((err) => logger.error({ err }, 'could not listen for revocations on the embedded database; caches stay off'));
  return {
    get live() {
      return live;
    },
    subscribe: (s) => void subscribers.push(s),
    async close() {
      live = false;
      await listening;
      await unlisten?.().catch(() => {});
    },
  };
}

function postgresFeed(pool: pg.Pool, logger: Logger, options: RevocationFeedOptions): RevocationFeed {
  const subscribers: RevocationSubscriber[] = [];
  const firstDelay = options.reconnectDelayMs ?? 50;
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  let live = false;
  let closing = false;
  let listener: pg.Client | null = null;
  let delay = firstDelay;
  let reconnectTimer: NodeJS.Timeout | undefined;
  const onNotification = (message: pg.Notification) => {
    if (message.channel === REVOCATION_CHANNEL) dispatch(subscribers, message.payload);
  };
  const reset = () => {
    for (const s of subscribers) s.reset();
  };

  // Pooled connections listen too, so that a change made through one of them is delivered back
  // before its COMMIT returns: new ones as they connect (the pool awaits onConnect before handing a
  // connection out), the ones already open once, at start.
  const listening = new WeakSet<pg.ClientBase>();
  const listenOn = async (client: pg.ClientBase) => {
    if (listening.has(client)) return;
    listening.add(client);
    client.on('notification', onNotification);
    await client.query(`LISTEN ${REVOCATION_CHANNEL}`);
  };
  const previousOnConnect = pool.options.onConnect;
  pool.options.onConnect = async (client) => {
    await previousOnConnect?.(client);
    await listenOn(client);
  };
  // A connection that escaped both (handed out while the sweep below ran) listens from its next use.
  const onAcquire = (client: pg.PoolClient) => {
    if (!listening.has(client)) listenOn(client).catch(() => {});
  };
  pool.on('acquire', onAcquire);
  const swept = (async () => {
    const open = await Promise.all(Array.from({ length: pool.idleCount }, () => pool.connect()));
    try {
      await Promise.all(open.map(listenOn));
    } finally {
      for (const client of open) client.release();
    }
  })().catch((err) => logger.warn({ err }, 'could not make the open pooled connections listen for revocations'));

  const lost = (client: pg.Client, why: unknown) => {
    if (listener !== client) return;
    listener = null;
    const wasLive = live;
    live = false;
    reset();
    client.removeAllListeners('notification');
    client.end().catch(() => {});
    if (closing) return;
    if (wasLive) logger.warn({ err: why }, 'lost the revocation listener connection; caches are off until it is back');
    reconnectTimer = setTimeout(connect, delay);
    reconnectTimer.unref();
    delay = Math.min(delay * 2, 2_000);
  };

  async function connect() {
    if (closing) return;
    const client = new pg.Client({
      ...pool.options,
      application_name: 'app-users-gateway (revocation listener)',
      keepAlive: true,
    } as pg.ClientConfig);
    listener = client;
    client.on('error', (err) => lost(client, err));
    client.on('end', () => lost(client, new Error('connection ended')));
    client.on('notification', onNotification);
    try {
      await client.connect();
      await client.query(`LISTEN ${REVOCATION_CHANNEL}`);
    } catch (err) {
      lost(client, err);
      return;
    }
    await swept;
    if (listener !== client || closing) return;
    // Whatever was read while nobody listened may be stale.
    reset();
    live = true;
    delay = firstDelay;
    logger.debug('listening for revocations');
  }

  const heartbeat = setInterval(() => {
    const client = listener;
    if (!client || !live) return;
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('heartbeat timed out')), 2_000).unref());
    Promise.race([client.query('SELECT 1'), timeout]).catch((err) => lost(client, err));
  }, heartbeatMs);
  heartbeat.unref();

  void connect();

  return {
    get live() {
      return live;
    },
    subscribe: (s) => void subscribers.push(s),
    async close() {
      closing = true;
      live = false;
      clearInterval(heartbeat);
      clearTimeout(reconnectTimer);
      pool.off('acquire', onAcquire);
      pool.options.onConnect = previousOnConnect;
      const client = listener;
      listener = null;
      if (client) {
        client.removeAllListeners('end');
        client.removeAllListeners('error');
        client.on('error', () => {});
        await client.end().catch(() => {});
      }
    },
  };
}
