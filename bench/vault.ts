/**
 * Vault benchmark: tokenize (new and known values) and resolve throughput and latency on PGlite
 * (in memory) and, when TEST_DATABASE_URL or BENCH_DATABASE_URL is set, PostgreSQL (a fresh
 * database, dropped afterwards), each with BENCH_VAULT_ROWS (default 100000) stored mappings.
 * Run alone: `npx tsx bench/vault.ts`.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { RequestContext } from '../src/core/types.js';
import type { Db } from '../src/db/client.js';
import { createPool, fromPglite, fromPool } from '../src/db/open.node.js';
import { randomBytes } from '../src/keys/crypto.js';
import { createLocalProvider } from '../src/keys/local.js';
import { nodeVaultCrypto } from '../src/keys/crypto.node.js';
import { createDbVault, webVaultCrypto } from '../src/vault/db-vault.js';
import type { Token, TokenizeItem } from '../src/vault/types.js';

export interface BenchRow {
  driver: string;
  bench: string;
  /** Operations measured (requests or values, see `unit`). */
  n: number;
  unit: string;
  perSec: number;
  p50Ms: number;
  p99Ms: number;
}

const ctx: RequestContext = { principal: { tenantId: 'bench', principalId: 'bench', role: 'admin' }, requestId: 'bench' };

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<{ lat: number[]; totalMs: number }> {
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn(i);
    lat.push(performance.now() - s);
  }
  return { lat, totalMs: performance.now() - t0 };
}

const email = (i: number) => `bench.user.${i}@example.com`;

async function benchOn(driver: string, db: Db, rows: number): Promise<BenchRow[]> {
  const out: BenchRow[] = [];
  const row = (bench: string, n: number, unit: string, perUnit: number, totalMs: number, lat: number[]) =>
    out.push({ driver, bench, n, unit, perSec: Math.round((n * perUnit * 1000) / totalMs), p50Ms: r3(pct(lat, 50)), p99Ms: r3(pct(lat, 99)) });
  const provider = createLocalProvider(randomBytes(32));
  // The database path is measured with the in-process token cache off; one row below shows it on.
  const vault = createDbVault({ db, provider, timeoutMs: 60_000, crypto: nodeVaultCrypto, tokenCacheMax: 0 });

  // Seed through the real tokenize path, 1000 values per call.
  const seedBatch = 1000;
  const tokens: Token[] = [];
  const seed = await timed(Math.ceil(rows / seedBatch), async (b) => {
    const items: TokenizeItem[] = [];
    for (let i = b * seedBatch; i < Math.min(rows, (b + 1) * seedBatch); i++) items.push({ type: 'EMAIL', value: email(i) });
    tokens.push(...(await vault.tokenize(ctx, items)));
  });
  row(`seed: tokenize new, ${seedBatch}/call`, rows, 'values', 1, seed.totalMs, seed.lat);

  const pick = (k: number) => Array.from({ length: k }, () => Math.floor(Math.random() * rows));
  // Warm-up (key cache, connections, JIT).
  for (let i = 0; i < 50; i++) await vault.tokenize(ctx, pick(5).map((j) => ({ type: 'EMAIL', value: email(j) })));

  const n5 = 2000;
  const known = await timed(n5, () => vault.tokenize(ctx, pick(5).map((j) => ({ type: 'EMAIL', value: email(j) }))));
  row('tokenize 5 known values (1 request)', n5, 'requests', 1, known.totalMs, known.lat);

  {
    // Known values a conversation repeats: a warm working set of 1000 values, token cache on.
    const cached = createDbVault({ db, provider, timeoutMs: 60_000, crypto: nodeVaultCrypto });
    const hot = Array.from({ length: 1000 }, (_, i) => i);
    await cached.tokenize(ctx, hot.map((j) => ({ type: 'EMAIL', value: email(j) })));
    const pickHot = () => Array.from({ length: 5 }, () => Math.floor(Math.random() * hot.length));
    const hits = await timed(n5, () => cached.tokenize(ctx, pickHot().map((j) => ({ type: 'EMAIL', value: email(j) }))));
    row('tokenize 5 known values, token cache on', n5, 'requests', 1, hits.totalMs, hits.lat);
    await cached.close();
  }

  let next = rows;
  const fresh = await timed(500, () => vault.tokenize(ctx, Array.from({ length: 5 }, () => ({ type: 'EMAIL' as const, value: email(next++) }))));
  row('tokenize 5 new values (1 request)', 500, 'requests', 1, fresh.totalMs, fresh.lat);

  const mixed = await timed(1000, () =>
    vault.tokenize(ctx, [...pick(4).map((j) => ({ type: 'EMAIL' as const, value: email(j) })), { type: 'EMAIL', value: email(next++) }]),
  );
  row('tokenize 4 known + 1 new (1 request)', 1000, 'requests', 1, mixed.totalMs, mixed.lat);

  const res5 = await timed(2000, () => vault.resolve(ctx, pick(5).map((j) => tokens[j]!)));
  row('resolve 5 tokens (1 request)', 2000, 'requests', 1, res5.totalMs, res5.lat);

  const res100 = await timed(300, async () => {
    const m = await vault.resolve(ctx, pick(100).map((j) => tokens[j]!));
    if (m.size === 0) throw new Error('resolve returned nothing');
  });
  row('resolve 100 tokens/call', 300 * 100, 'tokens', 1, res100.totalMs, res100.lat);

  // The same with Web Crypto (the Workers / default path) for comparison.
  const webVault = createDbVault({ db, provider, timeoutMs: 60_000, crypto: webVaultCrypto, tokenCacheMax: 0 });
  await webVault.resolve(ctx, pick(100).map((j) => tokens[j]!));
  const web100 = await timed(300, () => webVault.resolve(ctx, pick(100).map((j) => tokens[j]!)));
  row('resolve 100 tokens/call (Web Crypto)', 300 * 100, 'tokens', 1, web100.totalMs, web100.lat);
  const webKnown = await timed(1000, () => webVault.tokenize(ctx, pick(5).map((j) => ({ type: 'EMAIL', value: email(j) }))));
  row('tokenize 5 known values (Web Crypto)', 1000, 'requests', 1, webKnown.totalMs, webKnown.lat);
  await webVault.close();

  // 16 concurrent requests of 5 known values.
  const conc = 16;
  const per = 200;
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      for (let i = 0; i < per; i++) {
        const s = performance.now();
        await vault.tokenize(ctx, pick(5).map((j) => ({ type: 'EMAIL', value: email(j) })));
        lat.push(performance.now() - s);
      }
    }),
  );
  row(`tokenize 5 known, ${conc} concurrent`, conc * per, 'requests', 1, performance.now() - t0, lat);
  await vault.close();
  return out;
}

/** Runs the benchmark on every available driver and returns its rows. */
export async function benchVault(opts: { rows?: number; log?: (s: string) => void } = {}): Promise<BenchRow[]> {
  const rows = opts.rows ?? Number(process.env.BENCH_VAULT_ROWS ?? 100_000);
  const log = opts.log ?? (() => {});
  const out: BenchRow[] = [];

  log(`vault bench: PGlite (memory), ${rows} mappings`);
  const pgl = fromPglite(await PGlite.create());
  try {
    await pgl.migrate();
    out.push(...(await benchOn('pglite', pgl, rows)));
  } finally {
    await pgl.close();
  }

  const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (base) {
    const name = 'veil_bench_' + nodeRandomBytes(4).toString('hex');
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${name}`);
    const u = new URL(base);
    u.pathname = '/' + name;
    log(`vault bench: PostgreSQL (${u.host}), ${rows} mappings`);
    const db = fromPool(createPool({ VEIL_DATA_DIR: '.', DATABASE_URL: u.toString(), VEIL_DB_POOL_SIZE: 10, VEIL_DB_TIMEOUT_MS: 60_000 }));
    try {
      await db.migrate();
      out.push(...(await benchOn('postgres', db, rows)));
    } finally {
      await db.close();
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    }
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchVault({ log: (s) => console.error(s) });
  console.table(rows);
}
