/**
 * PGlite runs on the event loop: a big tokenize (many statements) must let other work run
 * between its statements (issue 7: a 256 KB prompt froze /healthz for seconds). Real PGlite,
 * real vault and master-key provider.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomBytes } from '../keys/crypto.js';
import { createLocalProvider } from '../keys/local.js';
import { nodeVaultCrypto } from '../keys/crypto.node.js';
import type { Db } from '../db/client.js';
import { createDbVault } from './db-vault.js';
import { ctx, type Harness, pgliteDriver } from '../../test/helpers/db.js';

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

/** Longest time the event loop was held while `fn` ran (gaps between 1 ms timer ticks). */
async function longestStall<T>(fn: () => Promise<T>): Promise<{ result: T; maxGapMs: number; totalMs: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  const timer = setInterval(() => {
    const t = performance.now();
    maxGapMs = Math.max(maxGapMs, t - last);
    last = t;
  }, 1);
  const t0 = performance.now();
  try {
    const result = await fn();
    maxGapMs = Math.max(maxGapMs, performance.now() - last);
    return { result, maxGapMs, totalMs: performance.now() - t0 };
  } finally {
    clearInterval(timer);
  }
}

it('10,000 new values on PGlite: statements of at most 100 rows, and the loop is never held long', async () => {
  const sizes: number[] = [];
  const db: Db = {
    ...h.db,
    kind: h.db.kind,
    query: (sql, params, name) => {
      if (Array.isArray(params?.[1])) sizes.push((params[1] as unknown[]).length);
      return h.db.query(sql, params, name);
    },
  };
  const v = createDbVault({ db, provider: createLocalProvider(randomBytes(32)), timeoutMs: 60_000, crypto: nodeVaultCrypto });
  try {
    const items = (k: number) => Array.from({ length: 10_000 }, (_, i) => ({ type: 'EMAIL' as const, value: `big${k}x${i}@example.com` }));
    await v.tokenize(ctx('t2'), items(0).slice(0, 50)); // keys created
    sizes.length = 0;
    const { result: tokens, maxGapMs, totalMs } = await longestStall(() => v.tokenize(ctx('t2'), items(1)));
    expect(new Set(tokens).size).toBe(10_000);
    // 100 lookups + 100 inserts of 100 rows (before: 5 + 5 of 2,000)
    expect(sizes.length).toBe(200);
    expect(Math.max(...sizes)).toBe(100);
    const { result: again, maxGapMs: gap2 } = await longestStall(() => v.resolve(ctx('t2'), tokens));
    expect(again.size).toBe(10_000);
    expect(again.get(tokens[9_999]!)).toBe('big1x9999@example.com');
    console.log(`tokenize 10k on PGlite: ${totalMs.toFixed(0)} ms, longest stall ${maxGapMs.toFixed(1)} ms; resolve longest stall ${gap2.toFixed(1)} ms`);
    // A 100-row statement or a 128-value crypto slice holds the loop a few ms on a quiet machine;
    // generous for a loaded shared one (measured at load 20: ≤ 470 ms; before: 1.5 s+ with the
    // 10k HMACs in one go, and 2,000-row statements).
    expect(maxGapMs).toBeLessThan(900);
    expect(gap2).toBeLessThan(900);
  } finally {
    await v.close();
  }
}, 120_000);

it('the timeout bounds each statement, not the whole call: 20 slow statements succeed, a stuck one fails', async () => {
  // Real PGlite behind a wrapper that delays each statement by 150 ms (a slow database):
  // 10 lookups + 10 inserts take ≥ 3 s in all, each far below the 1 s timeout.
  let stuck = false;
  const db: Db = {
    ...h.db,
    kind: h.db.kind,
    query: async (sql, params, name) => {
      if (name?.startsWith('veil_vault_')) await new Promise((r) => setTimeout(r, stuck ? 60_000 : 150));
      return h.db.query(sql, params, name);
    },
  };
  const v = createDbVault({ db, provider: createLocalProvider(randomBytes(32)), timeoutMs: 1_000, maxRowsPerStatement: 10, crypto: nodeVaultCrypto });
  try {
    await v.tokenize(ctx('t3'), [{ type: 'EMAIL', value: 'warm@example.com' }]);
    const items = Array.from({ length: 100 }, (_, i) => ({ type: 'EMAIL' as const, value: `slow${i}@example.com` }));
    const t0 = performance.now();
    const tokens = await v.tokenize(ctx('t3'), items);
    expect(performance.now() - t0).toBeGreaterThan(2_900);
    expect(new Set(tokens).size).toBe(100);
    stuck = true;
    const t1 = performance.now();
    await expect(v.tokenize(ctx('t3'), [{ type: 'EMAIL', value: 'stuck@example.com' }])).rejects.toMatchObject({ status: 503 });
    expect(performance.now() - t1).toBeLessThan(10_000);
  } finally {
    await v.close();
  }
}, 120_000);
