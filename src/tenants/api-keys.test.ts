/** API keys and the authenticator on real PGlite and (with TEST_DATABASE_URL) PostgreSQL. */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVeilError } from '../core/errors.js';
import { OPEN_PRINCIPAL } from '../core/types.js';
import { API_KEY_RE, createApiKeyStore } from './api-keys.js';
import type { Db } from '../db/client.js';
import { DRIVERS, type Harness } from '../../test/helpers/db.js';

/** The same database, counting the statements the key store sends (reads and writes apart). */
function counting(db: Db) {
  const n = { select: 0, update: 0, raw: 0 };
  const orm = new Proxy(db.orm, {
    get(target, prop, receiver) {
      if (prop === 'select') n.select++;
      if (prop === 'update') n.update++;
      return Reflect.get(target, prop, receiver);
    },
  });
  const wrapped: Db = {
    ...db,
    orm,
    rows: (q) => (n.raw++, db.rows(q)),
    query: (text, params, name) => {
      if (/^\s*select\b/i.test(text)) n.select++;
      else if (/^\s*update\b/i.test(text)) n.update++;
      else n.raw++;
      return db.query(text, params, name);
    },
  };
  return { db: wrapped, n, total: () => n.select + n.update + n.raw };
}

const randomKey = () => 'vk_' + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');

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

  it('a flood of well-formed invalid keys writes nothing, is bounded apart and cannot evict a valid key', async () => {
    let t = 0;
    const c = counting(h.db);
    const store = createApiKeyStore(c.db, { cacheTtlMs: 60_000, cacheMax: 4, negativeCacheMax: 8, negativeCacheTtlMs: 2_000, now: () => t });
    const { id: tenantId } = await store.createTenant('Flood Co');
    const good = await store.issueKey({ tenantId, name: 'app', role: 'user' });
    expect((await store.authenticate(good.key)).kind).toBe('key'); // cached now
    const before = { ...c.n };

    const flood = Array.from({ length: 200 }, randomKey);
    for (const k of flood) expect(await store.authenticate(k)).toEqual({ kind: 'denied', reason: 'invalid' });
    expect(c.n.update - before.update).toBe(0); // no write for an unknown key
    expect(c.n.select - before.select).toBe(200); // one indexed read each

    // The valid key is still served from its cache: no statement at all.
    const mid = c.total();
    expect((await store.authenticate(good.key)).kind).toBe('key');
    expect(c.total()).toBe(mid);

    // The same invalid key again within the negative TTL: no query; concurrent ones share one.
    const again = flood[flood.length - 1]!;
    expect(await store.authenticate(again)).toEqual({ kind: 'denied', reason: 'invalid' });
    expect(c.total()).toBe(mid);
    const fresh = randomKey();
    const results = await Promise.all(Array.from({ length: 20 }, () => store.authenticate(fresh)));
    expect(results.every((r) => r.kind === 'denied')).toBe(true);
    expect(c.total()).toBe(mid + 1);

    // The negative cache is bounded (8) and expires (2 s): the oldest invalid key is read again.
    expect(await store.authenticate(flood[0]!)).toEqual({ kind: 'denied', reason: 'invalid' });
    expect(c.total()).toBe(mid + 2);
    t += 2_001;
    expect(await store.authenticate(again)).toEqual({ kind: 'denied', reason: 'invalid' });
    expect(c.total()).toBe(mid + 3);
  });

  it('last_used_at is written at most once per interval per key, and never for revoked keys', async () => {
    const c = counting(h.db);
    const store = createApiKeyStore(c.db, { cacheTtlMs: 1, lastUsedIntervalMs: 60_000 });
    const { id: tenantId } = await store.createTenant('Used Co');
    const k = await store.issueKey({ tenantId, name: 'app', role: 'user' });
    const u0 = c.n.update;
    for (let i = 0; i < 5; i++) {
      expect((await store.authenticate(k.key)).kind).toBe('key');
      await new Promise((r) => setTimeout(r, 3)); // past the 1 ms cache TTL: each one reads the row
    }
    expect(c.n.update - u0).toBe(1);
    const used = (await store.listKeys(tenantId))[0]!.lastUsedAt;
    expect(used).toBeInstanceOf(Date);

    // A key issued after the other one was revoked is valid at once (the revocation clears caches).
    await store.revokeKey(k.id);
    const u1 = c.n.update;
    expect(await store.authenticate(k.key)).toEqual({ kind: 'denied', reason: 'revoked' });
    expect(c.n.update).toBe(u1);
    const k2 = await store.issueKey({ tenantId, name: 'app', role: 'user' });
    expect((await store.authenticate(k2.key)).kind).toBe('key');
  });

  it('a key issued by another process works at once in a gateway that just denied a flood', async () => {
    // The negative cache holds only keys that were tried; a new key (256-bit random) was never
    // tried, so the running gateway (a second store on the same database) accepts it at once.
    const gateway = createApiKeyStore(h.db, { negativeCacheMax: 4 });
    const cli = createApiKeyStore(h.db);
    const { id: tenantId } = await cli.createTenant('Late Co');
    await cli.issueKey({ tenantId, name: 'first', role: 'user' });
    for (let i = 0; i < 10; i++) expect((await gateway.authenticate(randomKey())).kind).toBe('denied');
    const k = await cli.issueKey({ tenantId, name: 'app', role: 'user' });
    expect((await gateway.authenticate(k.key)).kind).toBe('key');
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
    // an auth outage says so: not "the vault is unavailable" (issue 8)
    expect((e as Error).message).toMatch(/API key/);
    expect((e as Error).message).not.toMatch(/vault/);
  });
});

describe.each(DRIVERS)('a key issued by another process ($name, issue 7)', (driver) => {
  it('works at once for its own tenant although "no keys yet" is cached, and closes open mode', async () => {
    const h = await driver.open();
    try {
      const gateway = createApiKeyStore(h.db, { cacheTtlMs: 60_000 }); // the running gateway
      expect(await gateway.authenticate(null)).toEqual({ kind: 'open', principal: OPEN_PRINCIPAL }); // caches "no keys"
      const cli = createApiKeyStore(h.db); // the CLI: another store, same database
      const { id: tenantId } = await cli.createTenant('Late');
      const k = await cli.issueKey({ tenantId, name: 'late', role: 'user' });
      expect(await gateway.authenticate(k.key)).toMatchObject({ kind: 'key', principal: { tenantId, role: 'user', keyId: k.id } });
      // and from then on this gateway is in key mode
      expect(await gateway.authenticate(null)).toEqual({ kind: 'denied', reason: 'missing' });
      expect(await gateway.authenticate('vk_' + 'B'.repeat(43))).toEqual({ kind: 'denied', reason: 'invalid' });
    } finally {
      await h.cleanup();
    }
  });
});
