/**
 * `veil policy show|set|reset`, through the policy store (src/policy/store.ts). A document is
 * validated before the database is opened; an invalid one is a usage error (exit 2). `set` and
 * `reset` are audited first (src/compliance/admin.ts: `policy.changed` in the tenant's chain).
 */
import { readFile } from 'node:fs/promises';
import { parsePolicyOverride } from '../../../policy/override.js';
import { createPolicyStore } from '../../../policy/store.js';
import { setPolicyAudited } from '../../../compliance/admin.js';
import { cliActor, CliUsageError, type CliIo, need, parseCoreArgs, withAdmin, withCliDb } from './common.js';

export async function runPolicyCli(argv: string[], io: CliIo): Promise<number> {
  const { values: o, positionals } = parseCoreArgs(argv);
  const [sub, ...rest] = positionals;
  switch (sub) {
    case 'show': {
      const tenantId = need(rest[0], 'tenant id: veil policy show <tenant-id>');
      const shown = await withCliDb(io, (db) => createPolicyStore(db).describe(tenantId));
      if (!shown) {
        io.err(`error: no tenant with id ${tenantId}`);
        return 1;
      }
      io.out(JSON.stringify({ tenantId, ...shown }, null, o.json ? undefined : 2));
      return 0;
    }
    case 'set': {
      const tenantId = need(rest[0], 'tenant id: veil policy set <tenant-id> --file <policy.json>');
      const file = need(o.file, '--file <policy.json>');
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        throw new CliUsageError(`cannot read ${file} (${(e as { code?: string }).code ?? 'error'})`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new CliUsageError(`${file} is not valid JSON: ${(e as Error).message}`);
      }
      const override = parsePolicyOverride(json); // validated before the database is opened
      await withAdmin(io, (deps) => setPolicyAudited(deps, tenantId, override, cliActor()));
      io.out(`stored the policy override of tenant ${tenantId} (running gateways pick it up within a few seconds)`);
      return 0;
    }
    case 'reset': {
      const tenantId = need(rest[0], 'tenant id: veil policy reset <tenant-id>');
      await withAdmin(io, (deps) => setPolicyAudited(deps, tenantId, null, cliActor()));
      io.out(`tenant ${tenantId} now uses the default policy (running gateways pick it up within a few seconds)`);
      return 0;
    }
    default:
      throw new CliUsageError(`unknown subcommand "${`policy ${sub ?? ''}`.trim()}"`);
  }
}
