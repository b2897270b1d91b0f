/**
 * What every `veil` command group shares: its I/O, the usage error (exit 2), the database as
 * the CLI opens it (through a running gateway's socket on PGlite, src/db/data-dir.node.ts),
 * the core groups' options, and table / date formatting. Prints no values.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../../../core/config.js';
import { silentLogger } from '../../../core/types.js';
import type { Db } from '../../../db/client.js';
import { openDatabaseForCli } from '../../../db/open.node.js';
import type { AdminDeps } from '../../../compliance/admin.js';
import { createPolicyStore } from '../../../policy/store.js';
import { createApiKeyStore } from '../../../tenants/api-keys.js';

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
  /** An open database to use instead of opening one from `env` (in-process callers, tests); not closed. */
  db?: Db;
}

/** One command group (`veil <group> …`): gets the arguments after the group name; returns the exit code. */
export type CliCommand = (argv: string[], io: CliIo) => Promise<number>;

/** Wrong usage: printed with the help, exit 2. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

/** Options of the core groups (tenants, keys, policy, jobs, migrate). */
export function parseCoreArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      tenant: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      id: { type: 'string' },
      file: { type: 'string' },
      json: { type: 'boolean', default: false },
      'rows-per-second': { type: 'string' },
      wait: { type: 'boolean', default: false },
      kek: { type: 'boolean', default: false },
      master: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

export function need(v: string | undefined, what: string): string {
  if (!v) throw new CliUsageError(`missing ${what}`);
  return v;
}

/** The configuration and the database, for the duration of `fn` (closed after unless the caller passed `io.db`). */
export async function withCliDb<T>(io: CliIo, fn: (db: Db, cx: { config: Config; viaGateway: number | null }) => Promise<T>): Promise<T> {
  const config = loadConfig(io.env);
  if (io.db) return fn(io.db, { config, viaGateway: null });
  const opened = await openDatabaseForCli(config, { logger: silentLogger });
  try {
    return await fn(opened.db, { config, viaGateway: opened.viaGateway });
  } finally {
    await opened.db.close().catch(() => {});
  }
}

/**
 * Who an admin event names when the CLI acts: `via: 'cli'` and the operating-system user
 * (`os:<name>`) — the operator, never a customer; the CLI has no API key.
 */
export function cliActor(): { via: 'cli'; principalId: string } {
  let name = 'unknown';
  try {
    name = userInfo().username || name;
  } catch {
    // no passwd entry for this uid (some containers)
  }
  return { via: 'cli', principalId: `os:${name.slice(0, 64)}` };
}

/**
 * An audited admin command: the database (through a running gateway's socket on PGlite), the
 * master key verified as the gateway verifies it, and the stores the actions go through
 * (src/compliance/admin.ts).
 */
export async function withAdmin<T>(io: CliIo, fn: (deps: AdminDeps, cx: { config: Config; viaGateway: number | null }) => Promise<T>): Promise<T> {
  const { openComplianceContext } = await import('./audit.js');
  const cx = await openComplianceContext(io, { throughGateway: true, verifyKey: true });
  try {
    return await fn({ db: cx.db, keys: createApiKeyStore(cx.db), policies: createPolicyStore(cx.db), audit: cx.audit }, { config: cx.config, viaGateway: cx.viaGateway });
  } finally {
    await cx.close();
  }
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export const iso = (d: Date | null) => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');

/**
 * Error text without values: the message of our own errors, the code/name of the others. A
 * database error of SQLSTATE class 22 (data exception: `invalid input syntax for type …: "<the
 * value>"`) is named by its code only, since its message quotes the offending value.
 */
export function describeCliError(e: unknown): string {
  const err = e as { message?: string; code?: string; name?: string };
  if (err?.message?.startsWith('Invalid configuration')) return err.message;
  if (err?.name === 'DataDirLockedError' || err?.name === 'AdminInputError' || err?.name === 'MasterKeyMismatchError') return err.message!;
  if (err?.code === '23505') return 'already exists';
  if (err?.code === 'ECONNREFUSED') return 'cannot connect to the database (connection refused)';
  if (typeof err?.code === 'string' && /^22[0-9A-Z]{3}$/.test(err.code)) return `the database refused a value (SQLSTATE ${err.code})`;
  return `${err?.name ?? 'Error'}${err?.code ? ` (${err.code})` : ''}: ${err?.message ?? String(e)}`;
}
