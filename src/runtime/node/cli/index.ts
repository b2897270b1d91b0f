/**
 * The `veil` operator CLI: `npm run veil -- <command>` or `npx tsx src/runtime/node/cli/index.ts <command>`.
 * Uses the same configuration (environment) and database as the gateway. On PGlite, while a
 * gateway owns the data directory, commands go through that gateway's socket
 * (src/db/data-dir.node.ts), so changes reach it at once and the files are never opened twice.
 * One command table; each group in its own file (src/runtime/node/cli/*.ts), loaded only when used.
 * Exit codes: 0 success, 1 failure (database, not found), 2 usage error.
 */
import { pathToFileURL } from 'node:url';
import { isVeilError } from '../../../core/errors.js';
import { OPEN_TENANT_ID } from '../../../core/types.js';
import { PolicyValidationError } from '../../../policy/override.js';
import { AUDIT_HELP, BACKUP_HELP, ERASE_HELP, JOBS_HELP } from './help.js';
import { type CliCommand, type CliIo, CliUsageError, describeCliError, parseCoreArgs, withCliDb } from './common.js';

export type { CliIo } from './common.js';

export const HELP = `veil — operator commands for the Veil gateway

Usage: veil <command> [options]

Commands:
  migrate                                   apply pending database migrations
  tenants create <name> [--id <id>]         create a tenant; prints its id
  tenants list                              list tenants
  tenants disable <id>                      refuse every key of the tenant (403 veil_tenant_disabled)
  tenants enable <id>                       accept the tenant's keys again
  keys issue --tenant <id> --name <name> --role <admin|user|restricted>
                                            issue an API key (printed ONCE)
  keys list [--tenant <id>]                 list API keys (prefix only, never the key)
  keys revoke <key-id>                      revoke an API key
${JOBS_HELP}
  collections migrate …                     migrate a JSONL export or a pgvector table into an
                                            encrypted RAG collection (\`veil collections\` lists its options)
  policy show <tenant-id>                   print the tenant's policy override and the
                                            effective policy (override merged onto the default)
  policy set <tenant-id> --file <policy.json>
                                            validate and store a policy override
  policy reset <tenant-id>                  remove the override (back to the default policy)
${AUDIT_HELP}
${ERASE_HELP}
${BACKUP_HELP}
  help                                      show this help

Options:
  --json                                    machine-readable output for list commands

A policy override is a JSON object; every field is optional and merged onto the default:
  {"sensitivity": {"<TYPE>": "highly_sensitive|sensitive|contextual|public"},
   "detect": {"<class>": "mask|pass"}, "detectType": {"<TYPE>": "mask|pass"},
   "restore": {"<role>": {"<class>": "value|masked|placeholder"}},
   "restoreDefault": {"<class>": "value|masked|placeholder"}}
Commands that change tenants, keys or policy are recorded in the tenant's audit chain first,
so they need the gateway's master key (VEIL_MASTER_KEY, VEIL_MASTER_KEY_FILE, the data
directory's master.key on PGlite, or AWS KMS).
Tenant "${OPEN_TENANT_ID}" is the open single-tenant mode tenant (created when needed).
Running gateways pick up policy changes within a few seconds.

The database is PGlite in $VEIL_DATA_DIR/pglite unless DATABASE_URL is set. While a gateway
runs on that PGlite folder, commands go through the gateway (its socket in the folder).`;


/** `migrate`: opening the database applies pending migrations. */
const migrate: CliCommand = async (argv, io) => {
  parseCoreArgs(argv);
  await withCliDb(io, async (db, { config, viaGateway }) => {
    if (viaGateway !== null) io.out(`migrations applied (PGlite in ${config.VEIL_DATA_DIR}/pglite, by the running gateway, pid ${viaGateway})`);
    else io.out(`migrations applied (${db.kind === 'postgres' ? 'PostgreSQL' : `PGlite in ${config.VEIL_DATA_DIR}/pglite`})`);
  });
  return 0;
};

/** Every command group: `veil <group> …`. */
const COMMANDS: Record<string, () => Promise<CliCommand>> = {
  migrate: async () => migrate,
  tenants: async () => (await import('./tenants.js')).runTenantsCli,
  keys: async () => (await import('./keys.js')).runKeysCli,
  policy: async () => (await import('./policy.js')).runPolicyCli,
  jobs: async () => (await import('./jobs.js')).runJobsCli('jobs'),
  collections: async () => (await import('./collections.js')).runCollectionsCli, // RAG migration (src/rag)
  audit: async () => (await import('./audit.js')).runAuditCli,
  erase: async () => (await import('./erase.js')).runEraseCli,
  backup: async () => (await import('./backup.js')).runBackupCli,
  restore: async () => (await import('./backup.js')).runRestoreCli,
};

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || argv.includes('--help') || argv.includes('-h')) {
    io.out(HELP);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!load) {
    io.err(`error: ${cmd.startsWith('-') ? `unknown option "${cmd}"` : `unknown command "${cmd}"`}\n\n${HELP}`);
    return 2;
  }
  try {
    return await (await load())(rest, io);
  } catch (e) {
    if (e instanceof CliUsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`error: ${(e as Error).message}\n\n${HELP}`);
      return 2;
    }
    if (e instanceof PolicyValidationError) {
      io.err(`error: ${e.message}`);
      return 2;
    }
    io.err(`error: ${isVeilError(e) ? e.message : describeCliError(e)}`);
    return 1;
  }
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
