/**
 * The job runner: works every 'running' job in `veil_jobs` batch by batch: DEK rotations
 * (src/jobs/rotate.ts), KEK rotations (kek.ts) and master-key rotations (master.ts, only in a
 * process whose master key is the job's target).
 * It runs inside the gateway (`startJobPoller`, polling every `pollMs`) or alone
 * (`veil jobs run`: `runUntilIdle`). Several runners may share one PostgreSQL: rows are claimed
 * with FOR UPDATE SKIP LOCKED, so they split the work. Throttle: a job's rows_per_second is
 * honoured per runner by sleeping between batches. A failed batch (database or key service
 * down) wrote nothing; the runner waits (exponential backoff, 0.5 s → 30 s) and retries. A
 * value that fails authentication marks the job 'failed' (it cannot succeed by retrying).
 * Bounded: one batch in memory at a time, one job at a time per runner; logs ids and counts only.
 */
import { sql } from 'drizzle-orm';
import { silentLogger, type Logger } from '../core/types.js';
import type { Db } from '../db/client.js';
import type { VaultCrypto } from '../vault/db-vault.js';
import type { Keyring } from '../keys/keyring.js';
import type { MasterKeyProvider } from '../keys/provider.js';
import { DEFAULT_BATCH, finishDekRotation, type RotationAudit, getJob, JobIntegrityError, listJobs, runDekBatch, runnableJobs, type Job } from './rotate.js';
import { DEFAULT_MASTER_BATCH, finishMasterRotation, runMasterBatch } from './master.js';
import { DEFAULT_KEK_BATCH, finishKekRotation, runKekBatch } from './kek.js';
import { startDueRotations } from './schedule.js';

export interface RunnerOptions {
  db: Db;
  keyring: Keyring;
  /** The master-key provider: needed for master-key rotation jobs (worked only when its key is the job's target). */
  provider?: MasterKeyProvider;
  crypto?: VaultCrypto;
  logger?: Logger;
  /** Audit trail for 'rotation' events (src/audit); without it, log lines only. */
  audit?: RotationAudit;
  batchSize?: number;
  /** Called after every batch (progress bars, metrics). */
  onBatch?: (job: Job, rows: number) => void;
  /** Called after every failed batch (metrics); the runner then retries or fails the job. */
  onError?: (job: Job, error: unknown) => void;
  /** Backoff bounds after a failure (defaults 500 ms and 30 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How often a waiting job (inside its settle window) is looked at again (default 1000 ms). */
  settlePollMs?: number;
}

export interface JobRunner {
  /**
   * Works the running jobs until none is left to do now. Resolves true when every job it saw
   * finished or stopped, false when `signal` aborted. `waitSettle`: also wait out settle windows.
   */
  runUntilIdle(opts?: { signal?: AbortSignal; waitSettle?: boolean; jobId?: string }): Promise<boolean>;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export function createJobRunner(o: RunnerOptions): JobRunner {
  const log = o.logger ?? silentLogger;
  const retryMin = o.retryMinMs ?? 500;
  const retryMax = o.retryMaxMs ?? 30_000;
  const settlePoll = o.settlePollMs ?? 1000;

  /** How each kind of job is worked; null: not by this process (a master rotation toward another key). */
  function handler(job: Job): { batch(j: Job, size: number | undefined): Promise<number>; finish(j: Job): Promise<'done' | 'waiting' | 'stopped'>; size: number } | null {
    if (job.kind === 'rotate_master') {
      const p = o.provider;
      if (!p || p.keyId !== job.target) return null;
      return {
        batch: (j, size) => runMasterBatch(o.db, p, j, { batchSize: size }),
        finish: (j) => finishMasterRotation(o.db, j, log, o.audit),
        size: o.batchSize ?? DEFAULT_MASTER_BATCH,
      };
    }
    if (job.kind === 'rotate_kek') {
      return {
        batch: (j, size) => runKekBatch(o.db, o.keyring, j, { batchSize: size }),
        finish: (j) => finishKekRotation(o.db, j, log, o.audit),
        size: o.batchSize ?? DEFAULT_KEK_BATCH,
      };
    }
    return {
      batch: (j, size) => runDekBatch(o.db, o.keyring, j, { batchSize: size, crypto: o.crypto }),
      finish: (j) => finishDekRotation(o.db, j, log, o.audit),
      size: o.batchSize ?? DEFAULT_BATCH,
    };
  }

  /** Works one job until it is done, stops, waits to settle (returns 'waiting') or the signal aborts. */
  async function work(job0: Job, signal: AbortSignal | undefined, waitSettle: boolean): Promise<'finished' | 'waiting' | 'aborted'> {
    let job = job0;
    let backoff = retryMin;
    const h = handler(job);
    if (!h) return 'waiting';
    while (!signal?.aborted) {
      const t0 = Date.now();
      try {
        const rps = job.rowsPerSecond;
        const size = rps ? Math.max(1, Math.min(h.size, rps)) : h.size;
        const n = await h.batch(job, size);
        backoff = retryMin;
        if (n > 0) {
          o.onBatch?.(job, n);
          if (rps) await sleep(Math.max(0, (n / rps) * 1000 - (Date.now() - t0)), signal);
          continue;
        }
        const r = await h.finish(job);
        if (r === 'done' || r === 'stopped') {
          o.onBatch?.(job, 0);
          return 'finished';
        }
        if (!waitSettle) return 'waiting';
        await sleep(settlePoll, signal);
        const fresh = await getJob(o.db, job.id);
        if (!fresh || fresh.state !== 'running') return 'finished';
        job = fresh;
      } catch (e) {
        o.onError?.(job, e);
        if (e instanceof JobIntegrityError) {
          log.error('key rotation failed', { jobId: job.id, kind: job.kind, tenantId: job.tenantId, reason: 'integrity' });
          await o.db
            .rows(sql`update veil_jobs set state = 'failed', error = ${e.message}, updated_at = now(), finished_at = now() where id = ${job.id} and state = 'running'`)
            .catch(() => {});
          return 'finished';
        }
        const code = (e as { code?: unknown }).code;
        log.warn('key rotation batch failed; retrying', {
          jobId: job.id,
          tenantId: job.tenantId,
          error: (e as Error)?.name ?? 'Error',
          code: typeof code === 'string' ? code : null,
          retryMs: backoff,
        });
        await sleep(backoff, signal);
        backoff = Math.min(retryMax, backoff * 2);
      }
    }
    return 'aborted';
  }

  return {
    async runUntilIdle(opts = {}) {
      const { signal, waitSettle = false, jobId } = opts;
      let backoff = retryMin;
      for (;;) {
        if (signal?.aborted) return false;
        let jobs: Job[];
        try {
          jobs = (await runnableJobs(o.db)).filter((j) => !jobId || j.id === jobId);
          backoff = retryMin;
        } catch (e) {
          log.warn('job list failed; retrying', { error: (e as Error)?.name ?? 'Error', retryMs: backoff });
          await sleep(backoff, signal);
          backoff = Math.min(retryMax, backoff * 2);
          continue;
        }
        if (jobs.length === 0) return true;
        let waiting = 0;
        for (const j of jobs) {
          // A rotation started elsewhere (the CLI): this process encrypts under the new DEK from now on.
          if (j.tenantId !== null) o.keyring.dropLease(j.tenantId);
          const r = await work(j, signal, waitSettle);
          if (r === 'aborted') return false;
          if (r === 'waiting') waiting++;
        }
        if (waiting === jobs.length) return true;
      }
    },
  };
}

/**
 * Inside the gateway: polls for running jobs every `pollMs` (default 2000) and works them.
 * `onJobs` (metrics) gets the 20 most recent jobs every `pollMs`, also while a job is worked.
 * `schedule` (VEIL_ROTATE_DEK_EVERY_DAYS): every `checkMs` (default 60 s) starts the DEK
 * rotations that are due (src/jobs/schedule.ts).
 * Returns a stop function (awaits the batch in progress; an aborted batch is rolled back).
 */
export function startJobPoller(
  o: RunnerOptions & { pollMs?: number; onJobs?: (jobs: Job[]) => void; schedule?: { everyDays: number; settleMs: number; checkMs?: number } },
): () => Promise<void> {
  const runner = createJobRunner(o);
  const ac = new AbortController();
  const pollMs = o.pollMs ?? 2000;
  const onJobs = o.onJobs;
  if (onJobs) {
    void (async () => {
      while (!ac.signal.aborted) {
        await listJobs(o.db, { limit: 20 }).then(onJobs, () => {});
        await sleep(pollMs, ac.signal);
      }
    })();
  }
  const schedule = o.schedule;
  let nextCheck = 0;
  const loop = (async () => {
    while (!ac.signal.aborted) {
      if (schedule && Date.now() >= nextCheck) {
        nextCheck = Date.now() + (schedule.checkMs ?? 60_000);
        await startDueRotations({ db: o.db, keyring: o.keyring, everyDays: schedule.everyDays, settleMs: schedule.settleMs, logger: o.logger, audit: o.audit }).catch(() => {});
      }
      await runner.runUntilIdle({ signal: ac.signal }).catch(() => {});
      await sleep(pollMs, ac.signal);
    }
  })();
  return async () => {
    ac.abort();
    await loop;
  };
}
