/**
 * The `veil keys rotate` and `veil jobs …` commands (dispatched from src/runtime/node/cli/index.ts and keys.ts):
 *   keys rotate --tenant T [--rows-per-second N] [--wait]   new primary DEK now + re-encryption job
 *   keys rotate --tenant T --kek [--wait]                   new tenant KEK now (blind key frozen) + DEK re-wrap job
 *   keys rotate --master [--rows-per-second N] [--wait]     re-wrap every KEK under the current master key
 *   jobs status [<job-id>] [--tenant T] [--json]            jobs with progress
 *   jobs run [<job-id>] [--wait]                            work running jobs here, then exit
 *   jobs pause|resume|cancel <job-id>
 * `--wait` works the job in this process (a gateway's poller may share it) and shows a
 * cli-progress bar (rows done / total, rate, ETA) on a terminal, plain lines otherwise.
 * Node-only (the master key comes from src/keys/master-key.node.ts).
 */
import cliProgress from 'cli-progress';
import type { Config } from '../../../core/config.js';
import type { Logger } from '../../../core/types.js';
import type { Db } from '../../../db/client.js';
import { createMasterKeyProvider } from '../../../keys/master-key.node.js';
import { nodeVaultCrypto } from '../../../keys/crypto.node.js';
import { verifyMasterKey } from '../../../keys/key-check.js';
import { createKeyring } from '../../../keys/keyring.js';
import { createAuditStore } from '../../../audit/store.js';
import { getJob, JobError, listJobs, setJobState, startDekRotation, type Job } from '../../../jobs/rotate.js';
import { createJobRunner } from '../../../jobs/runner.js';
import { startMasterRotation } from '../../../jobs/master.js';
import { startKekRotation } from '../../../jobs/kek.js';
import { silentLogger } from '../../../core/types.js';
import { type CliIo, parseCoreArgs, withCliDb } from './common.js';


export interface JobsCliContext {
  config: Config;
  logger: Logger;
  open: () => Promise<Db>;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Whether stderr is a terminal (progress bar) — default process.stderr.isTTY. */
  tty?: boolean;
}

export interface JobsCliOptions {
  tenant?: string;
  'rows-per-second'?: string;
  wait?: boolean;
  json?: boolean;
  kek?: boolean;
  master?: boolean;
}

const fmt = (j: Job) =>
  `${j.id}  ${j.kind}  ${j.tenantId === null ? `all tenants → ${j.target}` : `tenant ${j.tenantId}  v${j.toVersion}`}  ${j.state}  ${j.done}/${j.total}` +
  (j.total > 0 ? ` (${Math.floor((100 * Math.min(j.done, j.total)) / j.total)}%)` : '') +
  (j.error ? `  error: ${j.error}` : '');

async function keyringFor(ctx: JobsCliContext, db: Db) {
  const provider = await createMasterKeyProvider(ctx.config, ctx.logger);
  await verifyMasterKey(db, provider, ctx.logger);
  const audit = createAuditStore({ db, provider, logger: ctx.logger, hmac: nodeVaultCrypto.hmac, timeoutMs: ctx.config.VEIL_DB_TIMEOUT_MS });
  return Object.assign(createKeyring({ db, provider, logger: ctx.logger }), { audit, provider });
}

/** Works the job here until it is done, drawing progress. */
async function waitFor(ctx: JobsCliContext, db: Db, job: Job): Promise<Job> {
  const keyring = await keyringFor(ctx, db);
  const tty = ctx.tty ?? !!process.stderr.isTTY;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: `${job.kind === 'rotate_dek' ? 'rotating' : 're-wrapping'} {bar} {value}/{total} ${job.kind === 'rotate_dek' ? 'rows' : 'keys'} | {rate}/s | ETA {eta_formatted}`, stream: process.stderr, etaBuffer: 50 },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const t0 = Date.now();
  let done = job.done;
  bar?.start(job.total, done, { rate: 0 });
  let lastLine = 0;
  const runner = createJobRunner({
    db,
    keyring,
    provider: keyring.provider,
    audit: keyring.audit,
    crypto: nodeVaultCrypto,
    logger: ctx.logger,
    settlePollMs: 500,
    onBatch: (_j, n) => {
      done += n;
      const rate = Math.round(((done - job.done) * 1000) / Math.max(1, Date.now() - t0));
      if (bar) bar.update(Math.min(done, job.total), { rate });
      else if (Date.now() - lastLine >= 1000) {
        lastLine = Date.now();
        ctx.err(`${job.id}: ${done}/${job.total} ${job.kind === 'rotate_dek' ? 'rows' : 'keys'}, ${rate}/s`);
      }
    },
  });
  await runner.runUntilIdle({ waitSettle: true, jobId: job.id });
  bar?.stop();
  return (await getJob(db, job.id)) ?? job;
}

/** After a rotation started: the job (JSON) or a line and how to follow it; with --wait, works it here. */
async function started(ctx: JobsCliContext, db: Db, o: JobsCliOptions, job: Job, line: string, follow: string): Promise<number> {
  if (o.json && !o.wait) ctx.out(JSON.stringify(job));
  else ctx.out(line);
  if (!o.wait) {
    if (!o.json) ctx.out(follow);
    return 0;
  }
  const end = await waitFor(ctx, db, job);
  ctx.out(o.json ? JSON.stringify(end) : fmt(end));
  return end.state === 'done' ? 0 : 1;
}

/** Runs one jobs command; returns the exit code (2 for usage errors). */
export async function runJobsCommand(cmd: string, sub: string | undefined, rest: string[], o: JobsCliOptions, ctx: JobsCliContext): Promise<number> {
  try {
    if (cmd === 'keys' && sub === 'rotate') {
      if (o.master && (o.tenant || o.kek)) {
        ctx.err('error: --master re-wraps every tenant: it takes no --tenant or --kek');
        return 2;
      }
      if (!o.master && !o.tenant) {
        ctx.err('error: missing --tenant <id> (or --master)');
        return 2;
      }
      let rps: number | null = null;
      if (o['rows-per-second'] !== undefined) {
        rps = Number(o['rows-per-second']);
        if (!Number.isInteger(rps) || rps <= 0) {
          ctx.err('error: --rows-per-second must be a positive integer');
          return 2;
        }
      }
      const db = await ctx.open();
      const keyring = await keyringFor(ctx, db);
      if (o.master) {
        const job = await startMasterRotation({ db, provider: keyring.provider, audit: keyring.audit, rowsPerSecond: rps, logger: ctx.logger });
        return started(ctx, db, o, job, `master key ${job.target}: job ${job.id} re-wraps ${job.total} keys (tenant keys, audit root key, key check value)`, `follow it with: veil jobs status ${job.id}; keep the previous master key configured until it is done`);
      }
      const tenant = o.tenant!;
      if (o.kek) {
        const job = await startKekRotation({ db, keyring, provider: keyring.provider, audit: keyring.audit, tenantId: tenant, rowsPerSecond: rps, logger: ctx.logger });
        return started(ctx, db, o, job, `tenant ${job.tenantId}: new key-encryption key v${job.toVersion} is in use; job ${job.id} re-wraps ${job.total} keys`, `follow it with: veil jobs status ${job.id} (running gateways work it; or run: veil jobs run ${job.id})`);
      }
      // Other processes may encrypt under the old DEK until their lease expires (key-cache TTL).
      const job = await startDekRotation({ db, keyring, audit: keyring.audit, tenantId: tenant, rowsPerSecond: rps, settleMs: ctx.config.VEIL_KEY_CACHE_TTL_MS + 5_000, logger: ctx.logger });
      return started(ctx, db, o, job, `tenant ${job.tenantId}: new data key v${job.toVersion} is in use; job ${job.id} re-encrypts ${job.total} rows`, `follow it with: veil jobs status ${job.id} (running gateways work it; or run: veil jobs run ${job.id})`);
    }
    if (cmd === 'jobs' && sub === 'status') {
      const db = await ctx.open();
      const list = rest[0] ? [await getJob(db, rest[0])].filter((j): j is Job => !!j) : await listJobs(db, { tenantId: o.tenant });
      if (rest[0] && list.length === 0) throw new JobError(`no job with id ${rest[0]}`);
      if (o.json) ctx.out(JSON.stringify(rest[0] ? list[0] : list));
      else ctx.out(list.length === 0 ? 'no jobs' : list.map(fmt).join('\n'));
      return 0;
    }
    if (cmd === 'jobs' && sub === 'run') {
      const db = await ctx.open();
      if (rest[0]) {
        const j = await getJob(db, rest[0]);
        if (!j) throw new JobError(`no job with id ${rest[0]}`);
        const end = await waitFor(ctx, db, j);
        ctx.out(fmt(end));
        return 0;
      }
      const keyring = await keyringFor(ctx, db);
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await createJobRunner({ db, keyring, provider: keyring.provider, audit: keyring.audit, crypto: nodeVaultCrypto, logger: ctx.logger }).runUntilIdle({ waitSettle: true, signal: ac.signal });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      const list = await listJobs(db, { limit: 20 });
      ctx.out(list.length === 0 ? 'no jobs' : list.map(fmt).join('\n'));
      return 0;
    }
    if (cmd === 'jobs' && (sub === 'pause' || sub === 'resume' || sub === 'cancel')) {
      if (!rest[0]) {
        ctx.err(`error: missing job id: veil jobs ${sub} <job-id>`);
        return 2;
      }
      const j = await setJobState(await ctx.open(), rest[0], sub);
      ctx.out(fmt(j));
      return 0;
    }
    ctx.err(`error: unknown subcommand "${`${cmd} ${sub ?? ''}`.trim()}"`);
    return 2;
  } catch (e) {
    if (e instanceof JobError) {
      ctx.err(`error: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

/** `veil jobs …` (argv after `jobs`) and `veil keys rotate …` (argv after `keys`), on the CLI's database. */
export function runJobsCli(group: 'jobs' | 'keys') {
  return async (argv: string[], io: CliIo): Promise<number> => {
    const { values: o, positionals } = parseCoreArgs(argv);
    const [sub, ...rest] = positionals;
    return withCliDb(io, (db, { config }) =>
      runJobsCommand(group, sub, rest, o, { config, logger: silentLogger, open: async () => db, out: io.out, err: io.err }),
    );
  };
}
