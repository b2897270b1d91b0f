/**
 * `npm run bench -- rotation`: DEK rotation throughput. Seeds BENCH_ROTATION_ROWS (default
 * 100,000) mappings for one tenant with precomputed ciphertexts (one INSERT … unnest per 10,000
 * rows, not through the API), rotates the tenant's DEK and works the job with one runner
 * (BENCH_ROTATION_BATCH rows per batch, default 2000) until the old DEK is retired; verifies a
 * sample restores. PostgreSQL when BENCH_DATABASE_URL / TEST_DATABASE_URL is set (a fresh
 * database, dropped afterwards), else in-memory PGlite. No load generator yet (see RESULTS.md).
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Db } from '../src/db/client.js';
import { createPool, fromPglite, fromPool } from '../src/db/open.node.js';
import { getJob, startDekRotation } from '../src/jobs/rotate.js';
import { createJobRunner } from '../src/jobs/runner.js';
import { createLocalProvider } from '../src/keys/local.js';
import { makeToken, randomTokenId } from '../src/core/token.js';
import { nodeVaultCrypto } from '../src/keys/crypto.node.js';
import { createDbVault, mappingAad } from '../src/vault/db-vault.js';
import type { Token } from '../src/vault/types.js';
import { blindInput } from '../src/vault/normalize.js';

export interface RotationBenchResult {
  driver: string;
  rows: number;
  seedS: number;
  rotateS: number;
  rowsPerS: number;
  verified: number;
}

export async function benchRotation(log: (s: string) => void = () => {}): Promise<RotationBenchResult> {
  const n = Number(process.env.BENCH_ROTATION_ROWS ?? 100_000);
  const batch = Number(process.env.BENCH_ROTATION_BATCH ?? 2000);
  const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  let db: Db;
  let drop = async () => {};
  if (base) {
    const name = 'veil_bench_rot_' + nodeRandomBytes(4).toString('hex');
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(base);
    u.pathname = '/' + name;
    db = fromPool(createPool({ VEIL_DATA_DIR: '/nonexistent', DATABASE_URL: u.toString(), VEIL_DB_POOL_SIZE: 4, VEIL_DB_TIMEOUT_MS: 30_000 }));
    drop = async () => {
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    };
  } else {
    db = fromPglite(await PGlite.create());
  }
  try {
    await db.migrate();
    const tenantId = 'ten_bench_rotation';
    await db.query('insert into tenants (id, name) values ($1, $1)', [tenantId]);
    const vault = createDbVault({ db, provider: createLocalProvider(nodeRandomBytes(32)), crypto: nodeVaultCrypto, timeoutMs: 60_000 });
    const [dek] = await vault.keyring.reserveEncryptions(tenantId, 1);
    const blindKey = await vault.keyring.blindKey(tenantId);
    const t0 = performance.now();
    const sample: { token: Token; value: string }[] = [];
    const CH = 10_000;
    for (let i = 0; i < n; i += CH) {
      const m = Math.min(CH, n - i);
      const tokens: string[] = [];
      const blinds: Uint8Array[] = [];
      const ivs: Uint8Array[] = [];
      const cts: Uint8Array[] = [];
      for (let j = 0; j < m; j++) {
        const token = makeToken('EMAIL', randomTokenId());
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
    const t1 = performance.now();
    const job = await startDekRotation({ db, keyring: vault.keyring, tenantId, settleMs: 0 });
    let done = 0;
    let last = 0;
    await createJobRunner({
      db,
      keyring: vault.keyring,
      crypto: nodeVaultCrypto,
      batchSize: batch,
      onBatch: (_j, k) => {
        done += k;
        if (done - last >= n / 10) {
          last = done;
          log(`  ${done}/${n} rows, ${Math.round(done / ((performance.now() - t1) / 1000))} rows/s`);
        }
      },
    }).runUntilIdle({ waitSettle: true });
    const rotateS = (performance.now() - t1) / 1000;
    const end = await getJob(db, job.id);
    if (end?.state !== 'done' || end.done !== n) throw new Error(`rotation did not finish: ${JSON.stringify(end)}`);
    const back = await vault.resolve({ principal: { tenantId, principalId: 'bench', role: 'admin' }, requestId: 'bench' }, sample.map((s) => s.token));
    const verified = sample.filter((s) => back.get(s.token) === s.value).length;
    if (verified !== sample.length) throw new Error(`only ${verified}/${sample.length} sampled values restored`);
    await vault.close();
    return { driver: db.kind, rows: n, seedS, rotateS, rowsPerS: Math.round(n / rotateS), verified };
  } finally {
    await db.close();
    await drop();
  }
}
