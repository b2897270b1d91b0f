/** The in-process token cache of the database vault (real PGlite). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/client.js';
import { randomBytes } from '../keys/crypto.js';
import { createLocalProvider } from '../keys/local.js';
import { nodeVaultCrypto } from '../keys/crypto.node.js';
import { createDbVault } from './db-vault.js';
import { ctx, DRIVERS, type Harness } from '../../test/helpers/db.js';

const pglite = DRIVERS.find((d) => d.name === 'pglite')!;

describe('token cache', () => {
  let h: Harness;
  let queries = 0;
  let db: Db;
  let clock = 1_000_000;
  beforeAll(async () => {
    h = await pglite.open();
    // count every statement the vault sends
    db = { ...h.db, query: (...a: Parameters<Db['query']>) => (queries++, h.db.query(...a)) } as Db;
  });
  afterAll(() => h.cleanup());

  it('known values are tokenized without a database round trip, per tenant, until the TTL', async () => {
    const vault = createDbVault({ db, provider: createLocalProvider(randomBytes(32)), crypto: nodeVaultCrypto, tokenCacheTtlMs: 1000, now: () => clock });
    const items = [
      { type: 'EMAIL' as const, value: 'cache.me@example.com' },
      { type: 'PERSON' as const, value: 'Ada Lovelace' },
    ];
    const first = await vault.tokenize(ctx('t1'), items);
    const before = queries;
    const again = await vault.tokenize(ctx('t1'), [{ type: 'EMAIL', value: 'CACHE.ME@example.com' }, items[1]!]);
    expect(again).toEqual(first); // normalized email hits the same entry
    expect(queries).toBe(before); // served from the cache
    // another tenant never shares an entry
    const other = await vault.tokenize(ctx('t2'), items);
    expect(other[0]).not.toBe(first[0]);
    expect(queries).toBeGreaterThan(before);
    // after the TTL the database is asked again, and answers the same token
    clock += 2000;
    const q2 = queries;
    expect(await vault.tokenize(ctx('t1'), items)).toEqual(first);
    expect(queries).toBeGreaterThan(q2);
  });

  it('tokenCacheMax 0 turns it off', async () => {
    const vault = createDbVault({ db, provider: createLocalProvider(randomBytes(32)), crypto: nodeVaultCrypto, tokenCacheMax: 0 });
    await vault.tokenize(ctx('t3'), [{ type: 'EMAIL', value: 'x@example.com' }]);
    const before = queries;
    await vault.tokenize(ctx('t3'), [{ type: 'EMAIL', value: 'x@example.com' }]);
    expect(queries).toBeGreaterThan(before);
  });
});
