/**
 * PGlite runs on the event loop: a big tokenize (many statements) must let other work run
 * between its statements (issue 7: a 256 KB prompt froze /healthz for seconds). Real PGlite,
 * real vault and master-key provider.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomBytes } from '../../src/keys/crypto.js';
import { createLocalProvider } from '../../src/keys/local.js';
import { nodeVaultCrypto } from '../../src/keys/crypto.node.js';
import { createDbVault } from '../../src/vault/db-vault.js';
import { ctx, type Harness, pgliteDriver } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await pgliteDriver.open();
});
afterAll(async () => h?.cleanup());

it('other timers run while 6,000 new values are tokenized on PGlite (several statements)', async () => {
  const v = createDbVault({ db: h.db, provider: createLocalProvider(randomBytes(32)), timeoutMs: 60_000, crypto: nodeVaultCrypto });
  try {
    const items = (k: number) => Array.from({ length: 6000 }, (_, i) => ({ type: 'EMAIL' as const, value: `user${k}x${i}@example.com` }));
    await v.tokenize(ctx('t1'), items(0)); // warm: keys created, statements prepared
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const tokens = await v.tokenize(ctx('t1'), items(1));
    clearInterval(timer);
    expect(new Set(tokens).size).toBe(6000);
    // 3 lookup + 3 insert statements of 2,000 rows: a turn of the loop before each one.
    // Before: the warm tokenize ran start to end without one turn (0 ticks).
    expect(ticks).toBeGreaterThanOrEqual(4);
  } finally {
    await v.close();
  }
}, 120_000);
