CREATE TABLE "veil_jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"tenant_id" text NOT NULL,
	"state" text NOT NULL,
	"to_version" integer NOT NULL,
	"total" bigint DEFAULT 0 NOT NULL,
	"done" bigint DEFAULT 0 NOT NULL,
	"rows_per_second" integer,
	"retire_after" timestamp with time zone NOT NULL,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "veil_jobs_kind_check" CHECK ("veil_jobs"."kind" in ('rotate_dek')),
	CONSTRAINT "veil_jobs_state_check" CHECK ("veil_jobs"."state" in ('running', 'paused', 'cancelled', 'done', 'failed'))
);
--> statement-breakpoint
ALTER TABLE "veil_jobs" ADD CONSTRAINT "veil_jobs_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "veil_jobs_state" ON "veil_jobs" USING btree ("state");--> statement-breakpoint
CREATE UNIQUE INDEX "veil_jobs_one_active_per_tenant" ON "veil_jobs" USING btree ("tenant_id","kind") WHERE "veil_jobs"."state" in ('running', 'paused');
