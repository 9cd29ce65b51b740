-- Wakes the mail delivery workers (src/mail/delivery-worker.ts) of every instance when mail is
-- queued: a notification on the channel gateway_mail, sent at the commit of the transaction that
-- wrote the rows (never for a rolled-back one). Workers poll too, so a missed notification only
-- delays a mail by one polling interval.
CREATE FUNCTION gateway_notify_mail_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gateway_mail', '');
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER mail_outbox_notify_queued AFTER INSERT ON mail_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION gateway_notify_mail_queued();
--> statement-breakpoint
-- Password reset mails queued before this migration (issue 13) said kind 'reset'; the kind is now
-- 'password_reset', the name of its template.
UPDATE mail_outbox SET kind = 'password_reset' WHERE kind = 'reset';
