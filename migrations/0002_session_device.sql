ALTER TABLE "refresh_tokens" ADD COLUMN "sdk" text;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "sdk_version" text;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "platform" text;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "platform_version" text;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "device_name" text;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "app_version" text;