/**
 * `veil backup --out FILE`, `veil backup --verify FILE`, `veil restore --in FILE`
 * (dispatched from src/runtime/node/cli/index.ts). Backups and restores are recorded in the `_system` audit
 * chain (the backup event is written first, so the archive holds it). A progress bar goes to
 * stderr when it is a terminal. Prints counts and file names only.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { SYSTEM_CHAIN } from '../../../audit/store.js';
import { restoreLines, RestoreTargetNotEmpty } from '../../../backup/dump.js';
import { BackupFormatError } from '../../../backup/format.js';
import { openComplianceContext } from './audit.js';
import { type CliIo, CliUsageError } from './common.js';
import { noProgress, openBackup, verifyBackup, writeBackup, type Progress } from '../backup-file.js';


function bar(label: string): Progress {
  if (!process.stderr.isTTY) return noProgress;
  const b = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} rows | {duration}s`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  return { start: (t) => b.start(Math.max(t, 1), 0), add: (n) => b.increment(n), stop: () => b.stop() };
}

export async function runBackupCli(argv: string[], io: CliIo): Promise<number> {
  const { values: o } = parseArgs({ args: argv, strict: true, options: { out: { type: 'string' }, verify: { type: 'string' } } });
  if ((o.out === undefined) === (o.verify === undefined)) throw new CliUsageError('give --out <file> or --verify <file>');
  const cx = await openComplianceContext(io);
  try {
    if (o.verify) {
      try {
        const v = await verifyBackup(o.verify, cx.provider, bar('verify'));
        const total = Object.values(v.rows).reduce((a, b) => a + b, 0);
        io.out(`backup ok: ${o.verify} (made ${v.header.createdAt}, ${v.header.tenants.length} tenants, ${total} rows, ${v.rows.mappings ?? 0} mappings)`);
        return 0;
      } catch (e) {
        if (e instanceof BackupFormatError) {
          io.err(`error: backup REJECTED: ${e.message}`);
          return 1;
        }
        throw e;
      }
    }
    const mappings = Number((await cx.db.query<{ n: number }>('select count(*)::int as n from mappings', []))[0]?.n ?? 0);
    await cx.audit.append(SYSTEM_CHAIN, [{ kind: 'backup', tenantId: SYSTEM_CHAIN, endpoint: 'cli', detail: { mappings } }]);
    const t0 = performance.now();
    const r = await writeBackup(cx.db, cx.provider, o.out!, bar('backup'));
    const s = (performance.now() - t0) / 1000;
    io.out(`wrote ${o.out}: ${r.header.tenants.length} tenants, ${mappings} mappings, ${(r.bytes / 1e6).toFixed(1)} MB in ${s.toFixed(1)} s`);
    return 0;
  } finally {
    await cx.close();
  }
}

export async function runRestoreCli(argv: string[], io: CliIo): Promise<number> {
  const { values: o } = parseArgs({ args: argv, strict: true, options: { in: { type: 'string' } } });
  if (!o.in) throw new CliUsageError('missing --in <file>');
  const cx = await openComplianceContext(io);
  try {
    // A full authentication pass first: a tampered file is refused before anything is written.
    let verified;
    try {
      verified = await verifyBackup(o.in, cx.provider, bar('verify'));
    } catch (e) {
      if (e instanceof BackupFormatError) {
        io.err(`error: backup REJECTED, nothing restored: ${e.message}`);
        return 1;
      }
      throw e;
    }
    const { lines } = await openBackup(o.in, cx.provider);
    const p = bar('restore');
    p.start(Object.values(verified.rows).reduce((a, b) => a + b, 0));
    let counts: Record<string, number>;
    try {
      counts = await restoreLines(cx.db, lines, (n) => p.add(n));
    } catch (e) {
      if (e instanceof RestoreTargetNotEmpty || e instanceof BackupFormatError) {
        io.err(`error: nothing restored: ${e.message}`);
        return 1;
      }
      throw e;
    } finally {
      p.stop();
    }
    await cx.audit.append(SYSTEM_CHAIN, [
      { kind: 'backup.restored', tenantId: SYSTEM_CHAIN, endpoint: 'cli', detail: { mappings: counts.mappings ?? 0, made_at: verified.header.createdAt } },
    ]);
    io.out(`restored ${o.in}: ${verified.header.tenants.length} tenants, ${counts.mappings ?? 0} mappings, ${counts.audit_events ?? 0} audit events`);
    return 0;
  } finally {
    await cx.close();
  }
}
