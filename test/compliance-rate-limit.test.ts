/**
 * The reveal rate limit shared through the database (src/compliance/rate-limit.ts) on a real
 * PGlite and, with TEST_DATABASE_URL, a real PostgreSQL: a refused take counts nothing, the
 * wait points at the window's end, keys have their own budgets, and concurrent takers through
 * separate connection pools never get more than the limit. On PostgreSQL two gateways (each
 * its own app, HTTP server and pool; the upstream is a loopback stand-in) share one budget per key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditStore } from '../src/audit/store.js';
import { knownTokens } from '../src/compliance/index.js';
import { createDbRateLimiter, RATE_WINDOW_S } from '../src/compliance/rate-limit.js';
import type { Db } from '../src/db/client.js';
import { randomBytes } from '../src/keys/crypto.js';
import { nodeVaultCrypto } from '../src/keys/crypto.node.js';
import { createLocalProvider } from '../src/keys/local.js';
import { createApiKeyStore } from '../src/tenants/api-keys.js';
import { createDbVault } from '../src/vault/db-vault.js';
import { type FakeUpstream, startFakeUpstream } from './fakes/upstream.js';
import { type Gateway, startGateway } from './helpers/gateway.js';
import { DRIVERS, type Harness, postgresDriver, TEST_DATABASE_URL, useHarness } from './helpers/db.js';

/** Waits until the database's clock is at least `margin` seconds before the end of a window, so a test's takes fall in one window. */
async function inOneWindow(db: Db, margin: number): Promise<void> {
  const s = Number((await db.query<{ s: number }>('select extract(epoch from clock_timestamp())::float8 as s', []))[0]!.s);
  const left = RATE_WINDOW_S - (s % RATE_WINDOW_S);
  if (left < margin) await new Promise((r) => setTimeout(r, (left + 0.2) * 1000));
}

describe.each(DRIVERS)('database reveal rate limit ($name)', (driver) => {
  const harness = useHarness(driver);
  let h: Harness;
  beforeAll(() => {
    h = harness();
  });

  it('counts tokens per key within a window; a refused take counts nothing; the wait ends with the window', async () => {
    await inOneWindow(h.db, 10);
    const lim = createDbRateLimiter(h.db, 10);
    expect(await lim.take('key_a', 6)).toBe(0);
    const wait = await lim.take('key_a', 5); // 11 > 10
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(RATE_WINDOW_S);
    expect(await lim.take('key_a', 4)).toBe(0); // the refused 5 were not counted: 6 + 4 = 10
    expect(await lim.take('key_a', 1)).toBeGreaterThan(0);
    expect(await lim.take('key_b', 10)).toBe(0); // another key, its own budget
    expect(await lim.take('key_c', 11)).toBe(RATE_WINDOW_S); // larger than the whole budget
    expect(await createDbRateLimiter(h.db, 0).take('key_a', 1000)).toBe(0); // 0 = off
    const rows = await h.db.query<{ key: string; used: number }>('select key, used from veil_rate_windows order by key', []);
    // one window row per key that took something: nothing accumulates per request
    expect(rows.filter((r) => r.key === 'key_a').map((r) => Number(r.used))).toEqual([10]);
  });

  it('older windows of a key are deleted by its next take', async () => {
    await h.db.query('insert into veil_rate_windows (key, window_start, used) values ($1, 1, 99), ($1, 2, 99)', ['key_old']);
    expect(await createDbRateLimiter(h.db, 5).take('key_old', 5)).toBe(0);
    expect((await h.db.query<{ n: number }>('select count(*)::int as n from veil_rate_windows where key = $1', ['key_old']))[0]!.n).toBe(1);
  });

  it('concurrent takers never get more than the limit in total', async () => {
    const dbs: Db[] = h.name === 'postgres' ? [h.db, await h.reopen(), await h.reopen()] : [h.db];
    const limiters = dbs.map((d) => createDbRateLimiter(d, 50));
    await inOneWindow(h.db, 15);
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => limiters[i % limiters.length]!.take('key_race', 3)));
    const granted = results.filter((w) => w === 0).length;
    expect(granted).toBe(16); // 16 × 3 = 48 ≤ 50 < 51
  });
});

describe.skipIf(!TEST_DATABASE_URL)('two gateways on one PostgreSQL share the reveal budget', () => {
  let h: Harness;
  let up: FakeUpstream;
  const gateways: Gateway[] = [];
  let key = '';
  let token = '';
  beforeAll(async () => {
    h = await postgresDriver.open();
    up = await startFakeUpstream();
    const provider = createLocalProvider(randomBytes(32));
    const store = createApiKeyStore(h.db);
    const tenantId = (await store.createTenant('Acme')).id;
    key = (await store.issueKey({ tenantId, name: 'app', role: 'admin' })).key;
    for (let i = 0; i < 2; i++) {
      const db = await h.reopen(); // each gateway its own pool, as separate processes would have
      const vault = createDbVault({ db, provider, crypto: nodeVaultCrypto });
      if (i === 0) {
        token = (await vault.tokenize({ principal: { tenantId, principalId: 'seed', role: 'admin' }, requestId: 'seed' }, [{ type: 'EMAIL', value: 'rate@example.org' }]))[0]!;
      }
      gateways.push(
        await startGateway(up.url, {
          vault,
          auth: createApiKeyStore(db),
          compliance: { audit: createAuditStore({ db, provider, hmac: nodeVaultCrypto.hmac }), known: knownTokens(db), revealLimiter: createDbRateLimiter(db, 10) },
        }),
      );
    }
  }, 120_000);
  afterAll(async () => {
    for (const g of gateways) await g.close();
    await up?.close();
    await h?.cleanup();
  });

  it('10 tokens a minute for the key across both gateways, not 10 each', async () => {
    const call = (g: Gateway, n: number) =>
      fetch(`${g.url}/veil/reveal`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tokens: Array(n).fill(`[${token}]`) }),
      });
    await inOneWindow(h.db, 20);
    const a = await call(gateways[0]!, 4);
    expect(a.status).toBe(200);
    expect(((await a.json()) as { data: { value: string }[] }).data[0]!.value).toBe('rate@example.org');
    expect((await call(gateways[1]!, 4)).status).toBe(200); // 8 of 10
    const refused = await call(gateways[0]!, 4); // would be 12
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('veil_reveal_rate_limited');
    expect((await call(gateways[1]!, 4)).status).toBe(429); // the other gateway knows it too
    expect((await call(gateways[1]!, 2)).status).toBe(200); // exactly the 10
  });
});
