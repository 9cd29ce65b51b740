// How a mail leaves the gateway: a MailTransport. The one production uses is SMTP through
// nodemailer (SMTP_URL); tests may pass their own to the delivery worker.
import nodemailer from 'nodemailer';

export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string | null;
  /** The outbox row's id, sent as the Message-ID's local part so a resend is recognisable. */
  id: string;
}

/** Why a mail was not sent: `permanent` when sending it again would get the same answer. */
export class MailSendError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

export interface MailTransport {
  /** Resolves once the server accepted the mail; throws a MailSendError otherwise. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

interface NodemailerError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  permanent?: boolean;
}

/**
 * An error as the outbox records it and whether it is permanent: a 5xx answer to the mail (RFC
 * 5321's permanent rejection: unknown recipient, refused content) is; a connection refused or cut,
 * a timeout, a 4xx and a failed login (EAUTH: the operator's SMTP_URL, which a fix makes good for
 * every mail waiting) are not.
 */
export function classifySmtpError(err: unknown): MailSendError {
  const e = err as NodemailerError;
  const permanent = e?.permanent === true && e.code !== 'EAUTH';
  const what = e?.response ?? e?.message ?? String(err);
  const described = [e?.code, e?.responseCode && !what.startsWith(String(e.responseCode)) ? e.responseCode : null, what]
    .filter(Boolean)
    .join(' ');
  return new MailSendError(described.slice(0, 500), permanent);
}

/**
 * SMTP to the server of `smtpUrl`: `smtp://user:pass@host:587` (STARTTLS whenever the server offers
 * it) or `smtps://…:465` (TLS from the start). One connection per mail, with timeouts short enough
 * that a dead server delays the queue by seconds, not minutes.
 */
export function createSmtpTransport(smtpUrl: string): MailTransport {
  const transporter = nodemailer.createTransport({
    url: smtpUrl,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  } as Parameters<typeof nodemailer.createTransport>[0]);
  return {
    async send(mail) {
      const domain = mail.from.split('@').pop()?.replace(/[>\s]/g, '') || 'localhost';
      try {
        await transporter.sendMail({
          from: mail.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          ...(mail.html ? { html: mail.html } : {}),
          messageId: `<${mail.id}@${domain}>`,
        });
      } catch (err) {
        throw classifySmtpError(err);
      }
    },
    close() {
      transporter.close();
    },
  };
}
