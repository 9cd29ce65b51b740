-- Access-token signing keys (src/tokens/signing-keys.ts).
-- 1. Every instance keeps the key ring in memory: a new, retired or deleted key publishes "s:<kid>"
--    on the change feed's channel, in the transaction that makes the change, so every instance
--    reloads its ring (a rotation made on one instance is used and verified on all of them).
CREATE FUNCTION gateway_notify_signing_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gateway_revocations', 's:' || COALESCE(NEW.id, OLD.id));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER signing_keys_notify_change AFTER INSERT OR UPDATE OR DELETE ON signing_keys
  FOR EACH ROW EXECUTE FUNCTION gateway_notify_signing_key_change();
--> statement-breakpoint
-- 2. An existing deployment keeps HS256: the secret it generated and kept in gateway_secrets becomes
--    its current signing key (kid "legacy-hs256"), so tokens issued before the upgrade (which carry
--    no kid) keep verifying and ACCESS_TOKEN_ALGORITHM, when unset, stays HS256. A new deployment has
--    no such secret, and starts with EdDSA.
INSERT INTO signing_keys (id, algorithm, public_jwk, private_key, created_at)
  SELECT 'legacy-hs256', 'HS256', NULL, 'plain:' || value, created_at
  FROM gateway_secrets WHERE name = 'access_token_signing_key'
ON CONFLICT DO NOTHING;
