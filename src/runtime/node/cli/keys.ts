/**
 * `veil keys issue|list|revoke`, through the API-key store (src/tenants/api-keys.ts); the key is
 * printed once. Issuing and revoking are audited first (src/compliance/admin.ts: `key.issued`,
 * `key.revoked` in the tenant's chain), so the CLI loads the master key as the gateway does. `keys rotate` (a data key, not an API key) is src/runtime/node/cli/jobs.ts.
 */
import { createApiKeyStore } from '../../../tenants/api-keys.js';
import { isRole, ROLES } from '../../../policy/index.js';
import { issueKeyAudited, revokeKeyAudited } from '../../../compliance/admin.js';
import { cliActor, CliUsageError, type CliIo, iso, need, parseCoreArgs, table, withAdmin, withCliDb } from './common.js';

export async function runKeysCli(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === 'rotate') return (await import('./jobs.js')).runJobsCli('keys')(argv, io);
  const { values: o, positionals } = parseCoreArgs(argv);
  const [sub, ...rest] = positionals;
  switch (sub) {
    case 'issue': {
      const tenantId = need(o.tenant, '--tenant <id>');
      const name = need(o.name, '--name <name>');
      const role = need(o.role, `--role <${ROLES.join('|')}>`);
      if (!isRole(role)) throw new CliUsageError(`--role must be one of ${ROLES.join(', ')}`);
      const { k, config } = await withAdmin(io, async (deps, cx) => ({ k: await issueKeyAudited(deps, { tenantId, name, role }, cliActor()), config: cx.config }));
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
    case 'list': {
      const list = await withCliDb(io, (db) => createApiKeyStore(db).listKeys(o.tenant));
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
    case 'revoke': {
      const id = need(rest[0], 'key id: veil keys revoke <key-id>');
      const ok = await withAdmin(io, (deps) => revokeKeyAudited(deps, id, cliActor()));
      if (!ok) {
        io.err(`error: no active key with id ${id}`);
        return 1;
      }
      io.out(`revoked key ${id} (takes effect in running gateways within a few seconds)`);
      return 0;
    }
    default:
      throw new CliUsageError(`unknown subcommand "${`keys ${sub ?? ''}`.trim()}"`);
  }
}
