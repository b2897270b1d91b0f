/**
 * `veil erase` and `veil tenants shred` (dispatched from src/runtime/node/cli/index.ts):
 *   erase --tenant T --type TYPE --value V    erase a subject's mapping found by its value
 *   erase --tenant T --token "[TYPE_…]"       … or by its placeholder
 *   tenants shred T --yes                     crypto-shred a tenant: KEK destroyed first, then rows
 * Running gateways on PostgreSQL forget the erased tokens at once (NOTIFY); on PGlite the
 * gateway owns the store, so erase through `POST /v1/veil/erase` while it runs.
 * Prints counts, never values.
 */
import { parseArgs } from 'node:util';
import { eraseSubject, EraseInputError, notifyingInvalidate, shredTenant, type EraseDeps } from '../../../compliance/erase.js';
import { isEntityType, type EntityType } from '../../../core/types.js';
import { createKeyring } from '../../../keys/keyring.js';
import { nodeVaultCrypto } from '../../../keys/crypto.node.js';
import { createCollectionEraser } from '../../../rag/erase.js';
import { openComplianceContext } from './audit.js';
import { cliActor, type CliIo, CliUsageError } from './common.js';


async function withDeps<T>(io: CliIo, fn: (deps: EraseDeps) => Promise<T>): Promise<T> {
  const cx = await openComplianceContext(io);
  try {
    const keyring = createKeyring({ db: cx.db, provider: cx.provider });
    return await fn({ db: cx.db, keyring, audit: cx.audit, invalidate: notifyingInvalidate(cx.db, () => {}), collections: createCollectionEraser({ db: cx.db, keyring, crypto: nodeVaultCrypto }) });
  } finally {
    await cx.close();
  }
}

export async function runEraseCli(argv: string[], io: CliIo): Promise<number> {
  const { values: o } = parseArgs({
    args: argv,
    strict: true,
    options: { tenant: { type: 'string' }, type: { type: 'string' }, value: { type: 'string' }, token: { type: 'string' } },
  });
  if (!o.tenant) throw new CliUsageError('missing --tenant <id>');
  if ((o.token === undefined) === (o.value === undefined)) throw new CliUsageError('give either --type and --value, or --token');
  if (o.value !== undefined && (!o.type || !isEntityType(o.type))) throw new CliUsageError('--value needs --type <ENTITY_TYPE> (e.g. EMAIL, PERSON)');
  const target = o.token !== undefined ? { token: o.token } : { type: o.type as EntityType, value: o.value! };
  try {
    const r = await withDeps(io, (deps) => eraseSubject(deps, o.tenant!, target, cliActor()));
    const rag = r.chunks ? `; ${r.chunks} RAG chunks re-sanitized, ${r.fields} metadata fields removed` : '';
    io.out(r.erased > 0 ? `erased ${r.erased} mapping of tenant ${o.tenant}${rag}` : `nothing to erase: no such mapping in tenant ${o.tenant}${rag}`);
    return 0;
  } catch (e) {
    if (e instanceof EraseInputError) throw new CliUsageError(e.message);
    throw e;
  }
}

export async function runShredCli(argv: string[], io: CliIo): Promise<number> {
  const { values: o, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { yes: { type: 'boolean', default: false } } });
  const tenantId = positionals[0];
  if (!tenantId) throw new CliUsageError('tenant id: veil tenants shred <id> --yes');
  if (!o.yes) throw new CliUsageError(`shredding destroys every value of tenant ${tenantId} for good; add --yes to confirm`);
  const r = await withDeps(io, (deps) => shredTenant(deps, tenantId, cliActor()));
  if (!r.existed && r.keys === 0) {
    io.err(`error: no tenant with id ${tenantId}`);
    return 1;
  }
  io.out(`shredded tenant ${tenantId}: ${r.keys} keys destroyed, ${r.mappings} mappings and ${r.apiKeys} API keys deleted (recorded in the _system audit chain)`);
  return 0;
}
