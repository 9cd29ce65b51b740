// The mail delivery worker: one in every instance, sending what mail_outbox holds.
//
// Coordination is the database's: a worker claims due rows with FOR UPDATE SKIP LOCKED and a lease
// (outbox.ts), so instances never take the same mail, and a mail whose worker died is taken again
// once its lease runs out. Workers poll every few seconds and are woken at once by the notification
// the outbox's trigger sends at commit (LISTEN gateway_mail: a dedicated connection on PostgreSQL,
// PGlite's own listener on the embedded database).
//
// A temporary failure (server down, timeout, 4xx) is retried after 5 s, 30 s, 2 min, then longer
// and longer, for a day; a permanent one (5xx) marks the mail failed at once. Each attempt is
// recorded on the row (attempts, last_attempt_at, last_error).
import pg from 'pg';
import type { DatabaseHandle } from '../db/client.js';
import type { Logger } from '../logger.js';
import { mailDeliveries, mailOldestUnsentAge } from '../metrics.js';
import { MailSendError, type MailTransport } from './mailer.js';
import {
  claimDueMails,
  oldestUnsentMailAt,
  recordMailFailed,
  recordMailRetry,
  recordMailSent,
  releaseMailClaim,
  type ClaimedMail,
} from './outbox.js';

export const MAIL_CHANNEL = 'gateway_mail';

const second = 1_000;
const minute = 60 * second;
const hour = 60 * minute;

/** The waits before the 2nd, 3rd, … attempt; the last one repeats until `giveUpAfterMs`. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [5 * second, 30 * second, 2 * minute, 10 * minute, 30 * minute, hour, 2 * hour, 4 * hour];

export interface MailDeliveryOptions {
  /** Where mail goes (SMTP_URL); null: mail stays in mail_outbox, the worker only measures the queue. */
  transport: MailTransport | null;
  /** The sender (MAIL_FROM). */
  from: string;
  /** How often the outbox is read when no notification comes (default 5 s). */
  pollMs?: number;
  /** The waits between attempts after a temporary failure (default DEFAULT_RETRY_DELAYS_MS). */
  retryDelaysMs?: readonly number[];
  /** A mail not sent this long after it was queued is marked failed (default a day). */
  giveUpAfterMs?: number;
  /** How long a claimed mail is left to its worker before another may take it (default 2 min). */
  leaseMs?: number;
  /** Mails claimed at once (default 10). */
  batchSize?: number;
  /** How long stop() waits for the mails being sent (default 5 s); their lease brings them back. */
  stopWaitMs?: number;
}

export interface MailDelivery {
  /** Look at the outbox now (after a commit that queued mail, say). */
  wake(): void;
  /** Stops polling and listening, waits briefly for the mails being sent, and closes the transport. */
  stop(): Promise<void>;
}

/** The first line of an error, for mail_outbox.last_error. */
const describe = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500);

/** Starts the delivery worker of this instance on `database`. */
export function startMailDelivery(database: DatabaseHandle, logger: Logger, options: MailDeliveryOptions): MailDelivery {
  const { transport, from } = options;
  const db = database.db;
  const pollMs = options.pollMs ?? 5 * second;
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const giveUpAfterMs = options.giveUpAfterMs ?? 24 * hour;
  const leaseMs = options.leaseMs ?? 2 * minute;
  const batchSize = options.batchSize ?? 10;
  const stopWaitMs = options.stopWaitMs ?? 5 * second;

  let stopping = false;
  let running: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  async function deliver(mail: ClaimedMail): Promise<void> {
    const age = Date.now() - mail.createdAt.getTime();
    if (age > giveUpAfterMs) {
      await recordMailFailed(db, mail, `not sent within ${Math.round(giveUpAfterMs / minute)} minutes of being queued${mail.lastError ? `; last error: ${mail.lastError}` : ''}`);
      mailDeliveries.inc({ outcome: 'failed' });
      logger.warn({ mailId: mail.id, kind: mail.kind, attempts: mail.attempts }, 'mail given up: too old to send');
      return;
    }
    try {
      await transport!.send({ id: mail.id, from, to: mail.toEmail, subject: mail.subject, text: mail.body, html: mail.html });
    } catch (err) {
      const failure = err instanceof MailSendError ? err : new MailSendError(describe(err), false);
      const delay = delays[Math.min(mail.attempts - 1, delays.length - 1)] ?? pollMs;
      if (failure.permanent || age + delay > giveUpAfterMs) {
        const error = failure.permanent ? failure.message : `gave up after ${mail.attempts} attempts: ${failure.message}`;
        await recordMailFailed(db, mail, error);
        mailDeliveries.inc({ outcome: 'failed' });
        logger.warn({ mailId: mail.id, kind: mail.kind, attempts: mail.attempts, error }, 'mail failed for good');
      } else {
        await recordMailRetry(db, mail, delay, failure.message);
        mailDeliveries.inc({ outcome: 'retried' });
        logger.warn({ mailId: mail.id, kind: mail.kind, attempts: mail.attempts, retryInMs: delay, error: failure.message }, 'mail not sent; will retry');
      }
      return;
    }
    await recordMailSent(db, mail);
    mailDeliveries.inc({ outcome: 'sent' });
    logger.info({ mailId: mail.id, kind: mail.kind, attempts: mail.attempts }, 'mail sent');
  }

  async function runOnce(): Promise<void> {
    if (transport) {
      for (;;) {
        const claimed = await claimDueMails(db, batchSize, leaseMs);
        for (const [i, mail] of claimed.entries()) {
          if (stopping) {
            // Stopping: the mails not tried yet are due again at once, for another instance or the restart.
            for (const left of claimed.slice(i)) await releaseMailClaim(db, left);
            return;
          }
          await deliver(mail);
        }
        if (claimed.length < batchSize || stopping) break;
      }
    }
    const oldest = await oldestUnsentMailAt(db);
    mailOldestUnsentAge.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
  }

  function schedule(ms: number) {
    clearTimeout(timer);
    if (stopping) return;
    timer = setTimeout(wake, ms);
    timer.unref();
  }

  function wake() {
    if (stopping) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        await listening.ensure();
        try {
          await runOnce();
        } catch (err) {
          if (!stopping) logger.warn({ err }, 'mail delivery: could not read or update mail_outbox; trying again at the next poll');
        }
      } while (again && !stopping);
    })().finally(() => {
      running = null;
      schedule(pollMs);
    });
  }

  const listening = listenForQueuedMail(database, logger, wake);
  schedule(0);

  return {
    wake,
    async stop() {
      stopping = true;
      clearTimeout(timer);
      if (running) {
        const waited = await Promise.race([
          running.then(() => true),
          new Promise<false>((resolve) => setTimeout(() => resolve(false), stopWaitMs).unref()),
        ]);
        if (!waited) logger.warn({ stopWaitMs }, 'mail delivery: stopped while sending; an unfinished mail is sent again once its lease runs out');
      }
      await listening.close();
      transport?.close();
    },
  };
}

/**
 * The notifications of queued mail, calling `onQueued` for each: on PostgreSQL a dedicated
 * connection, (re)connected by `ensure()` at each poll when it was lost; on the embedded database
 * PGlite's listener, called at the commit.
 */
function listenForQueuedMail(database: DatabaseHandle, logger: Logger, onQueued: () => void) {
  if (database.pglite) {
    const unlisten = database.pglite.listen(MAIL_CHANNEL, onQueued).catch((err) => {
      logger.warn({ err }, 'mail delivery: cannot listen on the embedded database; polling only');
      return null;
    });
    return {
      ensure: async () => {},
      close: async () => {
        await (await unlisten)?.().catch(() => {});
      },
    };
  }
  const pool = database.pool!;
  let client: pg.Client | null = null;
  let closed = false;
  const drop = (which: pg.Client) => {
    if (client !== which) return;
    client = null;
    which.end().catch(() => {});
  };
  return {
    async ensure() {
      if (client || closed) return;
      const next = new pg.Client({ ...pool.options, application_name: 'app-users-gateway (mail listener)', keepAlive: true } as pg.ClientConfig);
      client = next;
      next.on('error', () => drop(next));
      next.on('end', () => drop(next));
      next.on('notification', (message) => {
        if (message.channel === MAIL_CHANNEL) onQueued();
      });
      try {
        await next.connect();
        await next.query(`LISTEN ${MAIL_CHANNEL}`);
      } catch (err) {
        logger.debug({ err }, 'mail delivery: cannot listen for queued mail yet; polling');
        drop(next);
      }
    },
    async close() {
      closed = true;
      const last = client;
      client = null;
      if (last) {
        last.removeAllListeners('end');
        last.removeAllListeners('error');
        last.on('error', () => {});
        await last.end().catch(() => {});
      }
    },
  };
}
