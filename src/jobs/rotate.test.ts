/**
 * DEK rotation with background re-encryption (src/jobs/) on real PGlite and (with
 * TEST_DATABASE_URL) real PostgreSQL, the real local master-key provider and the real vault.
 * No fakes.
 */
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EntityType } from '../core/types.js';
import { getJob, JobError, runDekBatch, setJobState, startDekRotation, type Job } from './rotate.js';
import { createJobRunner } from './runner.js';
import { randomBytes } from '../keys/crypto.js';
import { createLocalProvider } from '../keys/local.js';
import { createDbVault } from '../vault/db-vault.js';
import type { Token } from '../vault/types.js';
import { ctx, DRIVERS, useVaultHarness } from '../../test/helpers/db.js';
import { createAuditStore } from '../audit/store.js';

const values = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ type: 'EMAIL' as EntityType, value: `${prefix}.${i}@example.com` }));

describe.each(DRIVERS)('DEK rotation on $name', (driver) => {
  const f = useVaultHarness(driver);
  let master: Uint8Array;
  const mk = () => {
    const v = createDbVault({ db: f.h.db, provider: createLocalProvider(master), timeoutMs: 5000, dekReserveBatch: 16 });
    f.track(v);
    return v;
  };
  let tn = 0;
  const tenant = async () => {
    const id = `ten_rot_${++tn}_${Date.now()}`;
    await f.h.db.rows(sql`insert into tenants (id, name) values (${id}, ${id})`);
    return id;
  };
  const versions = async (tenantId: string) =>
    (await f.h.db.rows<{ v: number; n: string }>(
      sql`select dek_version as v, count(*) as n from mappings where tenant_id = ${tenantId} group by dek_version order by dek_version`,
    )).map((r) => [Number(r.v), Number(r.n)]);
  const dekStates = async (tenantId: string) =>
    (await f.h.db.rows<{ version: number; state: string }>(
      sql`select version, state from tenant_keys where tenant_id = ${tenantId} and kind = 'dek' order by version`,
    )).map((r) => [Number(r.version), r.state]);

  beforeAll(async () => {
    master = randomBytes(32);
  });

  it('new writes use the new DEK at once, both versions read, the job re-encrypts every row and retires the old DEK', async () => {
    const t = await tenant();
    const v = mk();
    const oldItems = values('old', 230);
    const oldTokens = await v.tokenize(ctx(t), oldItems);
    expect(await versions(t)).toEqual([[1, 230]]);

    const audit = createAuditStore({ db: f.h.db, provider: createLocalProvider(master) });
    const job = await startDekRotation({ db: f.h.db, keyring: v.keyring, tenantId: t, settleMs: 0, audit });
    expect(job).toMatchObject({ tenantId: t, state: 'running', toVersion: 2, total: 230, done: 0 });
    expect(await dekStates(t)).toEqual([[1, 'active'], [2, 'primary']]);

    const newItems = values('new', 5);
    const newTokens = await v.tokenize(ctx(t), newItems);
    expect(await versions(t)).toEqual([[1, 230], [2, 5]]);
    // Reads of both versions during the rotation, by a fresh vault (no cached keys).
    const reader = mk();
    const mid = await reader.resolve(ctx(t), [...oldTokens, ...newTokens]);
    expect(oldTokens.map((x) => mid.get(x))).toEqual(oldItems.map((i) => i.value));
    expect(newTokens.map((x) => mid.get(x))).toEqual(newItems.map((i) => i.value));

    const batches: number[] = [];
    const runner = createJobRunner({ db: f.h.db, keyring: v.keyring, audit, batchSize: 50, onBatch: (_, n) => batches.push(n) });
    expect(await runner.runUntilIdle({ waitSettle: true })).toBe(true);
    expect(batches).toEqual([50, 50, 50, 50, 30, 0]);
    expect(await versions(t)).toEqual([[2, 235]]);
    expect(await dekStates(t)).toEqual([[1, 'retired'], [2, 'primary']]);
    expect(await getJob(f.h.db, job.id)).toMatchObject({ state: 'done', done: 230, total: 230 });
    // One audit event when it started and one when it finished, with counts (no values).
    const events = [];
    for await (const e of audit.events(t)) { const b = JSON.parse(e.body) as { kind: string; detail: Record<string, unknown> }; events.push({ kind: b.kind, detail: b.detail }); };
    expect(events).toMatchObject([
      { kind: 'rotation', detail: { phase: 'started', level: 'dek', job_id: job.id, to_version: 2, rows: 230 } },
      { kind: 'rotation', detail: { phase: 'finished', level: 'dek', job_id: job.id, to_version: 2, rows: 230, retired_versions: '1' } },
    ]);

    const after = await mk().resolve(ctx(t), [...oldTokens, ...newTokens]);
    expect([...oldTokens, ...newTokens].map((x) => after.get(x))).toEqual([...oldItems, ...newItems].map((i) => i.value));
    // Tokenizing the same values again returns the same tokens (blind indexes untouched).
    expect(await mk().tokenize(ctx(t), oldItems)).toEqual(oldTokens);

    // A second rotation goes 2 → 3 and retires 2.
    const again = await startDekRotation({ db: f.h.db, keyring: v.keyring, tenantId: t, settleMs: 0 });
    expect(again).toMatchObject({ toVersion: 3, total: 235 });
    await createJobRunner({ db: f.h.db, keyring: mk().keyring }).runUntilIdle({ waitSettle: true });
    expect(await versions(t)).toEqual([[3, 235]]);
    expect(await dekStates(t)).toEqual([[1, 'retired'], [2, 'retired'], [3, 'primary']]);
  });

  it('a repeated batch is a no-op: the UPDATE is guarded by the old version and progress counts only rows moved', async () => {
    const t = await tenant();
    const v = mk();
    const items = values('rep', 40);
    const tokens = await v.tokenize(ctx(t), items);
    const job = await startDekRotation({ db: f.h.db, keyring: v.keyring, tenantId: t, settleMs: 0 });
    expect(await runDekBatch(f.h.db, v.keyring, job, { batchSize: 100 })).toBe(40);
    expect(await runDekBatch(f.h.db, v.keyring, job, { batchSize: 100 })).toBe(0);
    expect((await getJob(f.h.db, job.id))!.done).toBe(40);
    const back = await mk().resolve(ctx(t), tokens);
    expect(tokens.map((x) => back.get(x))).toEqual(items.map((i) => i.value));
  });

  it('pause stops the job between batches (a batch racing the pause is rolled back), resume finishes it, cancel leaves every row readable', async () => {
    const t = await tenant();
    const v = mk();
    const items = values('pause', 120);
    const tokens = await v.tokenize(ctx(t), items);
    const job = await startDekRotation({ db: f.h.db, keyring: v.keyring, tenantId: t, settleMs: 0 });
    let seen = 0;
    const runner = createJobRunner({
      db: f.h.db,
      keyring: v.keyring,
      batchSize: 30,
      onBatch: (_j: Job, n: number) => {
        seen += n;
      },
    });
    // Paused before the first batch commits: the batch's progress update finds the job paused and rolls back.
    await setJobState(f.h.db, job.id, 'pause');
    expect(await runner.runUntilIdle()).toBe(true);
    expect(seen).toBe(0);
    expect(await runDekBatch(f.h.db, v.keyring, (await getJob(f.h.db, job.id))!, { batchSize: 30 })).toBe(0);
    expect(await versions(t)).toEqual([[1, 120]]);
    await expect(setJobState(f.h.db, job.id, 'pause')).rejects.toThrow(JobError);
    await expect(startDekRotation({ db: f.h.db, keyring: v.keyring, tenantId: t, settleMs: 0 })).rejects.toThrow(/already has a rotation/);

    await setJobState(f.h.db, job.id, 'resume');
    expect(await runDekBatch(f.h.db, v.keyring, (await getJob(f.h.db, job.id))!, { batchSize: 30 })).toBe(30);
    await setJobState(f.h.db, job.id, 'cancel');
    expect(await runner.runUntilIdle()).toBe(true);
    expect(await versions(t)).toEqual([[1, 90], [2, 30]]);
    expect(await getJob(f.h.db, job.id)).toMatchObject({ state: 'cancelled', done: 30 });
    const back = await mk().resolve(ctx(t), tokens);
    expect(tokens.map((x) => back.get(x))).toEqual(items.map((i) => i.value));
    // A new rotation after a cancel takes every row (both older versions) to version 3.
    const next = await startDekRotation({ db: f.h.db, keyring: v.keyring, tenantId: t, settleMs: 0 });
    expect(next).toMatchObject({ toVersion: 3, total: 120 });
    await createJobRunner({ db: f.h.db, keyring: v.keyring }).runUntilIdle({ waitSettle: true });
    expect(await versions(t)).toEqual([[3, 120]]);
    expect(await dekStates(t)).toEqual([[1, 'retired'], [2, 'retired'], [3, 'primary']]);
  });

  it('keeps the old DEK until the settle window has passed', async () => {
    const t = await tenant();
    const v = mk();
    await v.tokenize(ctx(t), values('settle', 10));
    const job = await startDekRotation({ db: f.h.db, keyring: v.keyring, tenantId: t, settleMs: 60_000 });
    expect(await createJobRunner({ db: f.h.db, keyring: v.keyring }).runUntilIdle()).toBe(true);
    expect(await versions(t)).toEqual([[2, 10]]);
    expect(await dekStates(t)).toEqual([[1, 'active'], [2, 'primary']]);
    expect((await getJob(f.h.db, job.id))!.state).toBe('running');
    await f.h.db.rows(sql`update veil_jobs set retire_after = now() where id = ${job.id}`);
    await createJobRunner({ db: f.h.db, keyring: v.keyring }).runUntilIdle();
    expect(await dekStates(t)).toEqual([[1, 'retired'], [2, 'primary']]);
  });

  it('a value that fails authentication fails the job without touching other rows; the row stays as it was', async () => {
    const t = await tenant();
    const v = mk();
    const items = values('tamper', 20);
    const tokens = await v.tokenize(ctx(t), items);
    await f.h.db.rows(sql`update mappings set ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1) where tenant_id = ${t} and token = ${tokens[7]!}`);
    const job = await startDekRotation({ db: f.h.db, keyring: v.keyring, tenantId: t, settleMs: 0 });
    await createJobRunner({ db: f.h.db, keyring: v.keyring, batchSize: 100 }).runUntilIdle();
    expect(await getJob(f.h.db, job.id)).toMatchObject({ state: 'failed', done: 0 });
    expect(await versions(t)).toEqual([[1, 20]]);
    const good = tokens.filter((_, i) => i !== 7) as Token[];
    const back = await mk().resolve(ctx(t), good);
    expect(good.map((x) => back.get(x))).toEqual(items.filter((_, i) => i !== 7).map((i) => i.value));
  });

  it('throttles to --rows-per-second', async () => {
    const t = await tenant();
    const v = mk();
    await v.tokenize(ctx(t), values('slow', 60));
    await startDekRotation({ db: f.h.db, keyring: v.keyring, tenantId: t, settleMs: 0, rowsPerSecond: 40 });
    const t0 = Date.now();
    await createJobRunner({ db: f.h.db, keyring: v.keyring }).runUntilIdle({ waitSettle: true });
    // 60 rows at 40/s: batches of 40 then 20, a 1 s pause after the first and 0.5 s after the second.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    expect(await versions(t)).toEqual([[2, 60]]);
  });

  it.skipIf(driver.name !== 'postgres')('two runners on separate connections share one job: every row moved exactly once', async () => {
    const t = await tenant();
    const v = mk();
    const items = values('two', 3000);
    const tokens = await v.tokenize(ctx(t), items);
    const job = await startDekRotation({ db: f.h.db, keyring: v.keyring, tenantId: t, settleMs: 0 });
    const db2 = await f.h.reopen();
    const v2 = createDbVault({ db: db2, provider: createLocalProvider(master), timeoutMs: 5000 });
    f.track(v2);
    const counts = [0, 0];
    await Promise.all([
      createJobRunner({ db: f.h.db, keyring: v.keyring, batchSize: 100, onBatch: (_, n) => (counts[0]! += n) }).runUntilIdle({ waitSettle: true }),
      createJobRunner({ db: db2, keyring: v2.keyring, batchSize: 100, onBatch: (_, n) => (counts[1]! += n) }).runUntilIdle({ waitSettle: true }),
    ]);
    expect(counts[0]! + counts[1]!).toBe(3000);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
    expect(await getJob(f.h.db, job.id)).toMatchObject({ state: 'done', done: 3000 });
    const enc = await f.h.db.rows<{ e: string }>(sql`select encryptions as e from tenant_keys where tenant_id = ${t} and kind = 'dek' and version = 2`);
    expect(Number(enc[0]!.e)).toBe(3000);
    const back = await mk().resolve(ctx(t), tokens);
    expect(tokens.map((x) => back.get(x))).toEqual(items.map((i) => i.value));
  });
});
