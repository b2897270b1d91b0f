/**
 * Master-key rotation to a new KMS key with the real AWS KMS provider (@aws-sdk/client-kms over
 * real HTTP) against the loopback KMS server (test/fakes/kms-server.ts — the one allowed fake),
 * real PGlite and the real vault. During the switch the provider holds the new key id and the
 * old one as VEIL_KMS_KEY_ID_PREVIOUS: every tenant reads. The new key is disabled mid-job: the
 * batches fail without writing, the runner retries, and the job finishes once KMS is back.
 * Afterwards the new key alone reads everything.
 */
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import type { EntityType } from '../core/types.js';
import { keysNotUnder, runMasterBatch, startMasterRotation } from './master.js';
import { getJob } from './rotate.js';
import { createJobRunner } from './runner.js';
import { verifyMasterKey } from '../keys/key-check.js';
import { createDbVault } from '../vault/db-vault.js';
import type { Token } from '../vault/types.js';
import { ctx } from '../../test/helpers/db.js';
import { recordingLogger, useKmsAndPglite } from '../../test/helpers/jobs-kms.js';

const f = useKmsAndPglite();

it('re-wraps every KEK under the new KMS key, reads both meanwhile, waits out an outage of the new key', async () => {
  const { kms, h, provider } = f;
  const oldId = kms.createKey();
  const newId = kms.createKey();
  const old = provider(oldId);
  await verifyMasterKey(h.db, old);
  const seedVault = createDbVault({ db: h.db, provider: old, timeoutMs: 5000 });
  const data: { tenantId: string; tokens: Token[]; values: string[] }[] = [];
  for (let i = 0; i < 40; i++) {
    const tenantId = `ten_kms_master_${i}`;
    const items = [{ type: 'EMAIL' as EntityType, value: `kms.master.${i}@example.net` }];
    data.push({ tenantId, tokens: await seedVault.tokenize(ctx(tenantId), items), values: items.map((x) => x.value) });
  }
  await seedVault.close();

  const switching = provider(newId, [oldId]);
  const job = await startMasterRotation({ db: h.db, provider: switching });
  expect(job.total).toBe(41); // 40 KEKs + the key check value (no audit root yet)

  const { lines, logger } = recordingLogger();
  const reads: string[] = [];
  const readAll = async () => {
    const v = createDbVault({ db: h.db, provider: switching, timeoutMs: 5000 }); // no cached keys
    for (const d of data) {
      const back = await v.resolve(ctx(d.tenantId), d.tokens);
      if (back.get(d.tokens[0]!) !== d.values[0]) reads.push(d.tenantId);
    }
    await v.close();
  };
  const worker = createDbVault({ db: h.db, provider: switching, timeoutMs: 5000 });
  expect(await runMasterBatch(h.db, switching, job, { batchSize: 10 })).toBe(10);
  expect(await runMasterBatch(h.db, switching, job, { batchSize: 10 })).toBe(10);
  await readAll(); // mid-job: KEKs under both KMS keys

  kms.disableKey(newId);
  const runner = createJobRunner({ db: h.db, keyring: worker.keyring, provider: switching, logger, batchSize: 10, retryMinMs: 50, retryMaxMs: 200 });
  const running = runner.runUntilIdle({ waitSettle: true });
  await new Promise((r) => setTimeout(r, 1500));
  expect((await getJob(h.db, job.id))!.done).toBe(20); // nothing moved while the new key was disabled
  expect(await keysNotUnder(h.db, newId)).toBe(21);
  kms.enableKey(newId);
  expect(await running).toBe(true);
  expect(reads).toEqual([]);
  expect(lines.filter((l) => l.startsWith('key rotation batch failed; retrying')).length).toBeGreaterThan(0);
  expect(await getJob(h.db, job.id)).toMatchObject({ state: 'done', done: 41, total: 41 });
  expect(await keysNotUnder(h.db, newId)).toBe(0);
  const masters = await h.db.rows<{ m: string }>(sql`select distinct master_key_id as m from tenant_keys where kind = 'kek'`);
  expect(masters.map((r) => r.m)).toEqual([newId]);

  // The old KMS key can go: the new key alone reads every tenant and passes the start-up check.
  kms.disableKey(oldId);
  const newOnly = provider(newId);
  expect(await verifyMasterKey(h.db, newOnly)).toBe('verified');
  const reader = createDbVault({ db: h.db, provider: newOnly, timeoutMs: 5000 });
  for (const d of data) expect((await reader.resolve(ctx(d.tenantId), d.tokens)).get(d.tokens[0]!)).toBe(d.values[0]);
  await reader.close();
  await worker.close();
  for (const l of lines) expect(l).not.toMatch(/@example\.net/);
}, 90_000);
