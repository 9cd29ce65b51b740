// The mail sent to a user, as the outbox records it: User.mails.
import type { MailRow, MailStatus } from '../db/schema.js';
import { mailsByUser } from '../mail/outbox.js';
import { builder } from './builder.js';
import { User } from './user.js';

const MAILS_PER_USER = 20;

const MailStatusEnum = builder.enumType('MailStatus', {
  description: 'Where a mail stands.',
  values: {
    PENDING: {
      value: 'pending',
      description: 'Not sent yet: waiting for its first attempt, or for the next one after a temporary failure (see lastError).',
    },
    SENT: { value: 'sent', description: 'The mail server accepted it.' },
    FAILED: {
      value: 'failed',
      description: 'Given up: the mail server refused it for good (a 5xx answer), or it could not be sent for a day. See lastError.',
    },
  } satisfies Record<string, { value: MailStatus; description: string }>,
});

const Mail = builder.objectRef<MailRow>('Mail').implement({
  description: 'A mail the gateway sent, or is sending, to a user (a row of mail_outbox). Its link is never shown.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The id of the mail; its Message-ID starts with it.' }),
    kind: t.exposeString('kind', { description: 'What the mail is for: `confirm` (sign-up confirmation) or `password_reset`.' }),
    recipient: t.exposeString('toEmail', { description: 'The address it is sent to.' }),
    subject: t.exposeString('subject', { description: 'Its subject line.' }),
    status: t.expose('status', { type: MailStatusEnum, description: 'Pending, sent or failed.' }),
    attempts: t.exposeInt('attempts', { description: 'How many times sending it was attempted.' }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: "The mail server's answer (or the connection's error) at the last failed attempt; null if none failed.",
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was queued.' }),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true, description: 'When it was last tried; null if never.' }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When it will be tried next; null unless it is pending.',
      resolve: (mail) => (mail.status === 'pending' ? mail.nextAttemptAt : null),
    }),
    sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true, description: 'When the mail server accepted it; null unless sent.' }),
  }),
});

builder.objectField(User, 'mails', (t) =>
  t.loadableList({
    type: Mail,
    description: `The latest mails to the user (at most ${MAILS_PER_USER}), newest first, with how their delivery went.`,
    load: async (ids: string[], ctx) => {
      const byUser = await mailsByUser(ctx.db, ids, MAILS_PER_USER);
      return ids.map((id) => byUser.get(id) ?? []);
    },
    resolve: (user) => user.id,
  }),
);
