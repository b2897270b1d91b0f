/**
 * `npm run bench -- rotation`: key rotation. (1) Master key: seeds BENCH_MASTER_TENANTS
 * (default 10,000) tenant KEKs and times `rotate --master` re-wrapping them. (2) DEK: seeds
 * BENCH_ROTATION_ROWS (default 100,000) mappings for the open-mode tenant with precomputed
 * ciphertexts (one INSERT … unnest per 10,000 rows, not through the API), rotates its DEK and
 * works the job with BENCH_ROTATION_RUNNERS runners in this process (default 2, each its own
 * connection; BENCH_ROTATION_BATCH rows per batch, default 5000) until the old DEK is retired;
 * verifies a sample restores. On PostgreSQL (BENCH_DATABASE_URL / TEST_DATABASE_URL: a fresh
 * database, dropped afterwards) a real gateway process (src/runtime/node/main.ts, same database
 * and master key, NER off, the loopback bench upstream) takes chat requests with 5 PII values
 * for that tenant from BENCH_LOAD_CONNECTIONS (default 8) concurrent clients before and during
 * the rotation: p50 / p99 and failed requests of both windows. Its own job poller shares the
 * job. Without PostgreSQL: in-memory PGlite, no load generator.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Db } from '../src/db/client.js';
import { createPool, fromPglite, fromPool } from '../src/db/open.node.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getJob, startDekRotation } from '../src/jobs/rotate.js';
import { startMasterRotation } from '../src/jobs/master.js';
import { verifyMasterKey } from '../src/keys/key-check.js';
import { OPEN_TENANT_ID } from '../src/core/types.js';
import { BENCH_PROMPT } from './gateway.js';
import { freePort, percentile, startProcess } from './lib.js';
import { createJobRunner } from '../src/jobs/runner.js';
import { createLocalProvider } from '../src/keys/local.js';
import { makeToken, randomTokenId } from '../src/core/token.js';
import { nodeVaultCrypto } from '../src/keys/crypto.node.js';
import { createDbVault, mappingAad } from '../src/vault/db-vault.js';
import type { Token } from '../src/vault/types.js';
import { blindInput } from '../src/vault/normalize.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface LoadWindow {
  requests: number;
  failed: number;
  p50: number;
  p99: number;
}

export interface RotationBenchResult {
  driver: string;
  rows: number;
  runners: number;
  batch: number;
  seedS: number;
  rotateS: number;
  rowsPerS: number;
  verified: number;
  masterTenants: number;
  masterS: number;
  before: LoadWindow | null;
  during: LoadWindow | null;
}

/** Chat requests from `connections` clients until `stop` says so; latencies in ms. */
async function load(url: string, connections: number, stop: () => boolean): Promise<LoadWindow> {
  const lat: number[] = [];
  let failed = 0;
  const body = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: BENCH_PROMPT }] });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (!stop()) {
        const t0 = performance.now();
        try {
          const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          const j = (await r.json()) as { choices?: { message?: { content?: string } }[] };
          if (!r.ok || !j.choices?.[0]?.message?.content?.includes('jane.roe@example.com')) failed++;
          else lat.push(performance.now() - t0);
        } catch {
          failed++;
        }
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return { requests: lat.length + failed, failed, p50: Math.round(percentile(lat, 50) * 10) / 10, p99: Math.round(percentile(lat, 99) * 10) / 10 };
}

/** Seeds `n` tenants with a KEK each under `old`, then times their re-wrap under `next` (previous = old). */
async function benchMaster(db: Db, oldKey: Uint8Array, n: number, runners: number): Promise<number> {
  const old = createLocalProvider(oldKey);
  const CH = 2000;
  for (let i = 0; i < n; i += CH) {
    const ids: string[] = [];
    const wrapped: Uint8Array[] = [];
    for (let j = i; j < Math.min(n, i + CH); j++) {
      const id = `ten_bench_master_${j}`;
      ids.push(id);
      const g = await old.generateKek(id);
      g.plaintext.fill(0);
      wrapped.push(g.wrapped);
    }
    await db.query('insert into tenants (id, name) select t, t from unnest($1::text[]) as u(t)', [ids]);
    await db.query(
      `insert into tenant_keys (tenant_id, kind, version, wrapped, master_key_id, state) select t, 'kek', 1, w, $3, 'primary' from unnest($1::text[], $2::bytea[]) as u(t, w)`,
      [ids, wrapped, old.keyId],
    );
  }
  const next = createLocalProvider(nodeRandomBytes(32), { previousKeys: [oldKey] });
  const t0 = performance.now();
  const job = await startMasterRotation({ db, provider: next });
  const keyring = createDbVault({ db, provider: next, timeoutMs: 60_000 }).keyring;
  await Promise.all(Array.from({ length: runners }, () => createJobRunner({ db, keyring, provider: next, batchSize: 1000 }).runUntilIdle({ waitSettle: true })));
  const s = (performance.now() - t0) / 1000;
  const end = await getJob(db, job.id);
  if (end?.state !== 'done' || end.done < n) throw new Error(`master rotation did not finish: ${JSON.stringify(end)}`);
  return s;
}

export async function benchRotation(log: (s: string) => void = () => {}): Promise<RotationBenchResult> {
  const n = Number(process.env.BENCH_ROTATION_ROWS ?? 100_000);
  const batch = Number(process.env.BENCH_ROTATION_BATCH ?? 5000);
  const runners = Number(process.env.BENCH_ROTATION_RUNNERS ?? 2);
  const masterTenants = Number(process.env.BENCH_MASTER_TENANTS ?? 10_000);
  const connections = Number(process.env.BENCH_LOAD_CONNECTIONS ?? 8);
  const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  const masterKey = nodeRandomBytes(32);
  let db: Db;
  let url: string | null = null;
  let drop = async () => {};
  if (base) {
    const name = 'veil_bench_rot_' + nodeRandomBytes(4).toString('hex');
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(base);
    u.pathname = '/' + name;
    url = u.toString();
    db = fromPool(createPool({ VEIL_DATA_DIR: '/nonexistent', DATABASE_URL: url, VEIL_DB_POOL_SIZE: runners + 2, VEIL_DB_TIMEOUT_MS: 30_000 }));
    drop = async () => {
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    };
  } else {
    db = fromPglite(await PGlite.create());
  }
  const stops: (() => Promise<void>)[] = [];
  try {
    await db.migrate();
    const tenantId = OPEN_TENANT_ID; // the tenant of the open-mode gateway below
    await db.query('insert into tenants (id, name) values ($1, $1)', [tenantId]);
    const provider = createLocalProvider(masterKey);
    await verifyMasterKey(db, provider);
    const vault = createDbVault({ db, provider, crypto: nodeVaultCrypto, timeoutMs: 60_000 });
    const [dek] = await vault.keyring.reserveEncryptions(tenantId, 1);
    const blindKey = await vault.keyring.blindKey(tenantId);
    const t0 = performance.now();
    const sample: { token: Token; value: string }[] = [];
    const CH = 10_000;
    // 8 Crockford characters are 40 bits: among 1M random ids a repeat is likely (birthday bound),
    // and the vault itself redraws on a clash, so the seeder does too.
    const used = new Set<string>();
    for (let i = 0; i < n; i += CH) {
      const m = Math.min(CH, n - i);
      const tokens: string[] = [];
      const blinds: Uint8Array[] = [];
      const ivs: Uint8Array[] = [];
      const cts: Uint8Array[] = [];
      for (let j = 0; j < m; j++) {
        let token = makeToken('EMAIL', randomTokenId());
        while (used.has(token)) token = makeToken('EMAIL', randomTokenId());
        used.add(token);
        const value = `bench.${i + j}@example.com`;
        const iv = nodeRandomBytes(12);
        tokens.push(token);
        blinds.push(nodeVaultCrypto.hmac(blindKey, Buffer.from(blindInput('EMAIL', value))) as Uint8Array);
        ivs.push(iv);
        cts.push(nodeVaultCrypto.encrypt(dek!.key, iv, Buffer.from(value), mappingAad(tenantId, token, 'EMAIL', dek!.version)) as Uint8Array);
        if ((i + j) % Math.max(1, Math.floor(n / 100)) === 0) sample.push({ token: token as Token, value });
      }
      await db.query(
        `insert into mappings (tenant_id, token, type, blind_index, dek_version, iv, ciphertext)
         select $1, t, 'EMAIL', b, $2, iv, ct from unnest($3::text[], $4::bytea[], $5::bytea[], $6::bytea[]) as u(t, b, iv, ct)`,
        [tenantId, dek!.version, tokens, blinds, ivs, cts],
      );
    }
    const seedS = (performance.now() - t0) / 1000;
    log(`seeded ${n} rows in ${seedS.toFixed(1)} s`);
    if (base) await db.query('vacuum analyze mappings', []);

    // Live traffic: a real gateway process on the same database and master key.
    let gwUrl: string | null = null;
    if (url) {
      const upstream = await startProcess(join(ROOT, 'bench/upstream-server.ts'), { PORT: '0' }, { line: /READY (\d+)/ });
      stops.push(upstream.stop);
      const port = await freePort();
      const gw = await startProcess(
        join(ROOT, 'src/runtime/node/main.ts'),
        {
          PORT: String(port),
          HOST: '127.0.0.1',
          DATABASE_URL: url,
          VEIL_MASTER_KEY: Buffer.from(masterKey).toString('base64'),
          VEIL_UPSTREAM_URL: `http://127.0.0.1:${upstream.match![1]}/v1`,
          VEIL_UPSTREAM_API_KEY: 'sk-bench',
          VEIL_NER: 'off',
          VEIL_LOG_LEVEL: 'error',
          VEIL_KEY_CACHE_TTL_MS: '5000',
        },
        { url: `http://127.0.0.1:${port}/healthz` },
      );
      stops.push(gw.stop);
      gwUrl = `http://127.0.0.1:${port}`;
    }
    let before: LoadWindow | null = null;
    if (gwUrl) {
      const end = Date.now() + 10_000;
      before = await load(gwUrl, connections, () => Date.now() > end);
      log(`before: ${JSON.stringify(before)}`);
    }

    const t1 = performance.now();
    const job = await startDekRotation({ db, keyring: vault.keyring, tenantId, settleMs: 0 });
    let rotating = true;
    const during = gwUrl ? load(gwUrl, connections, () => !rotating) : null;
    let done = 0;
    let last = 0;
    const onBatch = (_j: unknown, k: number) => {
      done += k;
      if (done - last >= n / 10) {
        last = done;
        log(`  ${done}/${n} rows, ${Math.round(done / ((performance.now() - t1) / 1000))} rows/s`);
      }
    };
    await Promise.all(
      Array.from({ length: runners }, () =>
        createJobRunner({ db, keyring: vault.keyring, crypto: nodeVaultCrypto, batchSize: batch, settlePollMs: 100, onBatch }).runUntilIdle({ waitSettle: true }),
      ),
    );
    const rotateS = (performance.now() - t1) / 1000;
    rotating = false;
    const duringW = during ? await during : null;
    if (duringW) log(`during: ${JSON.stringify(duringW)}`);
    const end = await getJob(db, job.id);
    // The gateway's first request wrote its 5 values under the old DEK too: total = n + 5 with traffic.
    if (end?.state !== 'done' || end.done !== end.total || end.total < n) throw new Error(`rotation did not finish: ${JSON.stringify(end)}`);
    const back = await vault.resolve({ principal: { tenantId, principalId: 'bench', role: 'admin' }, requestId: 'bench' }, sample.map((s) => s.token));
    const verified = sample.filter((s) => back.get(s.token) === s.value).length;
    if (verified !== sample.length) throw new Error(`only ${verified}/${sample.length} sampled values restored`);
    await vault.close();
    for (const stop of stops.splice(0).reverse()) await stop();

    const masterS = masterTenants > 0 ? await benchMaster(db, masterKey, masterTenants, runners) : 0;
    log(`master: ${masterTenants} tenants re-wrapped in ${masterS.toFixed(1)} s`);
    return { driver: db.kind, rows: n, runners, batch, seedS, rotateS, rowsPerS: Math.round(n / rotateS), verified, masterTenants, masterS, before, during: duringW };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await db.close();
    await drop();
  }
}
