-- Progress of `veil collections migrate` (src/rag/migrate.ts), one row per tenant, collection and
-- source; was created on first use before this migration, hence IF NOT EXISTS. A table source
-- (`source_table` set) also tells collection queries where the not-yet-migrated chunks are
-- while `finished` is false. Holds names, counts and the last migrated id; no text.
CREATE TABLE IF NOT EXISTS "veil_rag_migrations" (
	"tenant_id" text NOT NULL,
	"collection" text NOT NULL,
	"source" text NOT NULL,
	"lines_done" bigint DEFAULT 0 NOT NULL,
	"total" bigint DEFAULT 0 NOT NULL,
	"finished" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	PRIMARY KEY ("tenant_id", "collection", "source")
);
--> statement-breakpoint
ALTER TABLE "veil_rag_migrations" ADD COLUMN IF NOT EXISTS "source_table" text;--> statement-breakpoint
ALTER TABLE "veil_rag_migrations" ADD COLUMN IF NOT EXISTS "id_col" text;--> statement-breakpoint
ALTER TABLE "veil_rag_migrations" ADD COLUMN IF NOT EXISTS "text_col" text;--> statement-breakpoint
ALTER TABLE "veil_rag_migrations" ADD COLUMN IF NOT EXISTS "metadata_col" text;--> statement-breakpoint
ALTER TABLE "veil_rag_migrations" ADD COLUMN IF NOT EXISTS "embedding_col" text;--> statement-breakpoint
ALTER TABLE "veil_rag_migrations" ADD COLUMN IF NOT EXISTS "last_id" text;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "veil_rag_migrations_pending" ON "veil_rag_migrations" USING btree ("tenant_id","collection") WHERE "finished" = false AND "source_table" IS NOT NULL;
