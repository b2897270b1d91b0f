/**
 * Scheduled DEK rotation by age (VEIL_ROTATE_DEK_EVERY_DAYS): `startDueRotations` starts a DEK
 * rotation (src/jobs/rotate.ts) for each tenant whose primary DEK is older than `everyDays` and
 * that has no rotation open, at most `limit` per call. The gateway's job poller calls it about
 * once a minute; with several gateways the one-open-rotation-per-tenant index of `veil_jobs`
 * keeps a tenant to one job (a process that loses that race has made one extra DEK version,
 * which stays readable). Rotation by use count is the keyring's roll-over at 2^31 encryptions.
 * Logs tenant ids, job ids and counts only.
 */
import { sql } from 'drizzle-orm';
import { silentLogger, type Logger } from '../core/types.js';
import type { Db } from '../db/client.js';
import type { Keyring } from '../keys/keyring.js';
import { JobError, startDekRotation, type Job, type RotationAudit } from './rotate.js';

export interface ScheduleOptions {
  db: Db;
  keyring: Keyring;
  everyDays: number;
  settleMs: number;
  limit?: number;
  logger?: Logger;
  audit?: RotationAudit;
}

/** Tenants whose primary DEK is older than `everyDays` and that have no DEK rotation open. */
export async function tenantsDueForRotation(db: Db, everyDays: number, limit = 10): Promise<string[]> {
  const rows = await db.rows<{ tenant_id: string }>(sql`select k.tenant_id from tenant_keys k
    where k.kind = 'dek' and k.state = 'primary' and k.created_at < now() - make_interval(days => ${everyDays})
      and not exists (select 1 from veil_jobs j where j.tenant_id = k.tenant_id and j.kind = 'rotate_dek' and j.state in ('running', 'paused'))
    order by k.created_at limit ${Math.max(1, limit)}`);
  return rows.map((r) => r.tenant_id);
}

export async function startDueRotations(o: ScheduleOptions): Promise<Job[]> {
  const log = o.logger ?? silentLogger;
  const started: Job[] = [];
  for (const tenantId of await tenantsDueForRotation(o.db, o.everyDays, o.limit)) {
    try {
      const job = await startDekRotation({ db: o.db, keyring: o.keyring, tenantId, settleMs: o.settleMs, logger: log, audit: o.audit });
      log.info('scheduled key rotation started', { tenantId, jobId: job.id, everyDays: o.everyDays });
      started.push(job);
    } catch (e) {
      // Another process started it first (JobError, or the unique index): nothing to do.
      if (!(e instanceof JobError)) log.warn('scheduled key rotation not started', { tenantId, error: (e as Error)?.name ?? 'Error' });
    }
  }
  return started;
}
