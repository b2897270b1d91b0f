/**
 * Every environment variable Veil reads, validated once at start. The README's configuration
 * table mirrors this schema; keep them together.
 */
import { z } from 'zod';

const bool = z
  .enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no'])
  .transform((v) => ['1', 'true', 'on', 'yes'].includes(v));

export const ConfigSchema = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  VEIL_UPSTREAM_URL: z.string().url().default('https://api.openai.com/v1'),
  VEIL_UPSTREAM_API_KEY: z.string().min(1).optional(),
  VEIL_UPSTREAM_TIMEOUT_MS: z.coerce.number().int().positive().default(600_000),
  VEIL_UPSTREAM_MAX_RETRIES: z.coerce.number().int().min(0).max(5).default(0),
  /** The Anthropic Messages upstream for POST /v1/messages (src/surfaces/messages-route.ts). */
  VEIL_ANTHROPIC_UPSTREAM_URL: z.string().url().default('https://api.anthropic.com'),
  VEIL_ANTHROPIC_UPSTREAM_API_KEY: z.string().min(1).optional(),
  VEIL_STREAM_IDLE_TIMEOUT_MS: z.coerce.number().int().positive().default(300_000),
  VEIL_MAX_BODY_BYTES: z.coerce.number().int().positive().default(8 * 1024 * 1024),
  /** Workers build: API keys as `<sha256-hex>:<tenant>:<role>[:<name>]` entries (src/tenants/static-keys.ts). */
  VEIL_API_KEY_HASHES: z.string().optional(),
  /** Workers build: with no VEIL_API_KEY_HASHES, accept every caller (local development only). */
  VEIL_OPEN_MODE: bool.default(false),
  /** Who may read GET /metrics: `admin` (an admin-role key; anyone in open mode), `public`, `off`. */
  VEIL_METRICS: z.enum(['admin', 'public', 'off']).default('admin'),
  VEIL_MAX_JSON_DEPTH: z.coerce.number().int().min(8).max(1000).default(64),
  VEIL_MAX_SSE_EVENT_BYTES: z.coerce.number().int().min(1024).default(16 * 1024 * 1024),
  VEIL_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  VEIL_DATA_DIR: z.string().default('./.veil'),
  DATABASE_URL: z.string().optional(),
  VEIL_DB_POOL_SIZE: z.coerce.number().int().positive().default(10),
  VEIL_DB_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  VEIL_KEY_PROVIDER: z.enum(['local', 'aws']).default('local'),
  VEIL_MASTER_KEY: z.string().optional(),
  VEIL_MASTER_KEY_FILE: z.string().optional(),
  /** The previous local master key, still accepted for reads while `veil keys rotate --master` re-wraps (src/jobs/master.ts). */
  VEIL_MASTER_KEY_PREVIOUS: z.string().optional(),
  VEIL_MASTER_KEY_PREVIOUS_FILE: z.string().optional(),
  VEIL_KMS_KEY_ID: z.string().optional(),
  /** The previous KMS key, still accepted for reads while `veil keys rotate --master` re-wraps. */
  VEIL_KMS_KEY_ID_PREVIOUS: z.string().optional(),
  VEIL_KMS_ENDPOINT: z.string().url().optional(),
  VEIL_KMS_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  VEIL_KMS_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  VEIL_KEY_CACHE_TTL_MS: z.coerce.number().int().positive().default(300_000),
  /** Rotate each tenant's DEK when it is this many days old (the gateway's job poller; src/jobs/schedule.ts). Unset: never by age. */
  VEIL_ROTATE_DEK_EVERY_DAYS: z.coerce.number().int().min(1).optional(),
  VEIL_KEY_CACHE_MAX: z.coerce.number().int().positive().default(10_000),
  VEIL_TOKEN_CACHE_MAX: z.coerce.number().int().min(0).default(100_000),
  VEIL_TOKEN_CACHE_TTL_MS: z.coerce.number().int().positive().default(300_000),
  VEIL_AUDIT_CHECKPOINT_EVERY: z.coerce.number().int().min(1).default(1000),
  VEIL_AUDIT_DURABLE: bool.default(true),
  VEIL_AUDIT_RETENTION_DAYS: z.coerce.number().int().min(0).default(0),
  VEIL_REVEAL_RATE_PER_MIN: z.coerce.number().int().min(0).default(600),
  /** `db` (PGlite or PostgreSQL, encrypted) or `memory` (tests/benchmarks only: nothing persisted). */
  VEIL_VAULT: z.enum(['db', 'memory']).default('db'),
  VEIL_NER: bool.default(true),
  VEIL_NER_MODEL: z.string().default('models/veil-ner'),
  VEIL_NER_LABEL_MAP: z.string().optional(),
  /** Unset: one per available core, at most 8 (decided by the Node entry). */
  VEIL_NER_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  VEIL_NER_MAX_QUEUED_CHARS: z.coerce.number().int().positive().default(4_000_000),
  VEIL_DETECT_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  VEIL_NER_MIN_SCORE: z.coerce.number().min(0).max(1).default(0.5),
});

export type Config = z.infer<typeof ConfigSchema>;

export function loadConfig(env: Record<string, string | undefined>): Config {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') clean[k] = v;
  const parsed = ConfigSchema.safeParse(clean);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${issues}`);
  }
  return parsed.data;
}
