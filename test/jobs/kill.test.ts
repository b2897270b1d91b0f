/**
 * `veil keys rotate` (DEK, `--kek` and `--master`) + `veil jobs run` as real processes: the worker is
 * killed with SIGKILL in the middle of the job, then a new one resumes it. No row is lost, none is left half-written,
 * the persisted progress equals the rows actually moved, and every value restores exactly.
 * Real PGlite data dir (worker killed, then the data dir reopened) and, with TEST_DATABASE_URL,
 * real PostgreSQL. No fakes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import type { EntityType } from '../../src/core/types.js';
import { openDatabase } from '../../src/db/open.node.js';
import { getJob } from '../../src/jobs/rotate.js';
import { fromBase64 } from '../../src/keys/crypto.js';
import { createLocalProvider } from '../../src/keys/local.js';
import { verifyMasterKey } from '../../src/keys/key-check.js';
import { createDbVault } from '../../src/vault/db-vault.js';
import { createTestDatabase, ctx, runCliCaptured, TEST_DATABASE_URL } from '../helpers/db.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MASTER = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');
const NEW_MASTER = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');
const TENANTS = 300;
const N = 3000;

/**
 * Starts `veil jobs run` as a separate process and SIGKILLs it mid-job: on PostgreSQL once the
 * job has `minDone` rows done, on PGlite (the worker owns the data dir) after 6 s.
 */
async function killWorkerMidJob(name: string, env: Record<string, string>, config: ReturnType<typeof loadConfig>, jobId: string, minDone: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/runtime/node/cli/index.ts'), 'jobs', 'run'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
  const t0 = Date.now();
  if (name === 'pglite') {
    await new Promise((r) => setTimeout(r, 6000)); // start-up (tsx) + some batches; generous on a busy machine
  } else {
    for (;;) {
      const d = await openDatabase(config);
      const j = await getJob(d, jobId).finally(() => d.close());
      if (j && j.done >= minDone) break;
      if (Date.now() - t0 > 60_000) throw new Error('worker made no progress');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
}

interface Target {
  name: string;
  env(): Promise<{ env: Record<string, string>; done(): Promise<void> }>;
}
const targets: Target[] = [
  {
    name: 'pglite',
    async env() {
      const dir = mkdtempSync(join(tmpdir(), 'veil-rot-kill-'));
      return { env: { VEIL_DATA_DIR: dir, VEIL_MASTER_KEY: MASTER }, done: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
];
if (TEST_DATABASE_URL) {
  targets.push({
    name: 'postgres',
    async env() {
      const t = await createTestDatabase(TEST_DATABASE_URL!);
      return { env: { DATABASE_URL: t.url, VEIL_DATA_DIR: '/nonexistent', VEIL_MASTER_KEY: MASTER }, done: () => t.drop() };
    },
  });
}

describe.each(targets)('rotation survives kill -9 on $name', (target) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('SIGKILL mid-job, then resume: exact progress, every value restores', async () => {
    const { env, done } = await target.env();
    cleanups.push(done);
    const config = loadConfig(env);
    const items = Array.from({ length: N }, (_, i) => ({ type: 'EMAIL' as EntityType, value: `kill.${i}@example.org` }));

    // Seed through the real vault, then close (PGlite: one process on a data dir at a time).
    let db = await openDatabase(config);
    const tenantId = 'ten_kill';
    await db.rows(sql`insert into tenants (id, name) values (${tenantId}, 'kill')`);
    let vault = createDbVault({ db, provider: createLocalProvider(fromBase64(MASTER)), timeoutMs: 20_000 });
    const tokens = await vault.tokenize(ctx(tenantId), items);
    await vault.close();
    await db.close();

    const started = await runCliCaptured(env, 'keys', 'rotate', '--tenant', tenantId, '--rows-per-second', '400', '--json');
    expect(started.code, started.err).toBe(0);
    const jobId = JSON.parse(started.out).id as string;

    // A separate worker process works the job (400 rows/s: ~7.5 s for all); kill it at ~1/3.
    await killWorkerMidJob(target.name, env, config, jobId, 800);

    db = await openDatabase(config);
    const counts = async () =>
      Object.fromEntries(
        (await db.rows<{ v: number; n: string }>(sql`select dek_version as v, count(*) as n from mappings where tenant_id = ${tenantId} group by dek_version`)).map(
          (r) => [Number(r.v), Number(r.n)],
        ),
      );
    const mid = (await getJob(db, jobId))!;
    const c = await counts();
    expect(mid.state).toBe('running');
    expect(mid.done).toBe(c[2] ?? 0); // progress is committed with the rows, never ahead or behind
    expect((c[1] ?? 0) + (c[2] ?? 0)).toBe(N);
    if (target.name === 'postgres') expect(mid.done).toBeGreaterThan(0);
    expect(mid.done).toBeLessThan(N);
    vault = createDbVault({ db, provider: createLocalProvider(fromBase64(MASTER)), timeoutMs: 20_000 });
    const back = await vault.resolve(ctx(tenantId), tokens);
    expect(tokens.filter((t, i) => back.get(t) !== items[i]!.value)).toEqual([]);
    await vault.close();
    await db.close();

    // Resume in-process (no throttle left to wait for: lift it so the test is short).
    db = await openDatabase(config);
    await db.rows(sql`update veil_jobs set rows_per_second = null, retire_after = now() where id = ${jobId}`);
    await db.close();
    const resumed = await runCliCaptured(env, 'jobs', 'run', jobId);
    expect(resumed.code, resumed.err).toBe(0);

    db = await openDatabase(config);
    try {
      expect(await getJob(db, jobId)).toMatchObject({ state: 'done', done: N, total: N });
      expect(await counts()).toEqual({ 2: N });
      const states = await db.rows<{ version: number; state: string }>(
        sql`select version, state from tenant_keys where tenant_id = ${tenantId} and kind = 'dek' order by version`,
      );
      expect(states.map((s) => [Number(s.version), s.state])).toEqual([[1, 'retired'], [2, 'primary']]);
      vault = createDbVault({ db, provider: createLocalProvider(fromBase64(MASTER)), timeoutMs: 20_000 });
      const after = await vault.resolve(ctx(tenantId), tokens);
      expect(tokens.filter((t, i) => after.get(t) !== items[i]!.value)).toEqual([]);
      await vault.close();
    } finally {
      await db.close();
    }
    const status = await runCliCaptured(env, 'jobs', 'status', '--json');
    expect(JSON.parse(status.out)).toMatchObject([{ id: jobId, state: 'done', done: N }]);
  }, 180_000);

  it('master key: SIGKILL mid-job, then resume: progress equals the keys moved, every tenant reads throughout', async () => {
    const { env, done } = await target.env();
    cleanups.push(done);
    const config = loadConfig(env);
    const switching = { ...env, VEIL_MASTER_KEY: NEW_MASTER, VEIL_MASTER_KEY_PREVIOUS: MASTER };
    const newOnly = createLocalProvider(fromBase64(NEW_MASTER));

    let db = await openDatabase(config);
    await verifyMasterKey(db, createLocalProvider(fromBase64(MASTER)));
    let vault = createDbVault({ db, provider: createLocalProvider(fromBase64(MASTER)), timeoutMs: 20_000 });
    const data: { tenantId: string; token: string; value: string }[] = [];
    for (let i = 0; i < TENANTS; i++) {
      const tenantId = `ten_mkill_${i}`;
      const value = `mkill.${i}@example.org`;
      data.push({ tenantId, value, token: (await vault.tokenize(ctx(tenantId), [{ type: 'EMAIL', value }]))[0]! });
    }
    await vault.close();
    await db.close();
    const readAll = async (provider: ReturnType<typeof createLocalProvider>) => {
      const v = createDbVault({ db, provider, timeoutMs: 20_000 });
      const wrong: string[] = [];
      for (const d of data) if ((await v.resolve(ctx(d.tenantId), [d.token as never])).get(d.token as never) !== d.value) wrong.push(d.tenantId);
      await v.close();
      return wrong;
    };

    const started = await runCliCaptured(switching, 'keys', 'rotate', '--master', '--rows-per-second', '60', '--json');
    expect(started.code, started.err).toBe(0);
    const job0 = JSON.parse(started.out);
    expect(job0).toMatchObject({ kind: 'rotate_master', total: TENANTS + 1 }); // + key check value
    await killWorkerMidJob(target.name, switching, config, job0.id, 60);

    db = await openDatabase(config);
    const mid = (await getJob(db, job0.id))!;
    const moved = await db.rows<{ n: string }>(sql`select
        (select count(*) from tenant_keys where kind = 'kek' and master_key_id = ${newOnly.keyId})
      + (select count(*) from veil_key_check where master_key_id = ${newOnly.keyId}) as n`);
    expect(mid.state).toBe('running');
    expect(mid.done).toBe(Number(moved[0]!.n)); // committed with the keys, never ahead or behind
    if (target.name === 'postgres') expect(mid.done).toBeGreaterThan(0);
    expect(mid.done).toBeLessThan(TENANTS + 1);
    expect(await readAll(createLocalProvider(fromBase64(NEW_MASTER), { previousKeys: [fromBase64(MASTER)] }))).toEqual([]);
    await db.rows(sql`update veil_jobs set rows_per_second = null where id = ${job0.id}`);
    await db.close();

    const resumed = await runCliCaptured(switching, 'jobs', 'run', job0.id);
    expect(resumed.code, resumed.err).toBe(0);
    db = await openDatabase(config);
    try {
      expect(await getJob(db, job0.id)).toMatchObject({ state: 'done', done: TENANTS + 1, total: TENANTS + 1 });
      expect(await readAll(newOnly)).toEqual([]); // the previous key is no longer needed
      expect(await verifyMasterKey(db, newOnly)).toBe('verified');
    } finally {
      await db.close();
    }
}, 180_000);

  it('KEK: SIGKILL mid-job, then resume: progress equals the keys re-wrapped, every value and token unchanged', async () => {
    const { env, done } = await target.env();
    cleanups.push(done);
    const config = loadConfig(env);
    const DEKS = 40;
    let db = await openDatabase(config);
    const tenantId = 'ten_kek_kill';
    await db.rows(sql`insert into tenants (id, name) values (${tenantId}, 'kek kill')`);
    let vault = createDbVault({ db, provider: createLocalProvider(fromBase64(MASTER)), timeoutMs: 20_000 });
    const items = Array.from({ length: 20 }, (_, i) => ({ type: 'EMAIL' as EntityType, value: `kek.kill.${i}@example.org` }));
    const tokens = await vault.tokenize(ctx(tenantId), items);
    for (let i = 1; i < DEKS; i++) await vault.keyring.rotateDek(tenantId);
    await vault.close();
    await db.close();

    const started = await runCliCaptured(env, 'keys', 'rotate', '--tenant', tenantId, '--kek', '--rows-per-second', '5', '--json');
    expect(started.code, started.err).toBe(0);
    const job0 = JSON.parse(started.out);
    expect(job0).toMatchObject({ kind: 'rotate_kek', toVersion: 2, total: DEKS });
    await killWorkerMidJob(target.name, env, config, job0.id, 10);

    db = await openDatabase(config);
    const check = async (provider = createLocalProvider(fromBase64(MASTER))) => {
      const v = createDbVault({ db, provider, timeoutMs: 20_000 });
      const back = await v.resolve(ctx(tenantId), tokens);
      expect(tokens.map((t) => back.get(t))).toEqual(items.map((i) => i.value));
      expect(await v.tokenize(ctx(tenantId), items)).toEqual(tokens); // blind key unchanged
      await v.close();
    };
    const mid = (await getJob(db, job0.id))!;
    const moved = await db.rows<{ n: string }>(sql`select count(*) as n from tenant_keys where tenant_id = ${tenantId} and kind = 'dek' and kek_version = 2`);
    expect(mid.state).toBe('running');
    expect(mid.done).toBe(Number(moved[0]!.n)); // committed with the keys, never ahead or behind
    if (target.name === 'postgres') expect(mid.done).toBeGreaterThan(0);
    expect(mid.done).toBeLessThan(DEKS);
    await check(); // DEKs under KEK v1 and v2
    await db.rows(sql`update veil_jobs set rows_per_second = null where id = ${job0.id}`);
    await db.close();

    const resumed = await runCliCaptured(env, 'jobs', 'run', job0.id);
    expect(resumed.code, resumed.err).toBe(0);
    db = await openDatabase(config);
    try {
      expect(await getJob(db, job0.id)).toMatchObject({ state: 'done', done: DEKS, total: DEKS });
      const keks = await db.rows<{ version: number; state: string }>(sql`select version, state from tenant_keys where tenant_id = ${tenantId} and kind = 'kek' order by version`);
      expect(keks.map((k) => [Number(k.version), k.state])).toEqual([[1, 'retired'], [2, 'primary']]);
      await check();
    } finally {
      await db.close();
    }
}, 180_000);
});
