/**
 * The Veil database schema (drizzle pg-core), shared by PGlite and node-postgres.
 * No column ever holds a plaintext PII value or a plaintext key: values are AES-256-GCM
 * ciphertexts, keys are wrapped, lookups go through an HMAC blind index, API keys are hashed.
 * Migrations in drizzle/ are generated from this file with `npx drizzle-kit generate`.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/** `bytea`; node-postgres returns a Buffer (a Uint8Array), PGlite a Uint8Array. */
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType() {
    return 'bytea';
  },
});

/** Values of `tenants.status` (the check constraint below); `disabled` tenants' keys are refused. */
export const TENANT_STATUSES = ['active', 'disabled'] as const;

export const tenants = pgTable(
  'tenants',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    status: text('status').notNull().default('active'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /**
     * The tenant's policy override document (src/policy/override.ts), merged onto
     * DEFAULT_POLICY; null means the default policy. Holds no PII: entity types, classes, roles.
     */
    policy: jsonb('policy'),
  },
  (t) => [check('tenants_status_check', sql`${t.status} in ('active', 'disabled')`)],
);

/**
 * Per-tenant key material, always wrapped. kind 'kek': wrapped by the master key provider
 * (master_key_id names the master key). kind 'dek': iv(12) || AES-256-GCM(ct||tag) under the
 * tenant KEK with AAD `veil:dek:v1:<tenant>:<version>`; `encryptions` counts (reserved)
 * encryptions under this DEK. kind 'blind': the tenant's blind-index key, frozen at its first KEK
 * rotation (until then derived from KEK version 1 with HKDF and never stored), wrapped like a DEK
 * with AAD `veil:blind:v1:<tenant>`. `kek_version` names the KEK that wraps a 'dek' / 'blind' row.
 */
export const tenantKeys = pgTable(
  'tenant_keys',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    version: integer('version').notNull(),
    wrapped: bytea('wrapped').notNull(),
    masterKeyId: text('master_key_id'),
    /** kind 'dek' / 'blind': the KEK version that wraps this key (null: version 1, rows from before KEK rotation). */
    kekVersion: integer('kek_version'),
    state: text('state').notNull(),
    encryptions: bigint('encryptions', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.kind, t.version] }),
    check('tenant_keys_kind_check', sql`${t.kind} in ('kek', 'dek', 'blind')`),
    check('tenant_keys_state_check', sql`${t.state} in ('primary', 'active', 'retired')`),
    // At most one primary key of each kind per tenant.
    uniqueIndex('tenant_keys_one_primary').on(t.tenantId, t.kind).where(sql`${t.state} = 'primary'`),
  ],
);

/**
 * Placeholder → value. `blind_index` = HMAC-SHA256(blind key, type || '|' || normalized value);
 * `ciphertext` = AES-256-GCM(ct || 16-byte tag) of the value as first written, under DEK
 * `dek_version`, with `iv` (12 bytes) and AAD `veil:map:v1|<tenant>|<token>|<type>|<dek_version>`.
 */
export const mappings = pgTable(
  'mappings',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    token: text('token').notNull(),
    type: text('type').notNull(),
    blindIndex: bytea('blind_index').notNull(),
    dekVersion: integer('dek_version').notNull(),
    iv: bytea('iv').notNull(),
    ciphertext: bytea('ciphertext').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.token] }),
    uniqueIndex('mappings_tenant_blind_index').on(t.tenantId, t.blindIndex),
    index('mappings_tenant_dek_version').on(t.tenantId, t.dekVersion),
  ],
);

/** Who holds API keys: a named principal of a tenant (an app, a service, a person's role). */
export const principals = pgTable(
  'principals',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('principals_tenant_name').on(t.tenantId, t.name)],
);

/** Gateway API keys `vk_…`: only SHA-256(key) is stored, plus a short prefix for display. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    principalId: text('principal_id')
      .notNull()
      .references(() => principals.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    role: text('role').notNull(),
    keyHash: bytea('key_hash').notNull(),
    prefix: text('prefix').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('api_keys_key_hash').on(t.keyHash), index('api_keys_tenant').on(t.tenantId)],
);

/**
 * Key check value: one row written by the first start-up, holding a random 32-byte value
 * wrapped by the master key provider (as if it were the KEK of tenant `veil:key-check`). Every
 * later start-up unwraps it, so a process configured with another master key stops at once
 * with a message that says so instead of answering 503 per request. Holds no data key.
 */
export const keyCheck = pgTable(
  'veil_key_check',
  {
    id: integer('id').primaryKey(),
    masterKeyId: text('master_key_id').notNull(),
    wrapped: bytea('wrapped').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('veil_key_check_one_row', sql`${t.id} = 1`)],
);


/**
 * Audit trail (src/audit). One hash chain per tenant (and `_system` for events that outlive a
 * tenant, like its shredding): `hash` = HMAC(chain key, 'e|seq|prev hash|body'), the chain key
 * derived with HKDF from the audit root key (`audit_keys`, wrapped by the master key provider).
 * `body` is the canonical JSON of the event exactly as hashed; `at`/`kind` are copies for
 * queries (verify checks they match). Events hold tokens, types and ids, never values.
 */
export const auditKeys = pgTable('audit_keys', {
  id: text('id').primaryKey(),
  wrapped: bytea('wrapped').notNull(),
  masterKeyId: text('master_key_id'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const auditEvents = pgTable(
  'audit_events',
  {
    tenantId: text('tenant_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'string' }).notNull(),
    kind: text('kind').notNull(),
    body: text('body').notNull(),
    hash: bytea('hash').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.seq] }), index('audit_events_at').on(t.tenantId, t.at)],
);

/** Chain head per tenant: the lock writers serialize on, signed (`mac`) so truncation shows. */
export const auditHeads = pgTable('audit_heads', {
  tenantId: text('tenant_id').primaryKey(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  hash: bytea('hash').notNull(),
  mac: bytea('mac').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Signed checkpoints: periodic ('periodic') and before a retention cut ('prune'). */
export const auditCheckpoints = pgTable(
  'audit_checkpoints',
  {
    tenantId: text('tenant_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    kind: text('kind').notNull(),
    hash: bytea('hash').notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'string' }).notNull(),
    mac: bytea('mac').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.seq, t.kind] })],
);

export const auditSchema = { auditKeys, auditEvents, auditHeads, auditCheckpoints };

export const schema = { tenants, tenantKeys, mappings, principals, apiKeys, keyCheck, ...auditSchema };
export type Schema = typeof schema;
