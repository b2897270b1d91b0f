/**
 * The `veil` operator CLI: `npm run veil -- <command>` or `npx tsx src/node/cli.ts <command>`.
 * Uses the same configuration (environment) and database as the gateway. On PGlite, while a
 * gateway owns the data directory, commands go through that gateway's socket
 * (src/node/data-dir.node.ts), so changes reach it at once and the files are never opened twice.
 * Exit codes: 0 success, 1 failure (database, not found), 2 usage error.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createApiKeyStore, type Role } from '../auth/api-keys.js';
import { loadConfig } from '../core/config.js';
import { isVeilError } from '../core/errors.js';
import { OPEN_TENANT_ID, silentLogger } from '../core/types.js';
import { openDatabaseForCli } from '../db/open.node.js';
import type { Db } from '../db/client.js';
import { eq } from 'drizzle-orm';
import { tenants } from '../db/schema.js';
import { DEFAULT_POLICY, ROLES } from '../policy/index.js';
import { mergePolicy, parsePolicyOverride, PolicyValidationError } from '../policy/override.js';
import { createPolicyStore } from '../policy/store.js';
import { AUDIT_HELP, BACKUP_HELP, ERASE_HELP } from './cli-help.js';
import { JOBS_HELP, runJobsCommand } from '../jobs/cli.js';

export const HELP = `veil — operator commands for the Veil gateway

Usage: veil <command> [options]

Commands:
  migrate                                   apply pending database migrations
  tenants create <name> [--id <id>]         create a tenant; prints its id
  tenants list                              list tenants
  keys issue --tenant <id> --name <name> --role <admin|user|restricted>
                                            issue an API key (printed ONCE)
  keys list [--tenant <id>]                 list API keys (prefix only, never the key)
  keys revoke <key-id>                      revoke an API key
${JOBS_HELP}
  policy show <tenant-id>                   print the tenant's policy override and the
                                            effective policy (override merged onto the default)
  policy set <tenant-id> --file <policy.json>
                                            validate and store a policy override
  policy reset <tenant-id>                  remove the override (back to the default policy)
${AUDIT_HELP}
${ERASE_HELP}
${BACKUP_HELP}
  collections migrate …                     migrate a JSONL export into an encrypted RAG collection
                                            (veil collections migrate --help)
  help                                      show this help

Options:
  --json                                    machine-readable output for list commands

A policy override is a JSON object; every field is optional and merged onto the default:
  {"sensitivity": {"<TYPE>": "highly_sensitive|sensitive|contextual|public"},
   "detect": {"<class>": "mask|pass"}, "detectType": {"<TYPE>": "mask|pass"},
   "restore": {"<role>": {"<class>": "value|masked|placeholder"}},
   "restoreDefault": {"<class>": "value|masked|placeholder"}}
Tenant "${OPEN_TENANT_ID}" is the open single-tenant mode tenant (created when needed).
Running gateways pick up policy changes within a few seconds.

The database is PGlite in $VEIL_DATA_DIR/pglite unless DATABASE_URL is set. While a gateway
runs on that PGlite folder, commands go through the gateway (its socket in the folder).`;

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
  /** An open database to use instead of opening one from `env` (in-process callers, tests); not closed. */
  db?: Db;
}

class UsageError extends Error {}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const iso = (d: Date | null) => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  // Compliance command groups live in their own files, loaded only when used.
  const groups: Record<string, () => Promise<(argv: string[], io: CliIo) => Promise<number>>> = {
    audit: async () => (await import('./cli-audit.js')).runAuditCli,
    erase: async () => (await import('./cli-erase.js')).runEraseCli,
    backup: async () => (await import('./cli-backup.js')).runBackupCli,
    restore: async () => (await import('./cli-backup.js')).runRestoreCli,
    collections: async () => (await import('../rag/cli.node.js')).runCollectionsCli, // RAG migration (src/rag)
  };
  if (argv[0] === 'tenants' && argv[1] === 'shred') return runGroup(async () => (await import('./cli-erase.js')).runShredCli, argv.slice(2), io);
  const group = Object.hasOwn(groups, argv[0] ?? '') ? groups[argv[0]!] : undefined;
  if (group) return runGroup(group, argv.slice(1), io);
  let parsed;
  try {
    parsed = parseArgs({
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
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    io.err(`error: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values: o, positionals: pos } = parsed;
  const [cmd, sub, ...rest] = pos;
  if (!cmd || cmd === 'help' || o.help) {
    io.out(HELP);
    return 0;
  }
  const known = ['migrate', 'tenants', 'keys', 'policy', 'jobs'];
  if (!known.includes(cmd)) {
    io.err(`error: unknown command "${cmd}"\n\n${HELP}`);
    return 2;
  }

  let db: Db | undefined;
  try {
    const config = loadConfig(io.env);
    let viaGateway: number | null = null;
    const open = async () => {
      if (io.db) return io.db;
      const o = await openDatabaseForCli(config, { logger: silentLogger });
      viaGateway = o.viaGateway;
      return (db = o.db);
    };
    const need = (v: string | undefined, what: string) => {
      if (!v) throw new UsageError(`missing ${what}`);
      return v;
    };

    if (cmd === 'jobs' || (cmd === 'keys' && sub === 'rotate')) return await runJobsCommand(cmd, sub, rest, o, { config, logger: silentLogger, open, out: io.out, err: io.err });
    if (cmd === 'migrate') {
      const opened = await open();
      if (viaGateway !== null) io.out(`migrations applied (PGlite in ${config.VEIL_DATA_DIR}/pglite, by the running gateway, pid ${viaGateway})`);
      else io.out(`migrations applied (${opened.kind === 'postgres' ? 'PostgreSQL' : `PGlite in ${config.VEIL_DATA_DIR}/pglite`})`);
      return 0;
    }
    if (cmd === 'tenants' && sub === 'create') {
      const name = need(rest.join(' ').trim() || o.name, 'tenant name: veil tenants create <name>');
      const store = createApiKeyStore(await open());
      const { id } = await store.createTenant(name, o.id);
      io.out(o.json ? JSON.stringify({ id, name }) : `created tenant ${id} (${name})`);
      return 0;
    }
    if (cmd === 'tenants' && sub === 'list') {
      const list = await createApiKeyStore(await open()).listTenants();
      if (o.json) io.out(JSON.stringify(list));
      else if (list.length === 0) io.out('no tenants');
      else io.out(table([['ID', 'NAME', 'STATUS', 'CREATED'], ...list.map((t) => [t.id, t.name, t.status, iso(t.createdAt)])]));
      return 0;
    }
    if (cmd === 'keys' && sub === 'issue') {
      const tenantId = need(o.tenant, '--tenant <id>');
      const name = need(o.name, '--name <name>');
      const role = need(o.role, `--role <${ROLES.join('|')}>`);
      if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
      const k = await createApiKeyStore(await open()).issueKey({ tenantId, name, role: role as Role });
      if (o.json) io.out(JSON.stringify({ id: k.id, key: k.key, tenantId, name, role, principalId: k.principalId }));
      else {
        io.out(`issued key ${k.id} for tenant ${tenantId} (name ${name}, role ${role}):\n\n  ${k.key}\n`);
        io.err('WARNING: this key is shown only once. Store it in a secrets manager now; Veil keeps only its hash.');
      }
      if (!config.VEIL_UPSTREAM_API_KEY) {
        io.err(
          'WARNING: VEIL_UPSTREAM_API_KEY is not set in this environment. Once an API key exists, a gateway without ' +
            'VEIL_UPSTREAM_API_KEY answers every request with 500 veil_misconfigured (it never forwards Veil keys ' +
            'upstream): set it where the gateway runs, then restart the gateway.',
        );
      }
      return 0;
    }
    if (cmd === 'keys' && sub === 'list') {
      const list = await createApiKeyStore(await open()).listKeys(o.tenant);
      if (o.json) io.out(JSON.stringify(list));
      else if (list.length === 0) io.out('no keys');
      else
        io.out(
          table([
            ['ID', 'TENANT', 'NAME', 'ROLE', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'],
            ...list.map((k) => [k.id, k.tenantId, k.name, k.role, k.prefix + '…', iso(k.createdAt), iso(k.lastUsedAt), iso(k.revokedAt)]),
          ]),
        );
      return 0;
    }
    if (cmd === 'keys' && sub === 'revoke') {
      const id = need(rest[0], 'key id: veil keys revoke <key-id>');
      const ok = await createApiKeyStore(await open()).revokeKey(id);
      if (!ok) {
        io.err(`error: no active key with id ${id}`);
        return 1;
      }
      io.out(`revoked key ${id} (takes effect in running gateways within a few seconds)`);
      return 0;
    }
    if (cmd === 'policy' && sub === 'show') {
      const tenantId = need(rest[0], 'tenant id: veil policy show <tenant-id>');
      const d = await open();
      const row = await d.orm.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId)).limit(1);
      if (row.length === 0 && tenantId !== OPEN_TENANT_ID) {
        io.err(`error: no tenant with id ${tenantId}`);
        return 1;
      }
      const override = await createPolicyStore(d).getOverride(tenantId);
      const effective = override ? mergePolicy(DEFAULT_POLICY, override) : DEFAULT_POLICY;
      io.out(JSON.stringify({ tenantId, override, effective }, null, o.json ? undefined : 2));
      return 0;
    }
    if (cmd === 'policy' && sub === 'set') {
      const tenantId = need(rest[0], 'tenant id: veil policy set <tenant-id> --file <policy.json>');
      const file = need(o.file, '--file <policy.json>');
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read ${file} (${(e as { code?: string }).code ?? 'error'})`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new UsageError(`${file} is not valid JSON: ${(e as Error).message}`);
      }
      const override = parsePolicyOverride(json); // validated before the database is opened
      await createPolicyStore(await open()).setOverride(tenantId, override);
      io.out(`stored the policy override of tenant ${tenantId} (running gateways pick it up within a few seconds)`);
      return 0;
    }
    if (cmd === 'policy' && sub === 'reset') {
      const tenantId = need(rest[0], 'tenant id: veil policy reset <tenant-id>');
      await createPolicyStore(await open()).setOverride(tenantId, null);
      io.out(`tenant ${tenantId} now uses the default policy (running gateways pick it up within a few seconds)`);
      return 0;
    }
    throw new UsageError(`unknown subcommand "${`${cmd} ${sub ?? ""}`.trim()}"`);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n\n${HELP}`);
      return 2;
    }
    if (e instanceof PolicyValidationError) {
      io.err(`error: ${e.message}`);
      return 2;
    }
    io.err(`error: ${isVeilError(e) ? e.message : describe(e)}`);
    return 1;
  } finally {
    await db?.close().catch(() => {});
  }
}

/** Compliance command groups (src/node/cli-*.ts): own options, same exit codes. */
async function runGroup(load: () => Promise<(argv: string[], io: CliIo) => Promise<number>>, argv: string[], io: CliIo): Promise<number> {
  try {
    return await (await load())(argv, io);
  } catch (e) {
    if ((e as Error)?.name === 'CliUsageError' || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`error: ${(e as Error).message}\n\n${HELP}`);
      return 2;
    }
    io.err(`error: ${isVeilError(e) ? e.message : describe(e)}`);
    return 1;
  }
}

/** Error text without values: the message of our own errors, the code/name of the others. */
function describe(e: unknown): string {
  const err = e as { message?: string; code?: string; name?: string };
  if (err?.message?.startsWith('Invalid configuration')) return err.message;
  if (err?.name === 'DataDirLockedError') return err.message!;
  if (err?.code === '23505') return 'already exists';
  if (err?.code === 'ECONNREFUSED') return 'cannot connect to the database (connection refused)';
  return `${err?.name ?? 'Error'}${err?.code ? ` (${err.code})` : ''}: ${err?.message ?? String(e)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runCli(process.argv.slice(2), {
    env: process.env,
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
  }).then((code) => {
    process.exitCode = code;
  });
}
