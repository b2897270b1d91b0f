/**
 * Scheduled DEK rotation by age (src/jobs/schedule.ts), on real PGlite with the real vault and
 * local master key, through the gateway's job poller as src/runtime/node/services.ts wires it
 * for VEIL_ROTATE_DEK_EVERY_DAYS. No fakes. A DEK's age is set by editing its created_at.
 */
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import type { EntityType } from '../core/types.js';
import { listJobs } from './rotate.js';
import { startJobPoller } from './runner.js';
import { startDueRotations, tenantsDueForRotation } from './schedule.js';
import { ctx } from '../../test/helpers/db.js';
import { usePgliteVault } from '../../test/helpers/jobs-vault.js';

const f = usePgliteVault();

it('starts one DEK rotation per tenant whose primary DEK is older than the limit, none for younger ones, none twice', async () => {
  const { h, vault } = f;
  const items = (p: string) => Array.from({ length: 5 }, (_, i) => ({ type: 'EMAIL' as EntityType, value: `${p}.${i}@example.com` }));
  const tokensOld = await vault.tokenize(ctx('ten_sched_old'), items('old'));
  await vault.tokenize(ctx('ten_sched_young'), items('young'));
  await h.db.rows(sql`update tenant_keys set created_at = now() - interval '40 days' where tenant_id = 'ten_sched_old' and kind = 'dek'`);
  await h.db.rows(sql`update tenant_keys set created_at = now() - interval '20 days' where tenant_id = 'ten_sched_young' and kind = 'dek'`);
  expect(await tenantsDueForRotation(h.db, 30)).toEqual(['ten_sched_old']);

  // The gateway's poller with the schedule on: it starts the job and works it to the end.
  const stop = startJobPoller({ db: h.db, keyring: vault.keyring, pollMs: 100, settlePollMs: 50, schedule: { everyDays: 30, settleMs: 0, checkMs: 100 } });
  try {
    const t0 = Date.now();
    while (!(await listJobs(h.db)).some((j) => j.tenantId === 'ten_sched_old' && j.state === 'done')) {
      if (Date.now() - t0 > 20_000) throw new Error('no scheduled rotation finished');
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await stop();
  }
  const jobs = await listJobs(h.db);
  expect(jobs.map((j) => [j.tenantId, j.kind, j.state, j.done])).toEqual([['ten_sched_old', 'rotate_dek', 'done', 5]]);
  // The new primary DEK is young: nothing is due any more.
  expect(await tenantsDueForRotation(h.db, 30)).toEqual([]);
  expect(await startDueRotations({ db: h.db, keyring: vault.keyring, everyDays: 30, settleMs: 0 })).toEqual([]);
  const back = await vault.resolve(ctx('ten_sched_old'), tokensOld);
  expect(tokensOld.map((t) => back.get(t))).toEqual(items('old').map((i) => i.value));
}, 60_000);
