/**
 * Master-key rotation (issue 10, `veil keys rotate --master`), on PGlite or PostgreSQL.
 *
 * Every process is first given the new master key as its current key and the old one as
 * previous (VEIL_MASTER_KEY + VEIL_MASTER_KEY_PREVIOUS, or VEIL_KMS_KEY_ID +
 * VEIL_KMS_KEY_ID_PREVIOUS): it wraps new keys under the new master and unwraps under either.
 * `startMasterRotation` then records a job (kind 'rotate_master', target = the new master key
 * id) whose batches re-wrap, under the target, every key still wrapped by another master key:
 * the tenant KEKs (`tenant_keys` kind 'kek'), the audit root key (`audit_keys`) and the key
 * check value (`veil_key_check`). Unwrapped keys do not change, so every cached key, DEK and
 * row stays valid and reads never stop.
 *
 * `runMasterBatch`: one transaction claims up to `batchSize` such rows (`FOR UPDATE SKIP
 * LOCKED`: several runners share the job), re-wraps each through the provider (AWS ReEncrypt;
 * local: unwrap under any accepted key, wrap under the current one), writes it with an UPDATE
 * guarded by the old master key id (a repeat is a no-op) and adds the count to the job in the
 * same transaction, guarded by state 'running'. A crash loses only the open batch (rolled back).
 * Only a process whose current master key is the target works the job.
 *
 * `finishMasterRotation`: when no row names another master key, the job is 'done'; the old key
 * may then be removed from every process. Events go to the `_system` audit chain.
 * Logs and errors hold ids and counts only, never key material.
 */
import { sql } from 'drizzle-orm';
import { silentLogger, type Logger } from '../core/types.js';
import type { Db } from '../db/client.js';
import { resultRows } from '../db/client.js';
import { randomBytes, toHex } from '../keys/crypto.js';
import { KEY_CHECK_ID } from '../keys/key-check.js';
import { KeyProviderError, type MasterKeyProvider } from '../keys/provider.js';
import { AUDIT_ROOT_CONTEXT, SYSTEM_CHAIN } from '../audit/store.js';
import { auditRotation, finishJob, inJobBatch, JobError, JobIntegrityError, toJob, type Job, type JobRow, type RotationAudit } from './rotate.js';

/** Re-wraps in flight at once per batch (KMS round trips overlap; local ones are instant). */
const REWRAP_CONCURRENCY = 16;
const MAX_BATCH = 10_000;
export const DEFAULT_MASTER_BATCH = 500;

/** Keys still wrapped by a master key other than `target` (tenant KEKs, audit root, key check). */
export async function keysNotUnder(db: Db, target: string): Promise<number> {
  const r = await db.rows<{ n: string | number }>(sql`select
      (select count(*) from tenant_keys where kind = 'kek' and master_key_id is distinct from ${target})
    + (select count(*) from audit_keys where master_key_id is distinct from ${target})
    + (select count(*) from veil_key_check where master_key_id is distinct from ${target}) as n`);
  return Number(r[0]?.n ?? 0);
}

export interface StartMasterOptions {
  db: Db;
  /** Configured with the NEW master key as current (and the old one as previous). */
  provider: MasterKeyProvider;
  rowsPerSecond?: number | null;
  logger?: Logger;
  audit?: RotationAudit;
}

/** Records a master-key rotation job toward `provider.keyId`. Refuses while another one is open. */
export async function startMasterRotation(o: StartMasterOptions): Promise<Job> {
  const log = o.logger ?? silentLogger;
  if (o.rowsPerSecond !== undefined && o.rowsPerSecond !== null && !(Number.isInteger(o.rowsPerSecond) && o.rowsPerSecond > 0)) {
    throw new JobError('--rows-per-second must be a positive integer');
  }
  const open = await o.db.rows<{ id: string; target: string | null }>(
    sql`select id, target from veil_jobs where kind = 'rotate_master' and state in ('running', 'paused')`,
  );
  if (open.length > 0) throw new JobError(`a master-key rotation is already in progress (job ${open[0]!.id}); wait for it, or cancel it`);
  const target = o.provider.keyId;
  const total = await keysNotUnder(o.db, target);
  const id = 'job_' + toHex(randomBytes(8));
  const rows = await o.db.rows<JobRow>(sql`insert into veil_jobs (id, kind, tenant_id, target, state, to_version, total, rows_per_second, retire_after)
    values (${id}, 'rotate_master', null, ${target}, 'running', 0, ${total}, ${o.rowsPerSecond ?? null}, now())
    returning *`);
  log.info('master key rotation started', { jobId: id, toKeyId: target, keys: total });
  await auditRotation(o.audit, SYSTEM_CHAIN, { phase: 'started', level: 'master', job_id: id, to_key_id: target, rows: total }, log, id);
  return toJob(rows[0]!);
}

/** Maps over `items` with at most `limit` calls in flight; results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function rewrap(provider: MasterKeyProvider, context: string, wrapped: Uint8Array): Promise<Uint8Array> {
  try {
    return await provider.rewrapKek(context, wrapped);
  } catch (e) {
    // Not a passing outage: no accepted master key opens it (VEIL_MASTER_KEY_PREVIOUS missing?) or it was altered.
    if (e instanceof KeyProviderError && (e.code === 'wrong_key' || e.code === 'invalid_ciphertext')) {
      throw new JobIntegrityError(
        'a key could not be unwrapped with the current or previous master key (is VEIL_MASTER_KEY_PREVIOUS / VEIL_KMS_KEY_ID_PREVIOUS set?); start the rotation again once fixed',
      );
    }
    throw e;
  }
}

/**
 * One batch. Returns the keys re-wrapped (0: none left, or the job is no longer running).
 * Throws on database / key-service failures (nothing written) and JobIntegrityError when a
 * key cannot be unwrapped by any accepted master key.
 */
export async function runMasterBatch(db: Db, provider: MasterKeyProvider, job: Job, opts: { batchSize?: number } = {}): Promise<number> {
  const target = job.target;
  if (target === null || provider.keyId !== target) throw new JobError(`job ${job.id} re-wraps under ${target}; this process's master key is ${provider.keyId}`);
  const n = Math.max(1, Math.min(opts.batchSize ?? DEFAULT_MASTER_BATCH, MAX_BATCH));
  return inJobBatch(db, job, async (tx) => {
    const keks = resultRows<{ tenant_id: string; version: number; wrapped: Uint8Array; master_key_id: string | null }>(
      await tx.execute(sql`select tenant_id, version, wrapped, master_key_id from tenant_keys
        where kind = 'kek' and master_key_id is distinct from ${target}
        limit ${n} for update skip locked`),
    );
    let moved = 0;
    if (keks.length > 0) {
      const fresh = await mapLimited(keks, REWRAP_CONCURRENCY, (k) => rewrap(provider, k.tenant_id, k.wrapped));
      moved += resultRows(
        await tx.execute(sql`update tenant_keys k set wrapped = u.w, master_key_id = ${target}
          from unnest(${sql.param(keks.map((k) => k.tenant_id))}::text[], ${sql.param(keks.map((k) => Number(k.version)))}::int[],
                      ${sql.param(fresh)}::bytea[], ${sql.param(keks.map((k) => k.master_key_id ?? ''))}::text[]) as u(t, v, w, old)
          where k.tenant_id = u.t and k.kind = 'kek' and k.version = u.v and coalesce(k.master_key_id, '') = u.old
          returning k.tenant_id`),
      ).length;
    }
    if (keks.length < n) {
      // The audit root key and the key check value: one row each, after the tenants.
      const audit = resultRows<{ id: string; wrapped: Uint8Array }>(
        await tx.execute(sql`select id, wrapped from audit_keys where master_key_id is distinct from ${target} for update skip locked`),
      );
      for (const a of audit) {
        const w = await rewrap(provider, AUDIT_ROOT_CONTEXT, a.wrapped);
        moved += resultRows(await tx.execute(sql`update audit_keys set wrapped = ${w}, master_key_id = ${target} where id = ${a.id} returning id`)).length;
      }
      const check = resultRows<{ id: number; wrapped: Uint8Array }>(
        await tx.execute(sql`select id, wrapped from veil_key_check where master_key_id is distinct from ${target} for update skip locked`),
      );
      for (const c of check) {
        const w = await rewrap(provider, KEY_CHECK_ID, c.wrapped);
        moved += resultRows(await tx.execute(sql`update veil_key_check set wrapped = ${w}, master_key_id = ${target} where id = ${c.id} returning id`)).length;
      }
    }
    return moved;
  });
}

/** Marks the job done when no key names another master key. 'waiting': keys left (a straggler). */
export async function finishMasterRotation(
  db: Db,
  job: Job,
  logger: Logger = silentLogger,
  audit?: RotationAudit,
): Promise<'done' | 'waiting' | 'stopped'> {
  const target = job.target ?? '';
  return finishJob(
    db,
    job,
    {
      level: 'master',
      chain: SYSTEM_CHAIN,
      target: { to_key_id: target },
      message: 'master key rotation finished',
      left: async (tx) =>
        resultRows(
          await tx.execute(sql`select 1 from tenant_keys where kind = 'kek' and master_key_id is distinct from ${target}
            union all select 1 from audit_keys where master_key_id is distinct from ${target}
            union all select 1 from veil_key_check where master_key_id is distinct from ${target} limit 1`),
        ).length > 0,
    },
    logger,
    audit,
  );
}
