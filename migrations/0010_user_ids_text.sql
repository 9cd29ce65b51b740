-- Issue 17: a user's id is an opaque text (1–128 characters of [A-Za-z0-9_-]) that the gateway never
-- rewrites: imported users keep theirs (Atlas ObjectIds, Firebase uids, Supabase UUIDs). Existing
-- UUIDs stay as they are, as text.
--
-- 1. Facts the database records once: 'user_id_format' says what new users' ids look like. A
--    database that already has users keeps making UUIDs; otherwise the first start records
--    USER_ID_FORMAT (src/users/ids.ts), and later starts keep what was recorded.
CREATE TABLE "gateway_settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
INSERT INTO "gateway_settings" ("key", "value") SELECT 'user_id_format', 'uuid' WHERE EXISTS (SELECT 1 FROM "users");
--> statement-breakpoint
-- 2. A new user's id: a UUID when the recorded format is 'uuid', else a Realm-style ObjectId, 24 hex
--    digits: 4 bytes of seconds since the epoch (so newer users sort after older ones and stay
--    together at the end of the index), then 8 random bytes (from gen_random_uuid(), less its
--    version and variant digits).
CREATE FUNCTION gateway_new_user_id() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT CASE
    WHEN (SELECT "value" FROM "gateway_settings" WHERE "key" = 'user_id_format') = 'uuid' THEN gen_random_uuid()::text
    ELSE lpad(to_hex(floor(extract(epoch FROM clock_timestamp()))::bigint), 8, '0')
      || (SELECT substr(u, 1, 12) || substr(u, 14, 3) || substr(u, 18, 1)
          FROM (SELECT replace(gen_random_uuid()::text, '-', '') AS u) AS r)
  END
$$;
--> statement-breakpoint
-- 3. The columns. The foreign keys go while their columns change type, and the session trigger that
--    names user_id in its column list and condition is made again around the change.
ALTER TABLE "user_identities" DROP CONSTRAINT "user_identities_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "refresh_tokens" DROP CONSTRAINT "refresh_tokens_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "user_tokens" DROP CONSTRAINT "user_tokens_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "mail_outbox" DROP CONSTRAINT "mail_outbox_user_id_users_id_fk";
--> statement-breakpoint
DROP TRIGGER "refresh_tokens_notify_revocation" ON "refresh_tokens";
--> statement-breakpoint
ALTER TABLE "users" ALTER COLUMN "id" DROP DEFAULT;
--> statement-breakpoint
ALTER TABLE "users" ALTER COLUMN "id" SET DATA TYPE text USING "id"::text;
--> statement-breakpoint
ALTER TABLE "users" ALTER COLUMN "id" SET DEFAULT gateway_new_user_id();
--> statement-breakpoint
ALTER TABLE "user_identities" ALTER COLUMN "user_id" SET DATA TYPE text USING "user_id"::text;
--> statement-breakpoint
ALTER TABLE "refresh_tokens" ALTER COLUMN "user_id" SET DATA TYPE text USING "user_id"::text;
--> statement-breakpoint
ALTER TABLE "user_tokens" ALTER COLUMN "user_id" SET DATA TYPE text USING "user_id"::text;
--> statement-breakpoint
ALTER TABLE "mail_outbox" ALTER COLUMN "user_id" SET DATA TYPE text USING "user_id"::text;
--> statement-breakpoint
ALTER TABLE "audit_events" ALTER COLUMN "user_id" SET DATA TYPE text USING "user_id"::text;
--> statement-breakpoint
ALTER TABLE "webhook_events" ALTER COLUMN "user_id" SET DATA TYPE text USING "user_id"::text;
--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ALTER COLUMN "user_id" SET DATA TYPE text USING "user_id"::text;
--> statement-breakpoint
ALTER TABLE "user_identities" ADD CONSTRAINT "user_identities_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD CONSTRAINT "refresh_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "user_tokens" ADD CONSTRAINT "user_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "mail_outbox" ADD CONSTRAINT "mail_outbox_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;
--> statement-breakpoint
CREATE TRIGGER refresh_tokens_notify_revocation AFTER UPDATE OF revoked_at, expires_at, user_id ON refresh_tokens
  FOR EACH ROW WHEN (
    OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
    OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
    OR OLD.user_id IS DISTINCT FROM NEW.user_id
  ) EXECUTE FUNCTION gateway_notify_session_revocation();
