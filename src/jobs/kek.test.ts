/**
 * KEK rotation (src/jobs/kek.ts) on real PGlite and (with TEST_DATABASE_URL) real PostgreSQL,
 * with the real local master-key provider, the real vault and the real runner. No fakes.
 * What must hold: the blind-index key survives (same value → same token, no mapping row
 * rewritten), every DEK ends up wrapped by the new KEK, reads of keys under both KEK versions
 * work throughout, new DEKs are wrapped by the new KEK at once, and the old KEK is retired.
 */
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EntityType } from '../core/types.js';
import { finishKekRotation, keysBelowKek, runKekBatch, startKekRotation } from './kek.js';
import { getJob, JobError } from './rotate.js';
import { createJobRunner } from './runner.js';
import { randomBytes } from '../keys/crypto.js';
import { createLocalProvider } from '../keys/local.js';
import type { MasterKeyProvider } from '../keys/provider.js';
import { createDbVault } from '../vault/db-vault.js';
import { ctx, DRIVERS, useVaultHarness } from '../../test/helpers/db.js';

const values = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ type: 'EMAIL' as EntityType, value: `${prefix}.${i}@example.com` }));

describe.each(DRIVERS)('KEK rotation on $name', (driver) => {
  const f = useVaultHarness(driver);
  let provider: MasterKeyProvider;
  const mk = () => {
    const v = createDbVault({ db: f.h.db, provider, timeoutMs: 5000, dekReserveBatch: 8 });
    f.track(v);
    return v;
  };
  let tn = 0;
  const tenant = async () => {
    const id = `ten_kek_${++tn}_${Date.now()}`;
    await f.h.db.rows(sql`insert into tenants (id, name) values (${id}, ${id})`);
    return id;
  };
  const keyStates = async (t: string) =>
    (await f.h.db.rows<{ kind: string; version: number; state: string; kek_version: number | null }>(
      sql`select kind, version, state, kek_version from tenant_keys where tenant_id = ${t} order by kind, version`,
    )).map((r) => `${r.kind}${r.version}:${r.state}${r.kind === 'kek' ? '' : `@${r.kek_version ?? 1}`}`);
  const blinds = async (t: string) =>
    (await f.h.db.rows<{ token: string; blind_index: Uint8Array }>(sql`select token, blind_index from mappings where tenant_id = ${t} order by token`)).map(
      (r) => `${r.token}=${Buffer.from(r.blind_index).toString('hex')}`,
    );

  beforeAll(async () => {
    provider = createLocalProvider(randomBytes(32));
  });

  it('new KEK at once, blind key frozen (same value → same token), DEKs re-wrapped, both KEK versions read meanwhile, old KEK retired', async () => {
    const t = await tenant();
    const v = mk();
    const oldItems = values('kek-old', 20);
    const oldTokens = await v.tokenize(ctx(t), oldItems);
    await v.keyring.rotateDek(t); // a second DEK, so the job has several keys to move
    const midItems = values('kek-mid', 5);
    const midTokens = await v.tokenize(ctx(t), midItems);
    const blindBefore = await blinds(t);
    expect(await keyStates(t)).toEqual(['dek1:active@1', 'dek2:primary@1', 'kek1:primary']);

    const job = await startKekRotation({ db: f.h.db, keyring: v.keyring, provider, tenantId: t });
    expect(job).toMatchObject({ kind: 'rotate_kek', tenantId: t, toVersion: 2, total: 2, done: 0, state: 'running' }); // the 2 DEKs (the blind key is frozen under KEK v2)
    expect(await keyStates(t)).toEqual(['blind1:primary@2', 'dek1:active@1', 'dek2:primary@1', 'kek1:active', 'kek2:primary']);
    await expect(startKekRotation({ db: f.h.db, keyring: v.keyring, provider, tenantId: t })).rejects.toBeInstanceOf(JobError);

    // One key moved: keys under KEK v1 and v2 side by side. A fresh vault (no cached keys) reads
    // every value and gives known values their old token (the blind key did not change).
    expect(await runKekBatch(f.h.db, v.keyring, job, { batchSize: 1 })).toBe(1);
    expect(await keysBelowKek(f.h.db, t, 2)).toBe(1);
    const reader = mk();
    const mid = await reader.resolve(ctx(t), [...oldTokens, ...midTokens]);
    expect([...oldTokens, ...midTokens].map((x) => mid.get(x))).toEqual([...oldItems, ...midItems].map((i) => i.value));
    expect(await mk().tokenize(ctx(t), oldItems.slice(0, 3))).toEqual(oldTokens.slice(0, 3));

    // A DEK rolled during the job is wrapped by the new KEK at once, even by a process that had KEK v1 cached.
    await v.keyring.rotateDek(t);
    expect((await keyStates(t)).filter((k) => k.startsWith('dek3'))).toEqual(['dek3:primary@2']);
    const newItems = values('kek-new', 4);
    const newTokens = await v.tokenize(ctx(t), newItems);

    const batches: number[] = [];
    expect(await createJobRunner({ db: f.h.db, keyring: v.keyring, provider, onBatch: (_, n) => batches.push(n) }).runUntilIdle({ waitSettle: true })).toBe(true);
    expect(batches).toEqual([1, 0]);
    expect(await getJob(f.h.db, job.id)).toMatchObject({ state: 'done', done: 2, total: 2 });
    expect(await keyStates(t)).toEqual(['blind1:primary@2', 'dek1:active@2', 'dek2:active@2', 'dek3:primary@2', 'kek1:retired', 'kek2:primary']);
    expect((await blinds(t)).filter((b) => blindBefore.includes(b))).toEqual(blindBefore); // no mapping row rewritten
    const fresh = mk();
    const all = [...oldTokens, ...midTokens, ...newTokens];
    const back = await fresh.resolve(ctx(t), all);
    expect(all.map((x) => back.get(x))).toEqual([...oldItems, ...midItems, ...newItems].map((i) => i.value));
    expect(await fresh.tokenize(ctx(t), [...oldItems, ...newItems])).toEqual([...oldTokens, ...newTokens]);

    // A second KEK rotation re-wraps the frozen blind key too; tokens still stable.
    const job2 = await startKekRotation({ db: f.h.db, keyring: fresh.keyring, provider, tenantId: t });
    expect(job2).toMatchObject({ toVersion: 3, total: 4 }); // 3 DEKs + the blind key
    expect(await createJobRunner({ db: f.h.db, keyring: fresh.keyring, provider }).runUntilIdle({ waitSettle: true })).toBe(true);
    expect(await keyStates(t)).toEqual(['blind1:primary@3', 'dek1:active@3', 'dek2:active@3', 'dek3:primary@3', 'kek1:retired', 'kek2:retired', 'kek3:primary']);
    expect(await mk().tokenize(ctx(t), oldItems)).toEqual(oldTokens);
  });

  it('a repeated batch is a no-op; a tampered wrapped DEK fails the job and is left as it was', async () => {
    const t = await tenant();
    const v = mk();
    await v.tokenize(ctx(t), values('kek-rep', 3));
    const job = await startKekRotation({ db: f.h.db, keyring: v.keyring, provider, tenantId: t });
    expect(await runKekBatch(f.h.db, v.keyring, job, { batchSize: 10 })).toBe(1); // the DEK
    expect(await runKekBatch(f.h.db, v.keyring, job, { batchSize: 10 })).toBe(0);
    expect(await finishKekRotation(f.h.db, job)).toBe('done');
    expect(await getJob(f.h.db, job.id)).toMatchObject({ state: 'done', done: 1 });

    const t2 = await tenant();
    await v.tokenize(ctx(t2), values('kek-bad', 3));
    await f.h.db.rows(sql`update tenant_keys set wrapped = set_byte(wrapped, 20, get_byte(wrapped, 20) # 1) where tenant_id = ${t2} and kind = 'dek'`);
    const tampered = await f.h.db.rows<{ w: Uint8Array }>(sql`select wrapped as w from tenant_keys where tenant_id = ${t2} and kind = 'dek'`);
    const bad = await startKekRotation({ db: f.h.db, keyring: v.keyring, provider, tenantId: t2 });
    expect(await createJobRunner({ db: f.h.db, keyring: v.keyring, provider }).runUntilIdle({ waitSettle: true })).toBe(true);
    expect(await getJob(f.h.db, bad.id)).toMatchObject({ state: 'failed' });
    const after = await f.h.db.rows<{ w: Uint8Array; k: number | null }>(sql`select wrapped as w, kek_version as k from tenant_keys where tenant_id = ${t2} and kind = 'dek'`);
    expect(Buffer.from(after[0]!.w).equals(Buffer.from(tampered[0]!.w))).toBe(true);
    expect(after[0]!.k).toBe(1);
  });

  it.skipIf(driver.name !== 'postgres')('two runners on separate connections share the job: every key re-wrapped exactly once', async () => {
    const t = await tenant();
    const v = mk();
    const items = values('kek-two', 10);
    const tokens = await v.tokenize(ctx(t), items);
    for (let i = 0; i < 39; i++) await v.keyring.rotateDek(t); // 40 DEKs
    const job = await startKekRotation({ db: f.h.db, keyring: v.keyring, provider, tenantId: t });
    expect(job.total).toBe(40);
    const db2 = await f.h.reopen();
    const v2 = createDbVault({ db: db2, provider, timeoutMs: 5000 });
    f.track(v2);
    const counts = [0, 0];
    await Promise.all([
      createJobRunner({ db: f.h.db, keyring: v.keyring, provider, batchSize: 2, onBatch: (_, n) => (counts[0]! += n) }).runUntilIdle({ waitSettle: true }),
      createJobRunner({ db: db2, keyring: v2.keyring, provider, batchSize: 2, onBatch: (_, n) => (counts[1]! += n) }).runUntilIdle({ waitSettle: true }),
    ]);
    expect(counts[0]! + counts[1]!).toBe(40);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
    expect(await getJob(f.h.db, job.id)).toMatchObject({ state: 'done', done: 40 });
    const back = await mk().resolve(ctx(t), tokens);
    expect(tokens.map((x) => back.get(x))).toEqual(items.map((i) => i.value));
  });
});
