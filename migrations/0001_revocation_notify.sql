-- Every instance of the gateway caches what access-token checks and admin-key checks read. Each
-- change that can make a cached answer wrong publishes, in the transaction that makes it, a
-- notification on the channel gateway_revocations (delivered at commit, dropped on rollback):
--   u:<user id>   the user's status changed, the user was deleted, or one of its sessions was
--                 revoked, deleted or had its expiry changed;
--   k:<key id>    an admin key was revoked, deleted or had its role changed.
-- Triggers, not application code, so no path that changes these rows (now or later, the gateway or
-- a person with psql) can forget to publish. Identical payloads in one transaction are sent once.
CREATE FUNCTION gateway_notify_user_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gateway_revocations', 'u:' || OLD.id);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION gateway_notify_session_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gateway_revocations', 'u:' || OLD.user_id);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION gateway_notify_key_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gateway_revocations', 'k:' || OLD.id);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER users_notify_revocation AFTER UPDATE OF status ON users
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION gateway_notify_user_revocation();
--> statement-breakpoint
CREATE TRIGGER users_notify_deletion AFTER DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION gateway_notify_user_revocation();
--> statement-breakpoint
CREATE TRIGGER refresh_tokens_notify_revocation AFTER UPDATE OF revoked_at, expires_at, user_id ON refresh_tokens
  FOR EACH ROW WHEN (
    OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
    OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
    OR OLD.user_id IS DISTINCT FROM NEW.user_id
  ) EXECUTE FUNCTION gateway_notify_session_revocation();
--> statement-breakpoint
CREATE TRIGGER refresh_tokens_notify_deletion AFTER DELETE ON refresh_tokens
  FOR EACH ROW EXECUTE FUNCTION gateway_notify_session_revocation();
--> statement-breakpoint
CREATE TRIGGER admin_keys_notify_revocation AFTER UPDATE OF revoked_at, role ON admin_keys
  FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.role IS DISTINCT FROM NEW.role)
  EXECUTE FUNCTION gateway_notify_key_revocation();
--> statement-breakpoint
CREATE TRIGGER admin_keys_notify_deletion AFTER DELETE ON admin_keys
  FOR EACH ROW EXECUTE FUNCTION gateway_notify_key_revocation();
