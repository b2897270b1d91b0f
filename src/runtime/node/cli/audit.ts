/**
 * `veil audit …` commands (dispatched from src/runtime/node/cli/index.ts):
 *   verify [--tenant T] [--json]           exit 0 when every chain is intact, 1 naming the first bad event
 *   export --tenant T [--since ISO] [--until ISO] [--out FILE]
 *                                          JSONL, one `{"tenant","seq","hash","event"}` per line
 *   tail [--tenant T] [--interval-ms N] [--limit N]
 *                                          follows new events (JSONL) until interrupted
 *   prune [--tenant T] [--before ISO]      deletes events older than VEIL_AUDIT_RETENTION_DAYS (or
 *                                          --before), keeping a signed checkpoint at the cut
 * Output holds ids, tokens and types only (events never hold values). Exit 2 on usage errors.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import type { AuditStore } from '../../../audit/store.js';
import { loadConfig, type Config } from '../../../core/config.js';
import { silentLogger, type Logger } from '../../../core/types.js';
import type { Db } from '../../../db/client.js';
import { openDatabase, openDatabaseForCli } from '../../../db/open.node.js';
import type { MasterKeyProvider } from '../../../keys/provider.js';
import { type CliIo, CliUsageError } from './common.js';
import { auditStoreFromConfig, openMasterKey } from '../master-key-services.js';



/** Database, master key and audit store, as the gateway builds them. */
export interface ComplianceCliContext {
  readonly config: Config;
  readonly db: Db;
  readonly provider: MasterKeyProvider;
  readonly audit: AuditStore;
  /** Pid of the gateway whose PGlite the CLI reaches through its socket, or null. */
  readonly viaGateway: number | null;
  /** Closes the database unless the caller passed its own (`CliIo.db`). */
  close(): Promise<void>;
}

export interface ComplianceCliOptions {
  /**
   * On PGlite, go through a running gateway's socket (src/db/data-dir.node.ts) instead of
   * refusing while it owns the data directory. Its transactions and the CLI's never
   * interleave, and the audit head row serializes appends, so both write one linear chain.
   */
  throughGateway?: boolean;
  /** Verify the master key against the database's key check value (recorded on a fresh store). */
  verifyKey?: boolean;
}

/** Warnings and errors (a generated development key, a readable key file) go to stderr. */
export function cliLogger(io: Pick<CliIo, 'err'>): Logger {
  const say = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    io.err(`${level}: ${msg}${fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ''}`);
  return { debug() {}, info() {}, warn: say('warning'), error: say('error') };
}

export async function openComplianceContext(io: Pick<CliIo, 'env' | 'db' | 'err'>, opts: ComplianceCliOptions = {}): Promise<ComplianceCliContext> {
  const config = loadConfig(io.env);
  let viaGateway: number | null = null;
  let db: Db;
  if (io.db) db = io.db;
  else if (opts.throughGateway) ({ db, viaGateway } = await openDatabaseForCli(config, { logger: silentLogger }));
  else db = await openDatabase(config, { logger: silentLogger });
  const close = async () => {
    if (!io.db) await db.close().catch(() => {});
  };
  try {
    const logger = cliLogger(io);
    const provider = await openMasterKey(config, db, logger, io.env, { verify: opts.verifyKey === true });
    const audit = auditStoreFromConfig(config, db, provider, logger);
    return { config, db, provider, audit, viaGateway, close };
  } catch (e) {
    await close();
    throw e;
  }
}

function parseIso(v: string | undefined, what: string): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new CliUsageError(`${what} must be an ISO-8601 date or time (got "${v}")`);
  return d;
}

const line = (tenant: string, seq: number, hash: string, body: string) =>
  `{"tenant":${JSON.stringify(tenant)},"seq":${seq},"hash":"${hash}","event":${body}}`;

export async function runAuditCli(argv: string[], io: CliIo): Promise<number> {
  const { values: o, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      tenant: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      before: { type: 'string' },
      out: { type: 'string' },
      limit: { type: 'string' },
      'interval-ms': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const sub = positionals[0];
  if (!sub || !['verify', 'export', 'tail', 'prune'].includes(sub)) throw new CliUsageError(`unknown subcommand "audit ${sub ?? ''}"`.trim());
  const since = parseIso(o.since, '--since');
  const until = parseIso(o.until, '--until');
  const before = parseIso(o.before, '--before');
  if (sub === 'export' && !o.tenant) throw new CliUsageError('missing --tenant <id>');
  const limit = o.limit !== undefined ? Number(o.limit) : Infinity;
  if (!(limit > 0)) throw new CliUsageError('--limit must be a positive number');
  const interval = o['interval-ms'] !== undefined ? Number(o['interval-ms']) : 1000;
  if (!(interval >= 10)) throw new CliUsageError('--interval-ms must be at least 10');

  // Through a running gateway's socket on PGlite: verify, export and tail work while it serves.
  const cx = await openComplianceContext(io, { throughGateway: true });
  try {
    const { audit } = cx;
    if (sub === 'verify') {
      const chains = o.tenant ? [o.tenant] : await audit.chains();
      let bad = 0;
      const results = [];
      for (const t of chains) {
        const r = await audit.verify(t);
        results.push(r);
        if (!r.ok) bad++;
        if (o.json) continue;
        if (r.ok) {
          const range = r.firstSeq === null ? 'no events' : `${r.events} events (${r.firstSeq}..${r.lastSeq})`;
          io.out(`ok    ${t}: ${range}, ${r.checkpoints} checkpoints`);
        } else {
          io.out(`FAIL  ${t}: ${r.problem!.seq !== null ? `event ${r.problem!.seq}: ` : ''}${r.problem!.message}`);
        }
      }
      if (o.json) io.out(JSON.stringify(results));
      else if (chains.length === 0) io.out('no audit events yet');
      else io.out(bad === 0 ? `all ${chains.length} audit chains intact` : `${bad} of ${chains.length} audit chains FAILED verification`);
      return bad === 0 ? 0 : 1;
    }
    if (sub === 'export') {
      const out = o.out ? createWriteStream(o.out, { flags: 'wx', mode: 0o600 }) : null;
      let n = 0;
      for await (const e of audit.events(o.tenant!, { ...(since ? { since } : {}), ...(until ? { until } : {}) })) {
        const l = line(e.tenantId, e.seq, e.hash, e.body);
        if (out) {
          if (!out.write(l + '\n')) await once(out, 'drain');
        } else io.out(l);
        n++;
      }
      if (out) {
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
        io.err(`exported ${n} events of tenant ${o.tenant} to ${o.out}`);
      }
      return 0;
    }
    if (sub === 'prune') {
      let cut = before;
      if (!cut) {
        if (cx.config.VEIL_AUDIT_RETENTION_DAYS === 0) throw new CliUsageError('retention is off (VEIL_AUDIT_RETENTION_DAYS=0): pass --before <ISO> to prune');
        cut = new Date(Date.now() - cx.config.VEIL_AUDIT_RETENTION_DAYS * 86_400_000);
      }
      const chains = o.tenant ? [o.tenant] : await audit.chains();
      for (const t of chains) {
        const r = await audit.prune(t, cut);
        io.out(r.throughSeq === null ? `${t}: nothing before ${cut.toISOString()}` : `${t}: pruned ${r.deleted} events (through ${r.throughSeq}); checkpoint kept`);
      }
      return 0;
    }
    // tail: start at the current heads, then poll.
    const last = o.tenant ? new Map([[o.tenant, (await audit.heads()).get(o.tenant) ?? 0]]) : await audit.heads();
    let printed = 0;
    let stop = false;
    const onSig = () => (stop = true);
    process.once('SIGINT', onSig);
    try {
      while (!stop && printed < limit) {
        const heads = await audit.heads();
        for (const [t, seq] of heads) {
          if (o.tenant && t !== o.tenant) continue;
          const from = last.get(t) ?? 0;
          if (seq <= from) continue;
          for await (const e of audit.events(t, { afterSeq: from })) {
            io.out(line(t, e.seq, e.hash, e.body));
            last.set(t, e.seq);
            if (++printed >= limit) break;
          }
          if (printed >= limit) break;
        }
        if (printed < limit && !stop) await new Promise((r) => setTimeout(r, interval));
      }
    } finally {
      process.off('SIGINT', onSig);
    }
    return 0;
  } finally {
    await cx.close();
  }
}
