/**
 * Compliance benchmark: what the audit trail adds to a restored chat request (sanitize with
 * and without the audit hook, interleaved, same vault and values; before the upstream call, and
 * until the event is committed), group commit under 16
 * concurrent requests, `POST /v1/veil/reveal` of 100 tokens (in-process HTTP through the app),
 * and backup / verify / restore of BENCH_COMPLIANCE_ROWS (default 100000) mappings. PGlite in
 * memory, and PostgreSQL when TEST_DATABASE_URL or BENCH_DATABASE_URL is set (fresh databases,
 * dropped afterwards). Run alone: `npx tsx bench/compliance.ts`.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { createApp } from '../src/http/app.js';
import { createUpstream } from '../src/http/upstream.js';
import { createRestoreAuditor } from '../src/audit/restore.js';
import { createAuditStore } from '../src/audit/store.js';
import { openAuthenticator } from '../src/tenants/auth.js';
import { restoreLines } from '../src/backup/dump.js';
import { knownTokens } from '../src/compliance/index.js';
import { createDbRateLimiter } from '../src/compliance/rate-limit.js';
import { silentLogger, type RequestContext } from '../src/core/types.js';
import type { Db } from '../src/db/client.js';
import { createPool, fromPglite, fromPool } from '../src/db/open.node.js';
import { createPatternDetector } from '../src/detect/patterns/index.js';
import { randomBytes } from '../src/keys/crypto.js';
import { createLocalProvider } from '../src/keys/local.js';
import { sanitizeRequest } from '../src/sanitize/sanitize.js';
import { openBackup, verifyBackup, writeBackup } from '../src/runtime/node/backup-file.js';
import { DEFAULT_POLICY } from '../src/policy/index.js';
import { nodeVaultCrypto } from '../src/keys/crypto.node.js';
import { createDbVault } from '../src/vault/db-vault.js';

export interface ComplianceRow {
  driver: string;
  bench: string;
  n: number;
  result: string;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const ms = (x: number) => x.toFixed(3);

async function benchOn(driver: string, db: Db, fresh: () => Promise<{ db: Db; drop(): Promise<void> }>, rows: number, log: (s: string) => void): Promise<ComplianceRow[]> {
  const out: ComplianceRow[] = [];
  const provider = createLocalProvider(randomBytes(32));
  const vault = createDbVault({ db, provider, crypto: nodeVaultCrypto, timeoutMs: 60_000 });
  const audit = createAuditStore({ db, provider, hmac: nodeVaultCrypto.hmac, timeoutMs: 60_000 });
  const auditor = createRestoreAuditor(audit, knownTokens(db));
  const fastAudit = createAuditStore({ db, provider, hmac: nodeVaultCrypto.hmac, timeoutMs: 60_000, durable: false });
  const fastAuditor = createRestoreAuditor(fastAudit, knownTokens(db));
  const detector = createPatternDetector();
  const ctx = (i: number): RequestContext => ({ principal: { tenantId: 'bench', principalId: 'p', role: 'user', keyId: 'key_bench' }, requestId: `r${i}`, purpose: 'bench' });
  const body = (i: number) => ({
    model: 'm',
    messages: [{ role: 'user', content: `Mail ann.${i % 50}@example.com or bob.${i % 50}@example.org, call +1 415 555 01${String(i % 100).padStart(2, '0')}, card 4111 1111 1111 1111, IP 10.0.${i % 200}.7` }],
  });
  const plain = { detector, vault, policy: DEFAULT_POLICY };
  const audited = { ...plain, audit: auditor };
  const fast = { ...plain, audit: fastAuditor };
  const N = Number(process.env.BENCH_AUDIT_N ?? 1500);
  // a: no audit; pre/full: with audit, time until the upstream call may start / until the event
  // is committed (what an instant upstream would wait); f: the same full time, non-durable commit
  const a: number[] = [];
  const pre: number[] = [];
  const full: number[] = [];
  const f: number[] = [];
  const run = async (i: number, k: number) => {
    const t = performance.now();
    if (k === 0) {
      await sanitizeRequest('chat', body(i), plain, ctx(i));
      a.push(performance.now() - t);
    } else if (k === 1) {
      const r = await sanitizeRequest('chat', body(i), audited, ctx(i));
      pre.push(performance.now() - t);
      await r.audited;
      full.push(performance.now() - t);
    } else {
      const r = await sanitizeRequest('chat', body(i), fast, ctx(i));
      await r.audited;
      f.push(performance.now() - t);
    }
  };
  for (let i = 0; i < 150; i++) await run(i, i % 3); // warm-up
  a.length = pre.length = full.length = f.length = 0;
  for (let i = 0; i < N; i++) for (let k = 0; k < 3; k++) await run(i, (i + k) % 3);
  const p = (xs: number[]) => `p50 ${ms(pct(xs, 50))} / p99 ${ms(pct(xs, 99))} ms`;
  const d = (xs: number[]) => `p50 +${ms(pct(xs, 50) - pct(a, 50))} / p99 +${ms(pct(xs, 99) - pct(a, 99))} ms`;
  out.push({ driver, bench: 'chat request with 5 values: sanitize, no audit', n: N, result: p(a) });
  out.push({ driver, bench: '**added by audit before the upstream call**', n: N, result: d(pre) });
  out.push({ driver, bench: 'added until the event is committed (= with an instant upstream)', n: N, result: d(full) });
  out.push({ driver, bench: 'same, VEIL_AUDIT_DURABLE=false', n: N, result: d(f) });
  {
    const C = 16;
    const per = 100;
    const lat: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: C }, async (_, c) => {
        for (let i = 0; i < per; i++) {
          const t = performance.now();
          await (await sanitizeRequest('chat', body(c * per + i), audited, ctx(i))).audited;
          lat.push(performance.now() - t);
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    out.push({ driver, bench: `with audit, ${C} concurrent (group commit)`, n: C * per, result: `${Math.round((C * per) / s)} req/s, p50 ${ms(pct(lat, 50))} / p99 ${ms(pct(lat, 99))} ms` });
  }
  {
    const ctxA: RequestContext = { principal: { tenantId: 'bench', principalId: 'p', role: 'admin' }, requestId: 'seed' };
    const tokens = await vault.tokenize(ctxA, Array.from({ length: 100 }, (_, i) => ({ type: 'EMAIL' as const, value: `reveal.${i}@example.com` })));
    const app = createApp({
      detector,
      vault,
      auth: openAuthenticator,
      upstream: createUpstream({ baseURL: 'http://127.0.0.1:9/v1', apiKey: 'x', timeoutMs: 1000, maxRetries: 0 }),
      policyFor: () => DEFAULT_POLICY,
      logger: silentLogger,
      limits: { maxBodyBytes: 1 << 20, streamIdleTimeoutMs: 1000 },
      // the shared database limiter the gateway uses (one UPSERT per reveal), with a budget the bench never reaches
      compliance: { audit, known: knownTokens(db), revealLimiter: createDbRateLimiter(db, 1_000_000_000) },
    });
    const req = JSON.stringify({ tokens: tokens.map((t) => `[${t}]`), purpose: 'bench' });
    const lat: number[] = [];
    for (let i = 0; i < 320; i++) {
      const t = performance.now();
      const r = await app.request('/v1/veil/reveal', { method: 'POST', headers: { 'content-type': 'application/json' }, body: req });
      if (r.status !== 200) throw new Error(`reveal ${r.status}`);
      await r.arrayBuffer();
      if (i >= 20) lat.push(performance.now() - t);
    }
    out.push({ driver, bench: 'POST /v1/veil/reveal, 100 tokens', n: lat.length, result: `p50 ${ms(pct(lat, 50))} / p99 ${ms(pct(lat, 99))} ms` });
  }
  {
    log(`compliance bench (${driver}): seeding ${rows} mappings`);
    for (let i = 0; i < rows; i += 1000) {
      const c: RequestContext = { principal: { tenantId: `t${i % 4}`, principalId: 'p', role: 'admin' }, requestId: 'seed' };
      await vault.tokenize(c, Array.from({ length: Math.min(1000, rows - i) }, (_, k) => ({ type: 'EMAIL' as const, value: `seed.${i + k}@example.com` })));
    }
    const dir = mkdtempSync(join(tmpdir(), 'veil-bench-backup-'));
    try {
      const file = join(dir, 'b.veilbak');
      let t = performance.now();
      await writeBackup(db, provider, file);
      const bs = (performance.now() - t) / 1000;
      const mb = statSync(file).size / 1e6;
      out.push({ driver, bench: `backup, ${rows} mappings`, n: rows, result: `${bs.toFixed(2)} s, ${mb.toFixed(1)} MB, ${(mb / bs).toFixed(1)} MB/s` });
      t = performance.now();
      await verifyBackup(file, provider);
      const vs = (performance.now() - t) / 1000;
      out.push({ driver, bench: `backup --verify, ${rows} mappings`, n: rows, result: `${vs.toFixed(2)} s, ${(mb / vs).toFixed(1)} MB/s` });
      const target = await fresh();
      try {
        t = performance.now();
        const { lines } = await openBackup(file, provider);
        await restoreLines(target.db, lines);
        const rs = (performance.now() - t) / 1000;
        out.push({ driver, bench: `restore (into an empty ${driver}), ${rows} mappings`, n: rows, result: `${rs.toFixed(2)} s, ${(mb / rs).toFixed(1)} MB/s` });
      } finally {
        await target.drop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

export async function benchCompliance(opts: { rows?: number; log?: (s: string) => void } = {}): Promise<ComplianceRow[]> {
  const rows = opts.rows ?? Number(process.env.BENCH_COMPLIANCE_ROWS ?? 100_000);
  const log = opts.log ?? (() => {});
  const out: ComplianceRow[] = [];
  const newPglite = async () => {
    const db = fromPglite(await PGlite.create());
    await db.migrate();
    return { db, drop: () => db.close() };
  };
  const only = new Set((process.env.BENCH_COMPLIANCE_DRIVERS ?? 'pglite,postgres').split(','));
  if (only.has('pglite')) {
    const p = await newPglite();
    try {
      out.push(...(await benchOn('pglite', p.db, newPglite, rows, log)));
    } finally {
      await p.drop();
    }
  }
  const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (base && only.has('postgres')) {
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    const newPg = async () => {
      const name = 'veil_bench_' + nodeRandomBytes(4).toString('hex');
      await admin.query(`create database ${name}`);
      const u = new URL(base);
      u.pathname = '/' + name;
      const db = fromPool(createPool({ VEIL_DATA_DIR: '.', DATABASE_URL: u.toString(), VEIL_DB_POOL_SIZE: 10, VEIL_DB_TIMEOUT_MS: 60_000 }));
      await db.migrate();
      return {
        db,
        async drop() {
          await db.close();
          await admin.query(`drop database if exists ${name} with (force)`);
        },
      };
    };
    const p = await newPg();
    try {
      out.push(...(await benchOn('postgres', p.db, newPg, rows, log)));
    } finally {
      await p.drop();
      await admin.end();
    }
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchCompliance({ log: (s) => console.error(s) });
  console.log('| driver | benchmark | n | result |\n|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.driver} | ${r.bench} | ${r.n} | ${r.result} |`);
  process.exit(0);
}
