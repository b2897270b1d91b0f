/**
 * Master-key rotation (src/jobs/master.ts) on real PGlite and (with TEST_DATABASE_URL) real
 * PostgreSQL, with the real local master-key provider, the real vault, the real audit store and
 * the real start-up key check. No fakes.
 */
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { EntityType } from '../core/types.js';
import { createAuditStore } from '../audit/store.js';
import { finishMasterRotation, keysNotUnder, runMasterBatch, startMasterRotation } from './master.js';
import { getJob, JobError } from './rotate.js';
import { createJobRunner } from './runner.js';
import { randomBytes } from '../keys/crypto.js';
import { MasterKeyMismatchError, verifyMasterKey } from '../keys/key-check.js';
import { createLocalProvider } from '../keys/local.js';
import { createDbVault } from '../vault/db-vault.js';
import type { Token } from '../vault/types.js';
import type { MasterKeyProvider } from '../keys/provider.js';
import { ctx, DRIVERS, useVaultHarness } from '../../test/helpers/db.js';

describe.each(DRIVERS)('master-key rotation on $name', (driver) => {
  const f = useVaultHarness(driver);
  const vault = (provider: MasterKeyProvider) => {
    const v = createDbVault({ db: f.h.db, provider, timeoutMs: 10_000 });
    f.track(v);
    return v;
  };
  let round = 0;

  /** An empty store for each test: each test has its own master keys (the key check value is one row). */
  async function fresh() {
    for (const t of ['veil_jobs', 'tenants', 'veil_key_check', 'audit_keys', 'audit_events', 'audit_heads', 'audit_checkpoints']) {
      await f.h.db.rows(sql`delete from ${sql.identifier(t)}`);
    }
  }

  /** Tenants with values under master key `oldKey` (the key check and audit root too). */
  async function seed(oldKey: Uint8Array, tenants: number, perTenant = 3) {
    round++;
    const old = createLocalProvider(oldKey);
    await verifyMasterKey(f.h.db, old);
    const v = vault(old);
    const data: { tenantId: string; tokens: Token[]; values: string[] }[] = [];
    for (let i = 0; i < tenants; i++) {
      const tenantId = `ten_master_${round}_${i}`;
      const items = Array.from({ length: perTenant }, (_, j) => ({ type: 'EMAIL' as EntityType, value: `m${round}.${i}.${j}@example.org` }));
      data.push({ tenantId, tokens: await v.tokenize(ctx(tenantId), items), values: items.map((x) => x.value) });
    }
    const audit = createAuditStore({ db: f.h.db, provider: old });
    await audit.append(data[0]!.tenantId, [{ kind: 'rotation', tenantId: data[0]!.tenantId, detail: { phase: 'seed' } }]);
    return { data, audit };
  }

  async function expectReadable(provider: MasterKeyProvider, data: { tenantId: string; tokens: Token[]; values: string[] }[]) {
    const v = vault(provider); // fresh: no cached keys
    for (const d of data) {
      const back = await v.resolve(ctx(d.tenantId), d.tokens);
      expect(d.tokens.map((t) => back.get(t))).toEqual(d.values);
    }
  }

  it('re-wraps every KEK, the audit root key and the key check value; both masters read during the job, only the new one after', async () => {
    await fresh();
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const { data, audit } = await seed(oldKey, 6);
    const before = await f.h.db.rows<{ tenant_id: string; wrapped: Uint8Array }>(sql`select tenant_id, wrapped from tenant_keys where kind = 'kek' order by tenant_id`);

    const switching = createLocalProvider(newKey, { previousKeys: [oldKey] });
    expect(switching.previousKeyIds).toEqual([createLocalProvider(oldKey).keyId]);
    const job = await startMasterRotation({ db: f.h.db, provider: switching, audit });
    const total = before.length + 2; // + audit root + key check
    expect(job).toMatchObject({ kind: 'rotate_master', tenantId: null, target: switching.keyId, state: 'running', total, done: 0 });
    await expect(startMasterRotation({ db: f.h.db, provider: switching })).rejects.toBeInstanceOf(JobError);

    expect(await runMasterBatch(f.h.db, switching, job, { batchSize: 3 })).toBe(3);
    expect(await keysNotUnder(f.h.db, switching.keyId)).toBe(total - 3);
    // Mid-job: KEKs under both master keys; a process holding both reads every tenant.
    await expectReadable(switching, data);
    // A process with only the old key cannot read what was re-wrapped (so the rows really changed).
    const oldOnly = vault(createLocalProvider(oldKey));
    const moved = await f.h.db.rows<{ tenant_id: string }>(sql`select tenant_id from tenant_keys where kind = 'kek' and master_key_id = ${switching.keyId} limit 1`);
    const d = data.find((x) => x.tenantId === moved[0]!.tenant_id)!;
    await expect(oldOnly.resolve(ctx(d.tenantId), d.tokens)).rejects.toThrow();

    const batches: number[] = [];
    expect(await createJobRunner({ db: f.h.db, keyring: vault(switching).keyring, provider: switching, audit, batchSize: 4, onBatch: (_, n) => batches.push(n) }).runUntilIdle({ waitSettle: true })).toBe(true);
    expect(batches).toEqual([5, 0]); // 3 KEKs left (< 4), then the audit root key and the key check value in the same batch
    expect(await getJob(f.h.db, job.id)).toMatchObject({ state: 'done', done: total, total });
    expect(await keysNotUnder(f.h.db, switching.keyId)).toBe(0);
    const after = await f.h.db.rows<{ tenant_id: string; wrapped: Uint8Array }>(sql`select tenant_id, wrapped from tenant_keys where kind = 'kek' order by tenant_id`);
    expect(after.map((r) => r.tenant_id)).toEqual(before.map((r) => r.tenant_id));
    after.forEach((r, i) => expect(Buffer.from(r.wrapped).equals(Buffer.from(before[i]!.wrapped))).toBe(false));

    // After the job the previous key can go: the new key alone reads, starts and verifies the audit chain.
    const newOnly = createLocalProvider(newKey);
    await expectReadable(newOnly, data);
    expect(await verifyMasterKey(f.h.db, newOnly)).toBe('verified');
    await expect(verifyMasterKey(f.h.db, createLocalProvider(oldKey))).rejects.toBeInstanceOf(MasterKeyMismatchError);
    const audited = createAuditStore({ db: f.h.db, provider: newOnly });
    expect(await audited.verify(data[0]!.tenantId)).toMatchObject({ ok: true, events: 1 });
    const system = [];
    for await (const e of audited.events('_system')) system.push(JSON.parse(e.body));
    expect(system.filter((e) => e.detail?.level === 'master').map((e) => [e.detail.phase, e.detail.rows])).toEqual([
      ['started', total],
      ['finished', total],
    ]);
    expect((await audited.verify('_system')).ok).toBe(true);
  });

  it('a repeated or late batch is a no-op; a process with another master key leaves the job alone', async () => {
    await fresh();
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    await seed(oldKey, 2);
    const switching = createLocalProvider(newKey, { previousKeys: [oldKey] });
    const job = await startMasterRotation({ db: f.h.db, provider: switching });
    // A gateway still on the old key (not yet restarted) polls: it must not touch the job.
    const stale = createLocalProvider(oldKey);
    expect(await createJobRunner({ db: f.h.db, keyring: vault(stale).keyring, provider: stale }).runUntilIdle({ waitSettle: true })).toBe(true);
    expect(await getJob(f.h.db, job.id)).toMatchObject({ state: 'running', done: 0 });
    await expect(runMasterBatch(f.h.db, stale, job)).rejects.toBeInstanceOf(JobError);

    const remaining = await keysNotUnder(f.h.db, switching.keyId);
    expect(await runMasterBatch(f.h.db, switching, job, { batchSize: 100 })).toBe(remaining);
    expect(await runMasterBatch(f.h.db, switching, job, { batchSize: 100 })).toBe(0);
    expect(await finishMasterRotation(f.h.db, job)).toBe('done');
    expect(await getJob(f.h.db, job.id)).toMatchObject({ state: 'done', done: remaining });
  });

  it('without the previous master key the job fails and writes nothing', async () => {
    await fresh();
    const oldKey = randomBytes(32);
    await seed(oldKey, 2);
    const forgot = createLocalProvider(randomBytes(32)); // VEIL_MASTER_KEY_PREVIOUS not set
    const job = await startMasterRotation({ db: f.h.db, provider: forgot });
    const left = await keysNotUnder(f.h.db, forgot.keyId);
    expect(await createJobRunner({ db: f.h.db, keyring: vault(forgot).keyring, provider: forgot }).runUntilIdle({ waitSettle: true })).toBe(true);
    const end = await getJob(f.h.db, job.id);
    expect(end).toMatchObject({ state: 'failed', done: 0 });
    expect(end!.error).toMatch(/VEIL_MASTER_KEY_PREVIOUS/);
    expect(await keysNotUnder(f.h.db, forgot.keyId)).toBe(left);
  });

  it.skipIf(driver.name !== 'postgres')('two runners on separate connections share the job: every key re-wrapped exactly once', async () => {
    await fresh();
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const { data } = await seed(oldKey, 120, 1);
    const switching = createLocalProvider(newKey, { previousKeys: [oldKey] });
    const job = await startMasterRotation({ db: f.h.db, provider: switching });
    const db2 = await f.h.reopen();
    const v2 = createDbVault({ db: db2, provider: switching, timeoutMs: 10_000 });
    f.track(v2);
    const counts = [0, 0];
    await Promise.all([
      createJobRunner({ db: f.h.db, keyring: vault(switching).keyring, provider: switching, batchSize: 10, onBatch: (_, n) => (counts[0]! += n) }).runUntilIdle({ waitSettle: true }),
      createJobRunner({ db: db2, keyring: v2.keyring, provider: switching, batchSize: 10, onBatch: (_, n) => (counts[1]! += n) }).runUntilIdle({ waitSettle: true }),
    ]);
    expect(counts[0]! + counts[1]!).toBe(job.total);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
    expect(await getJob(f.h.db, job.id)).toMatchObject({ state: 'done', done: job.total });
    await expectReadable(createLocalProvider(newKey), data);
  });
});
