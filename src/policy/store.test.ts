/** The per-tenant policy store on real PGlite and (with TEST_DATABASE_URL) PostgreSQL. */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyStore } from '../tenants/api-keys.js';
import { VeilError } from '../core/errors.js';
import { DEFAULT_POLICY, restoreAction, shouldMask } from './index.js';
import { mergePolicy, PolicyValidationError } from './override.js';
import { createPolicyStore } from './store.js';
import { DRIVERS, type Harness } from '../../test/helpers/db.js';

describe.each(DRIVERS)('policy store ($name)', (driver) => {
  let h: Harness;
  let tenantA: string;
  let tenantB: string;

  beforeAll(async () => {
    h = await driver.open();
    const keys = createApiKeyStore(h.db);
    tenantA = (await keys.createTenant('Tenant A')).id;
    tenantB = (await keys.createTenant('Tenant B')).id;
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('migrations added a nullable jsonb policy column to tenants', async () => {
    const cols = await h.db.rows<{ data_type: string; is_nullable: string }>(
      sql`select data_type, is_nullable from information_schema.columns where table_name = 'tenants' and column_name = 'policy'`,
    );
    expect(cols).toEqual([{ data_type: 'jsonb', is_nullable: 'YES' }]);
  });

  it('round trip: no override → default; set → merged; stored as a jsonb object; reset → default', async () => {
    const store = createPolicyStore(h.db);
    expect(await store.getOverride(tenantA)).toBeNull();
    expect(await store.policyFor(tenantA)).toBe(DEFAULT_POLICY);

    const override = { detectType: { EMAIL: 'pass' }, restore: { user: { sensitive: 'masked' } } } as const;
    await store.setOverride(tenantA, override);
    expect(await store.getOverride(tenantA)).toEqual(override);
    const p = await store.policyFor(tenantA);
    expect(p).toEqual(mergePolicy(DEFAULT_POLICY, override));
    expect(shouldMask(p, 'EMAIL')).toBe(false);
    expect(restoreAction(p, 'user', 'PERSON')).toBe('masked');
    // other tenants are untouched
    expect(await store.policyFor(tenantB)).toBe(DEFAULT_POLICY);

    const raw = await h.db.rows<{ email: string; kind: string }>(
      sql`select policy->'detectType'->>'EMAIL' as email, jsonb_typeof(policy) as kind from tenants where id = ${tenantA}`,
    );
    expect(raw).toEqual([{ email: 'pass', kind: 'object' }]);

    await store.setOverride(tenantA, null);
    expect(await store.getOverride(tenantA)).toBeNull();
    expect(await store.policyFor(tenantA)).toBe(DEFAULT_POLICY);
  });

  it('a tenant without a row gets the default; setting one fails with 404, except the open-mode tenant, which is created', async () => {
    const store = createPolicyStore(h.db);
    expect(await store.policyFor('ten_missing')).toBe(DEFAULT_POLICY);
    expect(await store.getOverride('ten_missing')).toBeNull();
    const err = await store.setOverride('ten_missing', { detect: { contextual: 'pass' } }).catch((e) => e);
    expect(err).toBeInstanceOf(VeilError);
    expect(err.status).toBe(404);

    expect(await store.policyFor('default')).toBe(DEFAULT_POLICY);
    await store.setOverride('default', { detect: { contextual: 'pass' } });
    await store.setOverride('default', { detect: { contextual: 'pass' }, detectType: { ORGANIZATION: 'mask' } }); // upsert
    const rows = await h.db.rows<{ name: string }>(sql`select name from tenants where id = 'default'`);
    expect(rows).toEqual([{ name: 'default' }]);
    const p = await store.policyFor('default');
    expect(shouldMask(p, 'LOCATION')).toBe(false);
    expect(shouldMask(p, 'ORGANIZATION')).toBe(true);
    await store.setOverride('default', null);
    expect(await store.policyFor('default')).toBe(DEFAULT_POLICY);
  });

  it('invalid documents are rejected and nothing is stored', async () => {
    const store = createPolicyStore(h.db);
    await store.setOverride(tenantB, { detect: { contextual: 'pass' } });
    for (const bad of [{ detectType: { EMAL: 'pass' } }, { restore: { guest: {} } }, { detect: { sensitive: 'skip' } }, [], 'x', { extra: 1 }]) {
      await expect(store.setOverride(tenantB, bad)).rejects.toBeInstanceOf(PolicyValidationError);
    }
    expect(await store.getOverride(tenantB)).toEqual({ detect: { contextual: 'pass' } });
    await store.setOverride(tenantB, null);
  });

  it('caches per tenant for the TTL: another process sees a change only after it; the writing process at once', async () => {
    let t = 1_000;
    const now = () => t;
    const gateway = createPolicyStore(h.db, { cacheTtlMs: 5_000, now });
    const operator = createPolicyStore(h.db, { now });
    expect(await gateway.policyFor(tenantA)).toBe(DEFAULT_POLICY);

    await operator.setOverride(tenantA, { detectType: { PHONE: 'pass' } });
    expect(shouldMask(await operator.policyFor(tenantA), 'PHONE')).toBe(false); // the writer: at once
    t += 4_999;
    expect(await gateway.policyFor(tenantA)).toBe(DEFAULT_POLICY); // still cached
    t += 2;
    expect(shouldMask(await gateway.policyFor(tenantA), 'PHONE')).toBe(false); // expired → reloaded

    // concurrent requests for one tenant share one load and one result
    gateway.clearCache();
    const [p1, p2, p3] = await Promise.all([gateway.policyFor(tenantA), gateway.policyFor(tenantA), gateway.policyFor(tenantA)]);
    expect(p1).toBe(p2);
    expect(p2).toBe(p3);

    await operator.setOverride(tenantA, null);
    gateway.clearCache();
    expect(await gateway.policyFor(tenantA)).toBe(DEFAULT_POLICY);
  });

  it('fails closed: a stored document that no longer validates rejects with 503 veil_policy_unavailable', async () => {
    await h.db.rows(sql`update tenants set policy = '{"detectType":{"EMAIL":"nope"}}'::jsonb where id = ${tenantB}`);
    const store = createPolicyStore(h.db);
    const err = await store.policyFor(tenantB).catch((e) => e);
    expect(err).toBeInstanceOf(VeilError);
    expect(err.status).toBe(503);
    expect(err.code).toBe('veil_policy_unavailable');
    expect(err.message).not.toContain('nope');
    await h.db.rows(sql`update tenants set policy = null where id = ${tenantB}`);
    expect(await store.policyFor(tenantB)).toBe(DEFAULT_POLICY); // failures are not cached
  });

  it('fails closed: a database failure rejects with 503 veil_policy_unavailable', async () => {
    const h2 = await driver.open();
    const store = createPolicyStore(h2.db);
    await h2.cleanup();
    const err = await store.policyFor('default').catch((e) => e);
    expect(err).toBeInstanceOf(VeilError);
    expect(err.status).toBe(503);
    expect(err.code).toBe('veil_policy_unavailable');
  });
});
