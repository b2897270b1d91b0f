/** API keys and the authenticator on real PGlite and (with TEST_DATABASE_URL) PostgreSQL. */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVeilError } from '../../src/core/errors.js';
import { OPEN_PRINCIPAL } from '../../src/core/types.js';
import { API_KEY_RE, createApiKeyStore } from '../../src/auth/api-keys.js';
import { DRIVERS, type Harness } from './harness.js';

describe.each(DRIVERS)('api keys on $name', (driver) => {
  let h: Harness;
  beforeAll(async () => {
    h = await driver.open();
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('is open until the first key exists, then requires a valid key', async () => {
    let t = 0;
    const store = createApiKeyStore(h.db, { cacheTtlMs: 1000, now: () => t });
    expect(await store.authenticate(null)).toEqual({ kind: 'open', principal: OPEN_PRINCIPAL });
    expect(await store.authenticate('sk-upstream-token')).toEqual({ kind: 'open', principal: OPEN_PRINCIPAL });

    const { id: tenantId } = await store.createTenant('Acme');
    expect(tenantId).toMatch(/^ten_[0-9a-z]{16}$/);
    expect((await store.listTenants()).map((x) => [x.id, x.name, x.status])).toEqual([[tenantId, 'Acme', 'active']]);

    const a = await store.issueKey({ tenantId, name: 'support-app', role: 'user' });
    const b = await store.issueKey({ tenantId, name: 'support-app', role: 'restricted' });
    const c = await store.issueKey({ tenantId, name: 'ops', role: 'admin' });
    for (const k of [a, b, c]) {
      expect(k.key).toMatch(API_KEY_RE);
      expect(k.key.startsWith(k.prefix)).toBe(true);
      expect(k.prefix).toHaveLength(9);
    }
    expect(a.principalId).toBe(b.principalId);
    expect(c.principalId).not.toBe(a.principalId);

    // Same process: open mode ends at once (issueKey resets the cache).
    expect(await store.authenticate(null)).toEqual({ kind: 'denied', reason: 'missing' });
    expect(await store.authenticate('')).toEqual({ kind: 'denied', reason: 'missing' });
    expect(await store.authenticate('sk-upstream-token')).toEqual({ kind: 'denied', reason: 'invalid' });
    expect(await store.authenticate('vk_' + 'A'.repeat(43))).toEqual({ kind: 'denied', reason: 'invalid' });
    expect(await store.authenticate(a.key.slice(0, -1) + (a.key.endsWith('A') ? 'B' : 'A'))).toEqual({ kind: 'denied', reason: 'invalid' });
    expect(await store.authenticate(a.key)).toEqual({
      kind: 'key',
      principal: { tenantId, principalId: a.principalId, role: 'user', keyId: a.id },
    });
    expect(await store.authenticate(c.key)).toEqual({
      kind: 'key',
      principal: { tenantId, principalId: c.principalId, role: 'admin', keyId: c.id },
    });

    // Another process (a second store) sees the revocation within its cache TTL, not before.
    const other = createApiKeyStore(h.db, { cacheTtlMs: 1000, now: () => t });
    expect((await other.authenticate(a.key)).kind).toBe('key');
    expect(await store.revokeKey(a.id)).toBe(true);
    expect(await store.revokeKey(a.id)).toBe(false);
    expect(await store.revokeKey('key_nope')).toBe(false);
    expect(await store.authenticate(a.key)).toEqual({ kind: 'denied', reason: 'revoked' });
    expect((await other.authenticate(a.key)).kind).toBe('key'); // cached
    t += 1001;
    expect(await other.authenticate(a.key)).toEqual({ kind: 'denied', reason: 'revoked' });
    expect((await other.authenticate(b.key)).kind).toBe('key');

    // Revoking every key does not reopen the gateway.
    await store.revokeKey(b.id);
    await store.revokeKey(c.id);
    store.clearCache();
    expect(await store.authenticate(null)).toEqual({ kind: 'denied', reason: 'missing' });

    const list = await store.listKeys(tenantId);
    expect(list.map((k) => k.id).sort()).toEqual([a.id, b.id, c.id].sort());
    const la = list.find((k) => k.id === a.id)!;
    expect(la).toMatchObject({ tenantId, name: 'support-app', role: 'user', prefix: a.prefix });
    expect(la.revokedAt).toBeInstanceOf(Date);
    expect(la.lastUsedAt).toBeInstanceOf(Date);
    expect(JSON.stringify(list)).not.toContain(a.key);
    expect(JSON.stringify(list)).not.toContain(a.key.slice(12));
    expect(await store.listKeys('ten_other')).toEqual([]);
    expect((await store.listKeys()).length).toBe(3);

    // Hashed at rest: the key string appears nowhere in the raw data.
    if (h.name === 'postgres') await h.db.rows(sql`checkpoint`);
    const dump = (await h.dump()).toString('latin1');
    expect(dump).toContain(a.prefix); // positive control
    for (const k of [a, b, c]) {
      expect(dump).not.toContain(k.key);
      expect(dump).not.toContain(k.key.slice(9)); // the part never shown
    }
  });

  it('rejects bad input with clear 4xx errors', async () => {
    const store = createApiKeyStore(h.db);
    const { id } = await store.createTenant('Bad Input Co');
    await expect(store.issueKey({ tenantId: id, name: 'x', role: 'root' as never })).rejects.toMatchObject({ status: 400, param: 'role' });
    await expect(store.issueKey({ tenantId: 'ten_missing', name: 'x', role: 'user' })).rejects.toMatchObject({ status: 404 });
    await expect(store.createTenant('  ')).rejects.toMatchObject({ status: 400 });
  });

  it('fails closed when the store cannot be read', async () => {
    if (h.name !== 'postgres') return; // see db-down.test.ts for PGlite
    const db = await h.reopen();
    const store = createApiKeyStore(db);
    await db.close();
    const e = await store.authenticate('vk_' + 'A'.repeat(43)).catch((x: unknown) => x);
    expect(isVeilError(e) && e.status === 503 && e.code === 'veil_auth_unavailable').toBe(true);
  });
});
