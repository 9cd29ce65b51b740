-- From now on every committed user action writes its webhook event in its own transaction;
-- `npm run check-db` looks for the events of audit events from this instant on only.
INSERT INTO "gateway_milestones" ("name", "at") VALUES ('webhook_outbox', now()) ON CONFLICT ("name") DO NOTHING;
