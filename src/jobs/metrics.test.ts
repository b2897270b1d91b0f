/**
 * Prometheus metrics of rotation jobs: the gateway's job poller wired to the metrics exactly as
 * src/runtime/node/services.ts wires it (onBatch / onError / onJobs), on real PGlite with the
 * real vault and local master key. No fakes. The rendered text is what GET /metrics serves.
 */
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import type { EntityType } from '../core/types.js';
import { createMetrics } from '../http/metrics.js';
import { getJob, startDekRotation } from './rotate.js';
import { startJobPoller } from './runner.js';
import { ctx } from '../../test/helpers/db.js';
import { usePgliteVault } from '../../test/helpers/jobs-vault.js';

const f = usePgliteVault();

const metric = (text: string, name: string, labels: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

it('rows done / total / left, rate and state of a job, rows moved and failed batches of this process', async () => {
  const { h, vault } = f;
  const t = 'ten_metrics';
  await h.db.rows(sql`insert into tenants (id, name) values (${t}, ${t})`);
  const items = Array.from({ length: 600 }, (_, i) => ({ type: 'EMAIL' as EntityType, value: `metrics.${i}@example.com` }));
  await vault.tokenize(ctx(t), items);
  const job = await startDekRotation({ db: h.db, keyring: vault.keyring, tenantId: t, rowsPerSecond: 300, settleMs: 0 });

  const metrics = createMetrics();
  const stop = startJobPoller({
    db: h.db,
    keyring: vault.keyring,
    pollMs: 200,
    settlePollMs: 50,
    onBatch: (j, n) => metrics.observeJobBatch(j.kind, n),
    onError: (j) => metrics.observeJobError(j.kind),
    onJobs: (jobs) => metrics.setJobs(jobs),
  });
  try {
    const id = `job="${job.id}",kind="rotate_dek"`;
    let during: string | null = null;
    const t0 = Date.now();
    for (;;) {
      const text = metrics.render();
      const done = metric(text, 'veil_job_rows_done', id);
      if (during === null && done !== undefined && done > 0 && done < 600 && (metric(text, 'veil_job_rows_per_second', id) ?? 0) > 0) during = text;
      if (metric(text, 'veil_job_state', `${id},state="done"`) === 1) break;
      if (Date.now() - t0 > 30_000) throw new Error('job did not finish: ' + text);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(during, 'a read while the job ran').not.toBeNull();
    expect(metric(during!, 'veil_job_state', `${id},state="running"`)).toBe(1);
    expect(metric(during!, 'veil_job_rows_total', id)).toBe(600);
    expect(metric(during!, 'veil_job_rows_left', id)).toBe(600 - metric(during!, 'veil_job_rows_done', id)!);
    const end = metrics.render();
    expect(metric(end, 'veil_job_rows_done', id)).toBe(600);
    expect(metric(end, 'veil_job_rows_left', id)).toBe(0);
    expect(metric(end, 'veil_job_rows_processed_total', 'kind="rotate_dek"')).toBe(600);
    expect(metric(end, 'veil_job_state', `${id},state="running"`)).toBe(0);

    // A stored value that fails authentication: the batch fails, the job fails, both are counted.
    const bad = 'ten_metrics_bad';
    await h.db.rows(sql`insert into tenants (id, name) values (${bad}, ${bad})`);
    await vault.tokenize(ctx(bad), [{ type: 'EMAIL', value: 'tampered@example.com' }]);
    await h.db.rows(sql`update mappings set ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1) where tenant_id = ${bad}`);
    const failing = await startDekRotation({ db: h.db, keyring: vault.keyring, tenantId: bad, settleMs: 0 });
    const fid = `job="${failing.id}",kind="rotate_dek"`;
    const t1 = Date.now();
    while (metric(metrics.render(), 'veil_job_state', `${fid},state="failed"`) !== 1) {
      if (Date.now() - t1 > 30_000) throw new Error('job did not fail: ' + metrics.render());
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await getJob(h.db, failing.id))!.state).toBe('failed');
    expect(metric(metrics.render(), 'veil_job_batch_errors_total', 'kind="rotate_dek"')).toBe(1);
    expect(metrics.render()).not.toMatch(/@example\.com/);
  } finally {
    await stop();
  }
}, 60_000);
