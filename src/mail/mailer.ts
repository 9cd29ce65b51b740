import type { Executor } from '../db/client.js';
import { mailOutbox } from '../db/schema.js';
import type { Logger } from '../logger.js';

export interface Mail {
  /** `confirm`: an email confirmation link; `reset`: a password reset link. */
  kind: 'confirm' | 'reset';
  to: string;
  userId: string | null;
  subject: string;
  body: string;
  /** The link the mail is about, with its secret token. */
  link: string | null;
}

/** How the gateway mails users. Replace it (AppDeps.mailer) to send through a real mail service. */
export interface Mailer {
  send(mail: Mail): Promise<void>;
}

/**
 * The default: every mail goes to the mail_outbox table, and a line to the log that it was queued:
 * its kind, the user's id and the address's domain, never the address, the link or its token (a
 * live confirmation token in a log line is a way into the account for anyone who reads the logs).
 */
export function createOutboxMailer(db: Executor, logger: Logger): Mailer {
  return {
    async send(mail) {
      await db.insert(mailOutbox).values({
        userId: mail.userId,
        toEmail: mail.to,
        kind: mail.kind,
        subject: mail.subject,
        body: mail.body,
        link: mail.link,
      });
      logger.info({ kind: mail.kind, userId: mail.userId, toDomain: mail.to.split('@').pop() }, 'mail queued in mail_outbox');
    },
  };
}
