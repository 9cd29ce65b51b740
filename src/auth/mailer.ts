import type { Executor } from '../db/client.js';
import { mailOutbox } from '../db/schema.js';
import type { Logger } from '../logger.js';

export interface Mail {
  kind: 'confirm';
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

/** The default: every mail goes to the mail_outbox table and, with its link, to the log. */
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
      logger.info({ to: mail.to, kind: mail.kind, userId: mail.userId, link: mail.link }, `mail: ${mail.subject}`);
    },
  };
}
