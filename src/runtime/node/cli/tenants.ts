/**
 * `veil tenants create|list|disable|enable|shred` (shred: src/runtime/node/cli/erase.ts). Through the
 * API-key store (src/tenants/api-keys.ts). Creating, disabling and enabling are audited first
 * (src/compliance/admin.ts: `tenant.created|disabled|enabled` in the tenant's chain).
 */
import { createApiKeyStore } from '../../../tenants/api-keys.js';
import { createTenantAudited, setTenantStatusAudited } from '../../../compliance/admin.js';
import { cliActor, CliUsageError, type CliIo, iso, need, parseCoreArgs, table, withAdmin, withCliDb } from './common.js';

export async function runTenantsCli(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === 'shred') return (await import('./erase.js')).runShredCli(argv.slice(1), io);
  const { values: o, positionals } = parseCoreArgs(argv);
  const [sub, ...rest] = positionals;
  switch (sub) {
    case 'create': {
      const name = need(rest.join(' ').trim() || o.name, 'tenant name: veil tenants create <name>');
      const { id } = await withAdmin(io, (deps) => createTenantAudited(deps, name, cliActor(), o.id));
      io.out(o.json ? JSON.stringify({ id, name }) : `created tenant ${id} (${name})`);
      return 0;
    }
    case 'list': {
      const list = await withCliDb(io, (db) => createApiKeyStore(db).listTenants());
      if (o.json) io.out(JSON.stringify(list));
      else if (list.length === 0) io.out('no tenants');
      else io.out(table([['ID', 'NAME', 'STATUS', 'CREATED'], ...list.map((t) => [t.id, t.name, t.status, iso(t.createdAt)])]));
      return 0;
    }
    case 'disable':
    case 'enable': {
      const id = need(rest[0], `tenant id: veil tenants ${sub} <id>`);
      const ok = await withAdmin(io, (deps) => setTenantStatusAudited(deps, id, sub === 'disable' ? 'disabled' : 'active', cliActor()));
      if (!ok) {
        io.err(`error: no tenant with id ${id}`);
        return 1;
      }
      io.out(`tenant ${id} ${sub}d (takes effect in running gateways within a few seconds)`);
      return 0;
    }
    default:
      throw new CliUsageError(`unknown subcommand "${`tenants ${sub ?? ''}`.trim()}"`);
  }
}
