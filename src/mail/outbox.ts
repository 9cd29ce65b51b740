// All SQL on mail_outbox: queueing a mail in the caller's transaction, and the delivery workers'
// claims and records.
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import type { Logger } from '../logger.js';
import { mailOutbox, type MailRow } from '../db/schema.js';
import { linkInHtml, renderMail, type MailKind, type MailTemplates } from './templates.js';

export interface MailToQueue {
  kind: MailKind;
  to: string;
  userId: string | null;
  /** The link the mail is about, with its secret token: built from configuration only. */
  link: string;
  /** How long the link works. */
  expiresInMinutes: number;
}

/**
 * Writes the mail to mail_outbox in `ex`, which should be the transaction that makes the mail
 * needed (a sign-up and its token): then the mail exists exactly when the change does. A trigger
 * wakes the delivery workers at commit.
 */
export async function queueMail(ex: Executor, templates: MailTemplates, mail: MailToQueue): Promise<MailRow> {
  const rendered = renderMail(templates, mail.kind, { link: mail.link, expiresInMinutes: mail.expiresInMinutes, email: mail.to });
  const [row] = await ex
    .insert(mailOutbox)
    .values({
      userId: mail.userId,
      toEmail: mail.to,
      kind: mail.kind,
      subject: rendered.subject,
      body: rendered.text,
      html: rendered.html,
      link: mail.link,
    })
    .returning();
  return row!;
}

/**
 * The log line of a queued mail, once its transaction committed: its id, kind, user and the
 * address's domain; never the address, the link or its token (a live token in a log line is a way
 * into the account for anyone who reads the logs).
 */
export function logMailQueued(logger: Logger, mail: MailRow): void {
  logger.info({ mailId: mail.id, kind: mail.kind, userId: mail.userId, toDomain: mail.toEmail.split('@').pop() }, 'mail queued');
}

/** A mail a worker has taken: no other worker takes it until `leaseMs` have passed. */
export type ClaimedMail = MailRow;

/**
 * Takes up to `limit` mails that are due, oldest due first, for `leaseMs`: each attempt is counted
 * now, and the mail is not due again until the lease runs out (a worker that dies mid-send leaves
 * the mail to the next one). Rows another worker is claiming at this moment are skipped, not waited
 * for (FOR UPDATE SKIP LOCKED), so instances never take the same mail.
 */
export async function claimDueMails(ex: Executor, limit: number, leaseMs: number): Promise<ClaimedMail[]> {
  const result = (await ex.execute(sql`
    UPDATE mail_outbox SET attempts = attempts + 1, last_attempt_at = now(),
      next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
    WHERE id IN (
      SELECT id FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= now()
      ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING id`)) as unknown as { rows: { id: string }[] };
  const ids = result.rows.map((r) => r.id);
  if (ids.length === 0) return [];
  return ex.select().from(mailOutbox).where(inArray(mailOutbox.id, ids)).orderBy(mailOutbox.nextAttemptAt);
}

// The claim is still this worker's: no later claim counted another attempt.
const stillClaimed = (mail: ClaimedMail) => and(eq(mailOutbox.id, mail.id), eq(mailOutbox.attempts, mail.attempts), eq(mailOutbox.status, 'pending'));

// Once a mail is sent or has failed, its link (a live token) has no more use here.
function withoutLink(mail: ClaimedMail) {
  if (!mail.link) return {};
  const removed = '[link removed once the mail was sent or failed]';
  return {
    link: null,
    body: mail.body.split(mail.link).join(removed),
    html: mail.html === null ? null : mail.html.split(linkInHtml(mail.link)).join(removed),
  };
}

export async function recordMailSent(ex: Executor, mail: ClaimedMail): Promise<void> {
  await ex
    .update(mailOutbox)
    .set({ status: 'sent', sentAt: sql`now()`, lastError: null, ...withoutLink(mail) })
    .where(stillClaimed(mail));
}

export async function recordMailRetry(ex: Executor, mail: ClaimedMail, delayMs: number, error: string): Promise<void> {
  await ex
    .update(mailOutbox)
    .set({ lastError: error, nextAttemptAt: sql`now() + ${delayMs} * interval '1 millisecond'` })
    .where(stillClaimed(mail));
}

export async function recordMailFailed(ex: Executor, mail: ClaimedMail, error: string): Promise<void> {
  await ex
    .update(mailOutbox)
    .set({ status: 'failed', lastError: error, ...withoutLink(mail) })
    .where(stillClaimed(mail));
}

/** Gives back a claim that was not attempted (the worker is stopping): due at once, its attempt uncounted. */
export async function releaseMailClaim(ex: Executor, mail: ClaimedMail): Promise<void> {
  await ex
    .update(mailOutbox)
    .set({ attempts: sql`${mailOutbox.attempts} - 1`, nextAttemptAt: sql`now()` })
    .where(stillClaimed(mail));
}

/** When the oldest mail not yet sent (and not failed) was queued; null when there is none. */
export async function oldestUnsentMailAt(ex: Executor): Promise<Date | null> {
  const result = (await ex.execute(sql`SELECT min(created_at) AS at FROM mail_outbox WHERE status = 'pending'`)) as unknown as {
    rows: { at: Date | string | null }[];
  };
  const at = result.rows[0]?.at;
  return at === null || at === undefined ? null : new Date(at);
}

/** The latest `limit` mails of each of these users, newest first, in one statement. */
export async function mailsByUser(ex: Executor, userIds: readonly string[], limit: number): Promise<Map<string, MailRow[]>> {
  const byUser = new Map<string, MailRow[]>();
  if (userIds.length === 0) return byUser;
  const ranked = ex
    .select({ id: mailOutbox.id, rank: sql<number>`row_number() OVER (PARTITION BY ${mailOutbox.userId} ORDER BY ${mailOutbox.createdAt} DESC, ${mailOutbox.id} DESC)`.as('rank') })
    .from(mailOutbox)
    .where(inArray(mailOutbox.userId, [...userIds]))
    .as('ranked');
  const rows = await ex
    .select({ mail: mailOutbox })
    .from(mailOutbox)
    .innerJoin(ranked, eq(ranked.id, mailOutbox.id))
    .where(sql`${ranked.rank} <= ${limit}`)
    .orderBy(desc(mailOutbox.createdAt), desc(mailOutbox.id));
  for (const { mail } of rows) {
    const list = byUser.get(mail.userId!) ?? [];
    list.push(mail);
    byUser.set(mail.userId!, list);
  }
  return byUser;
}
