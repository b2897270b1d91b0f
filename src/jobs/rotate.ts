/**
 * DEK rotation with background re-encryption (issue 10), on PGlite or PostgreSQL.
 *
 * `startDekRotation`: the tenant gets a new primary DEK at once (Keyring.rotateDek); a job row in
 * `veil_jobs` (drizzle/0003_jobs.sql) records the target version, the rows to do and the progress.
 * Reads keep working for every version throughout (the vault reads the row's dek_version).
 *
 * `runDekBatch`: one transaction that claims up to `batchSize` rows still under an older DEK
 * (`FOR UPDATE SKIP LOCKED`, so several processes share a job without a lock service), decrypts
 * each with its old DEK, re-encrypts it under the target DEK with a fresh IV and the AAD of the
 * new version, writes it back with one UPDATE guarded by the old dek_version (a repeat is a
 * no-op), and adds the count to the job in the same transaction — guarded by state 'running',
 * so a pause or cancel rolls the batch back. A crash (SIGKILL) loses at most the open batch,
 * which PostgreSQL rolls back: no row lost, none half-written, progress exact.
 *
 * `finishDekRotation`: when no row is left under an older DEK and `retire_after` has passed
 * (other processes' encryption leases of the old DEK have expired), the older DEKs are marked
 * 'retired' and the job 'done' in one transaction. A straggler row written later under a retired
 * DEK stays readable (retired keys are kept) and is picked up by the next rotation.
 *
 * Nothing here logs a value: tenant ids, job ids, versions and counts only.
 */
import { sql, type SQL } from 'drizzle-orm';
import { silentLogger, type Logger } from '../core/types.js';
import type { Db, VeilTx } from '../db/client.js';
import { resultRows } from '../db/client.js';
import { GCM_IV_BYTES, DecryptError, randomBytes, toHex } from '../keys/crypto.js';
import { mappingAad, webVaultCrypto, type VaultCrypto } from '../vault/db-vault.js';
import type { Keyring } from '../keys/keyring.js';
import type { AuditEventInput } from '../audit/chain.js';

/** Where rotation events go (src/audit AuditStore.append); optional: without it, log lines only. */
export interface RotationAudit {
  append(tenantId: string, events: readonly AuditEventInput[]): Promise<void>;
}

export type JobState = 'running' | 'paused' | 'cancelled' | 'done' | 'failed';
export const JOB_STATES: readonly JobState[] = ['running', 'paused', 'cancelled', 'done', 'failed'];

/** rotate_dek: re-encrypt rows (this file); rotate_kek: re-wrap DEKs (kek.ts); rotate_master: re-wrap KEKs (master.ts). */
export type JobKind = 'rotate_dek' | 'rotate_kek' | 'rotate_master';

export interface Job {
  id: string;
  kind: JobKind;
  /** null for rotate_master (every tenant). */
  tenantId: string | null;
  /** rotate_master: the master key id everything is re-wrapped under; null otherwise. */
  target: string | null;
  state: JobState;
  toVersion: number;
  total: number;
  done: number;
  rowsPerSecond: number | null;
  retireAfter: Date;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

/** A job command that cannot apply (unknown id, wrong state, one already running). Exit code 1. */
export class JobError extends Error {
  override name = 'JobError';
}

/** A stored value failed authentication during re-encryption: the job stops (state 'failed'). */
export class JobIntegrityError extends Error {
  override name = 'JobIntegrityError';
}

const MAX_BATCH = 10_000;
export const DEFAULT_BATCH = 1000;

export interface JobRow {
  id: string;
  kind: JobKind;
  tenant_id: string | null;
  target: string | null;
  state: JobState;
  to_version: number;
  total: string | number;
  done: string | number;
  rows_per_second: number | null;
  retire_after: Date | string;
  error: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  finished_at: Date | string | null;
}

export const date = (d: Date | string) => (d instanceof Date ? d : new Date(d));

export function toJob(r: JobRow): Job {
  return {
    id: r.id,
    kind: r.kind,
    tenantId: r.tenant_id,
    target: r.target ?? null,
    state: r.state,
    toVersion: Number(r.to_version),
    total: Number(r.total),
    done: Number(r.done),
    rowsPerSecond: r.rows_per_second === null ? null : Number(r.rows_per_second),
    retireAfter: date(r.retire_after),
    error: r.error,
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
    finishedAt: r.finished_at === null ? null : date(r.finished_at),
  };
}

/** The tenant of a per-tenant job (rotate_dek, rotate_kek). */
export function tenantOf(job: Job): string {
  if (job.tenantId === null) throw new JobError(`job ${job.id} (${job.kind}) has no tenant`);
  return job.tenantId;
}

export async function getJob(db: Db, id: string): Promise<Job | null> {
  const rows = await db.rows<JobRow>(sql`select * from veil_jobs where id = ${id}`);
  return rows[0] ? toJob(rows[0]) : null;
}

/** Jobs newest first (at most `limit`). */
export async function listJobs(db: Db, opts: { tenantId?: string; limit?: number } = {}): Promise<Job[]> {
  const limit = Math.max(1, Math.min(opts.limit ?? 50, 1000));
  const rows = opts.tenantId
    ? await db.rows<JobRow>(sql`select * from veil_jobs where tenant_id = ${opts.tenantId} order by created_at desc limit ${limit}`)
    : await db.rows<JobRow>(sql`select * from veil_jobs order by created_at desc limit ${limit}`);
  return rows.map(toJob);
}

export async function runnableJobs(db: Db): Promise<Job[]> {
  return (await db.rows<JobRow>(sql`select * from veil_jobs where state = 'running' order by created_at limit 100`)).map(toJob);
}

/** Rows of the tenant still under a DEK older than `version`. */
export async function rowsBelow(db: Db, tenantId: string, version: number): Promise<number> {
  const r = await db.rows<{ n: string | number }>(
    sql`select count(*) as n from mappings where tenant_id = ${tenantId} and dek_version < ${version}`,
  );
  return Number(r[0]?.n ?? 0);
}

export interface StartOptions {
  db: Db;
  keyring: Keyring;
  tenantId: string;
  /** Throttle per process (null: as fast as the batches go). */
  rowsPerSecond?: number | null;
  /**
   * How long other processes may still encrypt under the old DEK (their lease TTL:
   * VEIL_KEY_CACHE_TTL_MS) plus a margin; the old DEK is retired only after it.
   */
  settleMs: number;
  logger?: Logger;
  audit?: RotationAudit;
}

/** New primary DEK now + a re-encryption job. Refuses while the tenant has a running or paused rotation. */
export async function startDekRotation(o: StartOptions): Promise<Job> {
  const log = o.logger ?? silentLogger;
  if (o.rowsPerSecond !== undefined && o.rowsPerSecond !== null && !(Number.isInteger(o.rowsPerSecond) && o.rowsPerSecond > 0)) {
    throw new JobError('--rows-per-second must be a positive integer');
  }
  const exists = await o.db.rows(sql`select 1 from tenants where id = ${o.tenantId}`);
  if (exists.length === 0) throw new JobError(`no tenant with id ${o.tenantId}`);
  const open = await o.db.rows<{ id: string }>(
    sql`select id from veil_jobs where tenant_id = ${o.tenantId} and kind = 'rotate_dek' and state in ('running', 'paused')`,
  );
  if (open.length > 0) throw new JobError(`tenant ${o.tenantId} already has a rotation in progress (job ${open[0]!.id}); wait for it, or cancel it`);
  const { version } = await o.keyring.rotateDek(o.tenantId);
  const total = await rowsBelow(o.db, o.tenantId, version);
  const id = 'job_' + toHex(randomBytes(8));
  const settle = Math.max(0, Math.round(o.settleMs));
  const rows = await o.db.rows<JobRow>(sql`insert into veil_jobs (id, kind, tenant_id, state, to_version, total, rows_per_second, retire_after)
    values (${id}, 'rotate_dek', ${o.tenantId}, 'running', ${version}, ${total}, ${o.rowsPerSecond ?? null},
            now() + make_interval(secs => ${settle / 1000}))
    returning *`);
  log.info('key rotation started', { jobId: id, tenantId: o.tenantId, toVersion: version, rows: total });
  await auditRotation(o.audit, o.tenantId, { phase: 'started', level: 'dek', job_id: id, to_version: version, rows: total }, log, id);
  return toJob(rows[0]!);
}

/** pause: running → paused; resume: paused → running; cancel: running|paused → cancelled. */
export async function setJobState(db: Db, id: string, action: 'pause' | 'resume' | 'cancel'): Promise<Job> {
  const from = action === 'pause' ? ['running'] : action === 'resume' ? ['paused'] : ['running', 'paused'];
  const to: JobState = action === 'pause' ? 'paused' : action === 'resume' ? 'running' : 'cancelled';
  const rows = await db.rows<JobRow>(sql`update veil_jobs set state = ${to}, updated_at = now(),
      finished_at = case when ${to} = 'cancelled' then now() else null end
    where id = ${id} and state in (${sql.join(from.map((s) => sql`${s}`), sql`, `)}) returning *`);
  if (rows[0]) return toJob(rows[0]);
  const job = await getJob(db, id);
  if (!job) throw new JobError(`no job with id ${id}`);
  throw new JobError(`job ${id} is ${job.state}; cannot ${action} it`);
}

class NotRunning extends Error {}

/** Appends one `rotation` event (after the commit: a failed append is logged; the rotation itself is safe). */
export async function auditRotation(audit: RotationAudit | undefined, chain: string, detail: Record<string, string | number | null>, log: Logger, jobId: string): Promise<void> {
  await audit
    ?.append(chain, [{ kind: 'rotation', tenantId: chain, detail }])
    .catch((e) => log.warn('audit of key rotation failed', { jobId, error: (e as Error)?.name ?? 'Error' }));
}

/**
 * One batch transaction of any job kind: `work` claims and moves rows and returns how many; the
 * count is added to the job in the same transaction, guarded by state 'running', so a pause or
 * cancel racing the batch rolls it back (returns 0).
 */
export async function inJobBatch(db: Db, job: Job, work: (tx: VeilTx) => Promise<number>): Promise<number> {
  try {
    return await db.orm.transaction(async (tx) => {
      const moved = await work(tx);
      if (moved === 0) return 0;
      const ok = resultRows(await tx.execute(sql`update veil_jobs set done = done + ${moved}, updated_at = now() where id = ${job.id} and state = 'running' returning id`));
      if (ok.length === 0) throw new NotRunning();
      return moved;
    });
  } catch (e) {
    if (e instanceof NotRunning) return 0;
    throw e;
  }
}

/** Inside a transaction: marks the tenant's 'active' keys of `kind` older than `version` retired; their versions. */
export async function retireOlder(tx: VeilTx, tenantId: string, kind: 'dek' | 'kek', version: number): Promise<number[]> {
  const rows = resultRows<{ version: number }>(
    await tx.execute(sql`update tenant_keys set state = 'retired'
      where tenant_id = ${tenantId} and kind = ${kind} and version < ${version} and state = 'active' returning version`),
  );
  return rows.map((x) => Number(x.version));
}

/** How a job kind finishes (src/jobs/rotate.ts, kek.ts, master.ts). */
export interface FinishSpec {
  level: 'dek' | 'kek' | 'master';
  /** The audit chain: the tenant, or `_system`. */
  chain: string;
  /** What the job moves toward: `{ to_version }` or `{ to_key_id }` (audit detail and log). */
  target: Record<string, string | number>;
  /** Inside the finishing transaction: whether anything is left to move. */
  left(tx: VeilTx): Promise<boolean>;
  /** Inside it, once nothing is left: retires what the job replaced; the retired versions. */
  retire?(tx: VeilTx): Promise<number[]>;
  message: string;
}

/**
 * Marks the job done (and retires what it replaced) when nothing is left and `retire_after`
 * has passed, in one transaction holding the job row. Returns 'done', 'waiting' (work left or
 * inside the settle window) or 'stopped' (paused, cancelled, failed). Logs and audits the end.
 */
export async function finishJob(db: Db, job: Job, spec: FinishSpec, logger: Logger = silentLogger, audit?: RotationAudit): Promise<'done' | 'waiting' | 'stopped'> {
  const result = await db.orm.transaction(async (tx) => {
    const cur = resultRows<{ state: JobState; ready: boolean; done: string | number; created_at: Date | string }>(
      await tx.execute(sql`select state, retire_after <= now() as ready, done, created_at from veil_jobs where id = ${job.id} for update`),
    )[0];
    if (!cur || cur.state !== 'running') return { r: 'stopped' as const };
    if (!cur.ready || (await spec.left(tx))) return { r: 'waiting' as const };
    const retired = spec.retire ? await spec.retire(tx) : null;
    await tx.execute(sql`update veil_jobs set state = 'done', updated_at = now(), finished_at = now() where id = ${job.id}`);
    return { r: 'done' as const, retired, done: Number(cur.done), createdAt: date(cur.created_at) };
  });
  if (result.r === 'done') {
    const ms = Date.now() - result.createdAt.getTime();
    const retired = result.retired ? result.retired.join(',') || null : undefined;
    const camel = Object.fromEntries(Object.entries(spec.target).map(([k, v]) => [k.replace(/_(.)/g, (_, c: string) => c.toUpperCase()), v]));
    logger.info(spec.message, { jobId: job.id, tenantId: job.tenantId, ...camel, rows: result.done, ...(retired !== undefined ? { retiredVersions: retired } : {}), ms });
    await auditRotation(
      audit,
      spec.chain,
      { phase: 'finished', level: spec.level, job_id: job.id, ...spec.target, rows: result.done, ...(retired !== undefined ? { retired_versions: retired } : {}), duration_ms: ms },
      logger,
      job.id,
    );
  }
  return result.r;
}

type MappingRow = { token: string; type: string; dek_version: number; iv: Uint8Array; ciphertext: Uint8Array };

/**
 * One batch. Returns the rows re-encrypted (0: none left under an older DEK, or the job is no
 * longer running). Throws on database / key-service failures (nothing written) and
 * JobIntegrityError when a stored value does not authenticate.
 */
export async function runDekBatch(
  db: Db,
  keyring: Keyring,
  job: Job,
  opts: { batchSize?: number; crypto?: VaultCrypto } = {},
): Promise<number> {
  const cx = opts.crypto ?? webVaultCrypto;
  const n = Math.max(1, Math.min(opts.batchSize ?? DEFAULT_BATCH, MAX_BATCH));
  const t = tenantOf(job);
  // Keys are loaded before the transaction (on PGlite a query outside an open transaction waits for it).
  const versions = await db.rows<{ version: number }>(
    sql`select version from tenant_keys where tenant_id = ${t} and kind = 'dek' and version < ${job.toVersion} and state <> 'retired'`,
  );
  const keys = new Map<number, Uint8Array>();
  for (const v of versions) {
    const k = await keyring.dek(t, Number(v.version));
    if (k) keys.set(Number(v.version), k);
  }
  const target = await keyring.dek(t, job.toVersion);
  if (!target) throw new JobIntegrityError(`target data key version ${job.toVersion} is missing`);
  return inJobBatch(db, job, async (tx) => {
    const rows = resultRows<MappingRow>(
      await tx.execute(sql`select token, type, dek_version, iv, ciphertext from mappings
        where tenant_id = ${t} and dek_version < ${job.toVersion}
        limit ${n} for update skip locked`),
    );
    if (rows.length === 0) return 0;
    const tokens: string[] = [];
    const olds: number[] = [];
    const ivs: Uint8Array[] = [];
    const cts: Uint8Array[] = [];
    for (const r of rows) {
      const old = Number(r.dek_version);
      let key = keys.get(old);
      if (!key) {
        // A row under a DEK marked retired (a straggler) or unknown.
        key = (await keyring.dek(t, old)) ?? undefined;
        if (!key) throw new JobIntegrityError('a row names a data key version that does not exist');
        keys.set(old, key);
      }
      let plain: Uint8Array;
      try {
        plain = await cx.decrypt(key, r.iv, r.ciphertext, mappingAad(t, r.token, r.type, old));
      } catch (e) {
        if (e instanceof DecryptError) throw new JobIntegrityError('a stored value failed authentication during re-encryption');
        throw e;
      }
      const iv = randomBytes(GCM_IV_BYTES);
      const ct = await cx.encrypt(target, iv, plain, mappingAad(t, r.token, r.type, job.toVersion));
      plain.fill(0);
      tokens.push(r.token);
      olds.push(old);
      ivs.push(iv);
      cts.push(ct);
    }
    const updated = resultRows<{ token: string }>(
      await tx.execute(sql`update mappings m set dek_version = ${job.toVersion}, iv = u.iv, ciphertext = u.ct
        from unnest(${sql.param(tokens)}::text[], ${sql.param(olds)}::int[], ${sql.param(ivs)}::bytea[], ${sql.param(cts)}::bytea[]) as u(token, old, iv, ct)
        where m.tenant_id = ${t} and m.token = u.token and m.dek_version = u.old
        returning m.token`),
    ).length;
    await tx.execute(sql`update tenant_keys set encryptions = encryptions + ${updated}
      where tenant_id = ${t} and kind = 'dek' and version = ${job.toVersion}`);
    return updated;
  });
}

/**
 * Retires the older DEKs and marks the job done when nothing is left and `retire_after` has
 * passed. Returns 'done', 'waiting' (rows left or still inside the settle window) or 'stopped'.
 */
export function finishDekRotation(db: Db, job: Job, logger: Logger = silentLogger, audit?: RotationAudit): Promise<'done' | 'waiting' | 'stopped'> {
  const t = tenantOf(job);
  return finishTenantJob(db, job, 'dek', sql`select 1 from mappings where tenant_id = ${t} and dek_version < ${job.toVersion} limit 1`, logger, audit);
}

/** A per-tenant rotation (DEK, KEK) is done when `leftQuery` finds nothing; the older keys of its kind are retired. */
export function finishTenantJob(db: Db, job: Job, level: 'dek' | 'kek', leftQuery: SQL, logger: Logger, audit?: RotationAudit): Promise<'done' | 'waiting' | 'stopped'> {
  const t = tenantOf(job);
  const spec: FinishSpec = {
    level,
    chain: t,
    target: { to_version: job.toVersion },
    message: level === 'dek' ? 'key rotation finished' : 'tenant key rotation finished',
    left: async (tx) => resultRows(await tx.execute(leftQuery)).length > 0,
    retire: (tx) => retireOlder(tx, t, level, job.toVersion),
  };
  return finishJob(db, job, spec, logger, audit);
}
