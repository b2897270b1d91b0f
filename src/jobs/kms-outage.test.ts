/**
 * KMS down in the middle of a rotation job (DEK, and KEK): the real AWS KMS provider (@aws-sdk/client-kms over
 * real HTTP) against the loopback KMS server (test/fakes/kms-server.ts — the one allowed fake),
 * real PGlite, the real vault. The runner's keys expire after every batch, so every batch needs
 * KMS. While the key is disabled, batches fail without writing anything and the runner backs off;
 * once KMS is back the job finishes, every value restores, and the logs hold no value.
 */
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import type { EntityType, Logger } from '../core/types.js';
import { getJob, startDekRotation } from './rotate.js';
import { runKekBatch, startKekRotation } from './kek.js';
import { createJobRunner } from './runner.js';
import { createDbVault } from '../vault/db-vault.js';
import { ctx } from '../../test/helpers/db.js';
import { recordingLogger, useKmsAndPglite } from '../../test/helpers/jobs-kms.js';

const f = useKmsAndPglite();

it('waits and retries through a KMS outage mid-job, writes nothing meanwhile, then finishes', async () => {
  const { kms, h } = f;
  const keyId = kms.createKey();
  const provider = () => f.provider(keyId);
  const t = 'ten_kms_outage';
  await h.db.rows(sql`insert into tenants (id, name) values (${t}, ${t})`);
  const items = Array.from({ length: 500 }, (_, i) => ({ type: 'EMAIL' as EntityType, value: `outage.${i}@example.net` }));
  const seed = createDbVault({ db: h.db, provider: provider(), timeoutMs: 5000 });
  const tokens = await seed.tokenize(ctx(t), items);
  const job = await startDekRotation({ db: h.db, keyring: seed.keyring, tenantId: t, settleMs: 0 });

  const { lines, logger } = recordingLogger();
  // Keys cached for 1 ms: every batch unwraps the tenant KEK through KMS again.
  const worker = createDbVault({ db: h.db, provider: provider(), timeoutMs: 5000, keyCacheTtlMs: 1 });
  let done = 0;
  let doneAtOutage = -1;
  let outage: Promise<void> | null = null;
  let rowsDuringOutage = -1;
  const runner = createJobRunner({
    db: h.db,
    keyring: worker.keyring,
    logger,
    batchSize: 50,
    retryMinMs: 50,
    retryMaxMs: 200,
    onBatch: (_j, n) => {
      done += n;
      if (done >= 100 && !outage) {
        kms.disableKey(keyId);
        doneAtOutage = done;
        outage = new Promise<void>((r) =>
          setTimeout(async () => {
            rowsDuringOutage = Number((await getJob(h.db, job.id))!.done);
            kms.enableKey(keyId);
            r();
          }, 1500),
        );
      }
    },
  });
  const decryptsBefore = kms.calls.Decrypt ?? 0;
  expect(await runner.runUntilIdle({ waitSettle: true })).toBe(true);
  await outage;
  expect(doneAtOutage).toBe(100);
  expect(rowsDuringOutage).toBe(100); // nothing moved while KMS was down
  const retries = lines.filter((l) => l.startsWith('key rotation batch failed; retrying'));
  expect(retries.length).toBeGreaterThan(1);
  expect((kms.calls.Decrypt ?? 0) - decryptsBefore).toBeGreaterThan(retries.length);
  expect(await getJob(h.db, job.id)).toMatchObject({ state: 'done', done: 500, total: 500 });
  const counts = await h.db.rows<{ v: number; n: string }>(sql`select dek_version as v, count(*) as n from mappings where tenant_id = ${t} group by dek_version`);
  expect(counts.map((r) => [Number(r.v), Number(r.n)])).toEqual([[2, 500]]);
  const reader = createDbVault({ db: h.db, provider: provider(), timeoutMs: 5000 });
  const back = await reader.resolve(ctx(t), tokens);
  expect(tokens.filter((x, i) => back.get(x) !== items[i]!.value)).toEqual([]);
  for (const l of lines) expect(l).not.toMatch(/@example\.net/);
  for (const v of [seed, worker, reader]) await v.close();
}, 60_000);

it('KEK rotation: waits and retries through a KMS outage mid-job, writes nothing meanwhile, then finishes', async () => {
  const { kms, h } = f;
  const keyId = kms.createKey();
  const provider = () => f.provider(keyId);
  const t = 'ten_kms_outage_kek';
  await h.db.rows(sql`insert into tenants (id, name) values (${t}, ${t})`);
  const items = Array.from({ length: 30 }, (_, i) => ({ type: 'EMAIL' as EntityType, value: `kek.outage.${i}@example.net` }));
  const seed = createDbVault({ db: h.db, provider: provider(), timeoutMs: 5000 });
  const tokens = await seed.tokenize(ctx(t), items);
  for (let i = 0; i < 9; i++) await seed.keyring.rotateDek(t); // 10 DEKs to re-wrap
  const job = await startKekRotation({ db: h.db, keyring: seed.keyring, provider: provider(), tenantId: t });
  expect(job.total).toBe(10);
  // Keys cached for 1 ms: every batch unwraps both KEKs through KMS again.
  const worker = createDbVault({ db: h.db, provider: provider(), timeoutMs: 5000, keyCacheTtlMs: 1 });
  expect(await runKekBatch(h.db, worker.keyring, job, { batchSize: 3 })).toBe(3);
  kms.disableKey(keyId);
  const lines: string[] = [];
  const logger: Logger = { debug() {}, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };
  const running = createJobRunner({ db: h.db, keyring: worker.keyring, logger, batchSize: 3, retryMinMs: 50, retryMaxMs: 200 }).runUntilIdle({ waitSettle: true });
  await new Promise((r) => setTimeout(r, 1500));
  expect((await getJob(h.db, job.id))!.done).toBe(3); // nothing moved while KMS was down
  expect(lines.filter((l) => l === 'key rotation batch failed; retrying').length).toBeGreaterThan(0);
  kms.enableKey(keyId);
  expect(await running).toBe(true);
  expect(await getJob(h.db, job.id)).toMatchObject({ state: 'done', done: 10, total: 10 });
  const reader = createDbVault({ db: h.db, provider: provider(), timeoutMs: 5000 });
  const back = await reader.resolve(ctx(t), tokens);
  expect(tokens.filter((x, i) => back.get(x) !== items[i]!.value)).toEqual([]);
  expect(await reader.tokenize(ctx(t), items)).toEqual(tokens); // blind key unchanged
  for (const v of [seed, worker, reader]) await v.close();
}, 60_000);
