CREATE TABLE "veil_rate_windows" (
	"key" text NOT NULL,
	"window_start" bigint NOT NULL,
	"used" integer NOT NULL,
	CONSTRAINT "veil_rate_windows_key_window_start_pk" PRIMARY KEY("key","window_start")
);
