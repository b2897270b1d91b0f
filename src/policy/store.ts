/**
 * Per-tenant policy storage: the override document in `tenants.policy` (jsonb), merged onto
 * {@link DEFAULT_POLICY}. The effective policy is cached per tenant for `cacheTtlMs` (default
 * 5 s), which bounds how long a change takes to reach other gateway processes; in this process
 * `setOverride` takes effect at once. A tenant without a row or without a document gets the
 * default. Fails closed: a database failure, or a stored document that no longer validates,
 * rejects `policyFor` with a 503 (`veil_policy_unavailable`), so no request is sent upstream
 * under a guessed policy. Pure TypeScript; all I/O goes through the `Db` handle.
 */
import { eq, sql } from 'drizzle-orm';
import { createInflight, createTtlCache } from '../core/cache.js';
import { notFound, policyUnavailable } from '../core/errors.js';
import { OPEN_TENANT_ID } from '../core/types.js';
import type { Db } from '../db/client.js';
import { tenants } from '../db/schema.js';
import { DEFAULT_POLICY, type Policy } from './index.js';
import { mergePolicy, parsePolicyOverride, type PolicyOverride } from './override.js';

export interface PolicyStore {
  /** The effective policy of a tenant (cached). Rejects with a 503 VeilError when unreadable. */
  policyFor(tenantId: string): Promise<Policy>;
  /** The stored override document, or null when the tenant has none (or no row). */
  getOverride(tenantId: string): Promise<PolicyOverride | null>;
  /**
   * Validates and stores an override (null clears it). Throws PolicyValidationError on an
   * invalid document, a 404 VeilError when the tenant does not exist; the open-mode tenant
   * (`default`) is created when missing.
   */
  setOverride(tenantId: string, override: unknown): Promise<void>;
  /**
   * The stored override and the effective policy, read now (not cached), or null when the tenant
   * does not exist (the open-mode tenant always does: it gets the default until it has a row).
   */
  describe(tenantId: string): Promise<{ override: PolicyOverride | null; effective: Policy } | null>;
  /** Forget cached policies (tests, or after an out-of-band change). */
  clearCache(): void;
}

export interface PolicyStoreOptions {
  /** How long an effective policy is cached (default 5000 ms). */
  cacheTtlMs?: number;
  /** Most cached tenants (default 10000). */
  cacheMax?: number;
  now?: () => number;
}

/** The default policy with the tenant's override (if any) merged onto it. */
const effective = (override: PolicyOverride | null): Policy => (override ? mergePolicy(DEFAULT_POLICY, override) : DEFAULT_POLICY);

export function createPolicyStore(db: Db, opts: PolicyStoreOptions = {}): PolicyStore {
  const ttl = opts.cacheTtlMs ?? 5_000;
  const max = opts.cacheMax ?? 10_000;
  const now = opts.now ?? Date.now;
  const cache = createTtlCache<string, Policy>({ max, ttlMs: ttl, now });
  /** Loads in flight, so a burst of requests for one tenant reads the row once. */
  const loading = createInflight<string, Policy>();
  /** Bumped on every local change so a load that started before it is not cached. */
  let generation = 0;

  /** The tenant's override document; `undefined` when the tenant has no row. */
  async function readOverride(tenantId: string): Promise<PolicyOverride | null | undefined> {
    const rows = await db.orm.select({ policy: tenants.policy }).from(tenants).where(eq(tenants.id, tenantId)).limit(1);
    if (rows.length === 0) return undefined;
    const doc = rows[0]!.policy;
    return doc === null || doc === undefined ? null : parsePolicyOverride(doc);
  }

  async function getOverride(tenantId: string): Promise<PolicyOverride | null> {
    return (await readOverride(tenantId)) ?? null;
  }

  async function describe(tenantId: string) {
    const override = await readOverride(tenantId);
    if (override === undefined && tenantId !== OPEN_TENANT_ID) return null;
    return { override: override ?? null, effective: effective(override ?? null) };
  }

  async function load(tenantId: string): Promise<Policy> {
    const gen = generation;
    let policy: Policy;
    try {
      policy = effective(await getOverride(tenantId));
    } catch (e) {
      throw policyUnavailable(e);
    }
    if (gen === generation) cache.set(tenantId, policy);
    return policy;
  }

  function policyFor(tenantId: string): Promise<Policy> {
    const hit = cache.get(tenantId);
    if (hit) return Promise.resolve(hit);
    return loading.run(tenantId, () => load(tenantId));
  }

  async function setOverride(tenantId: string, override: unknown): Promise<void> {
    const doc = override === null ? null : parsePolicyOverride(override);
    const value = doc === null ? sql`null` : sql`${JSON.stringify(doc)}::jsonb`;
    if (tenantId === OPEN_TENANT_ID) {
      await db.orm
        .insert(tenants)
        .values({ id: tenantId, name: OPEN_TENANT_ID, policy: value })
        .onConflictDoUpdate({ target: tenants.id, set: { policy: value } });
    } else {
      const rows = await db.orm.update(tenants).set({ policy: value }).where(eq(tenants.id, tenantId)).returning({ id: tenants.id });
      if (rows.length === 0) throw notFound(`No tenant with id ${tenantId}.`);
    }
    generation++;
    cache.delete(tenantId);
    loading.forget(tenantId);
  }

  return {
    policyFor,
    getOverride,
    setOverride,
    describe,
    clearCache() {
      generation++;
      cache.clear();
      loading.clear();
    },
  };
}
