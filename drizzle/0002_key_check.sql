CREATE TABLE "veil_key_check" (
	"id" integer PRIMARY KEY NOT NULL,
	"master_key_id" text NOT NULL,
	"wrapped" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "veil_key_check_one_row" CHECK ("veil_key_check"."id" = 1)
);
