ALTER TABLE "tenant_keys" ADD COLUMN "kek_version" integer;--> statement-breakpoint
ALTER TABLE "veil_jobs" ALTER COLUMN "tenant_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "veil_jobs" ADD COLUMN "target" text;--> statement-breakpoint
ALTER TABLE "veil_jobs" DROP CONSTRAINT "veil_jobs_kind_check";--> statement-breakpoint
ALTER TABLE "veil_jobs" ADD CONSTRAINT "veil_jobs_kind_check" CHECK ("veil_jobs"."kind" in ('rotate_dek', 'rotate_kek', 'rotate_master'));--> statement-breakpoint
CREATE UNIQUE INDEX "veil_jobs_one_active_master" ON "veil_jobs" USING btree ("kind") WHERE "veil_jobs"."kind" = 'rotate_master' and "veil_jobs"."state" in ('running', 'paused');--> statement-breakpoint
CREATE INDEX "tenant_keys_master_key_id" ON "tenant_keys" USING btree ("master_key_id") WHERE "tenant_keys"."kind" = 'kek';
