/**
 * Erasure (GDPR Art. 17) and crypto-shredding, as service functions shared by the CLI, the
 * `POST /v1/veil/erase` endpoint and (later) the RAG path.
 *
 * eraseSubject: finds the mapping through the blind index (by type + value) or by token,
 * deletes it, makes every process forget cached tokens of the tenant (`invalidate`: in this
 * process at once; on PostgreSQL the others through NOTIFY, src/runtime/node/erase-listener.ts),
 * and records an `erase` event with counts (no value). Afterwards the old placeholder restores
 * to nothing and the same value gets a new placeholder.
 *
 * shredTenant: destroys the tenant KEK first (the wrapped key is overwritten, then deleted), so
 * every ciphertext of the tenant becomes unreadable, then deletes its rows (mappings, keys,
 * principals, API keys, the tenant); records a `shred` event in the `_system` chain, which
 * outlives the tenant (the tenant's own audit chain is kept: it holds no values).
 */
import { isEntityType, type EntityType } from '../core/types.js';
import type { Db } from '../db/client.js';
import { hmacSha256, randomBytes, utf8 } from '../keys/crypto.js';
import type { Keyring } from '../keys/keyring.js';
import { blindInput } from '../vault/normalize.js';
import { parseToken } from '../core/token.js';
import type { AuditStore } from '../audit/store.js';
import { SYSTEM_CHAIN } from '../audit/store.js';
import type { CollectionEraser } from '../rag/erase.js';

export const ERASE_CHANNEL = 'veil_erase';

export interface EraseDeps {
  readonly db: Db;
  readonly keyring: Keyring;
  readonly audit: AuditStore;
  /** Makes every process forget cached tokens (and with `keys`, unwrapped keys) of the tenant. */
  invalidate(tenantId: string, keys?: boolean): Promise<void>;
  /** RAG collections (src/rag/erase.ts): the subject's chunks re-sanitized, its metadata fields removed. */
  readonly collections?: CollectionEraser;
}

export type EraseTarget = { type: EntityType; value: string } | { token: string };

export interface Actor {
  readonly principalId?: string;
  readonly keyId?: string;
  readonly role?: string;
  readonly requestId?: string;
  /** 'cli' or the HTTP route. */
  readonly via: string;
}

/** The actor's fields of an audit event (what is known of who acted, and through what). */
export function actorFields(actor: Actor) {
  return {
    ...(actor.principalId ? { principalId: actor.principalId } : {}),
    ...(actor.keyId ? { keyId: actor.keyId } : {}),
    ...(actor.role ? { role: actor.role } : {}),
    ...(actor.requestId ? { requestId: actor.requestId } : {}),
    endpoint: actor.via,
  };
}

export class EraseInputError extends Error {}

async function tenantHasKek(db: Db, tenantId: string): Promise<boolean> {
  const rows = await db.query('select 1 from tenant_keys where tenant_id = $1 and kind = $2 limit 1', [tenantId, 'kek']);
  return rows.length > 0;
}

/**
 * Deletes the subject's mapping; returns how many rows were erased (0 or 1), and with
 * `deps.collections`, how many RAG chunks were re-sanitized and metadata fields removed first.
 */
export async function eraseSubject(deps: EraseDeps, tenantId: string, target: EraseTarget, actor: Actor): Promise<{ erased: number; chunks?: number; fields?: number }> {
  let rows: { token: string }[] = [];
  let rag: { chunks: number; fields: number } | null = null;
  let by: 'value' | 'token';
  let type: string;
  if ('token' in target) {
    by = 'token';
    const bare = /^\[.*\]$/.test(target.token) ? target.token.slice(1, -1) : target.token;
    const token = parseToken(bare);
    if (!token) throw new EraseInputError('not a Veil placeholder (expected [TYPE_XXXXXXXX])');
    type = token.slice(0, token.lastIndexOf('_'));
    if (deps.collections) rag = await deps.collections.erase(tenantId, { tokens: [token] });
    rows = await deps.db.query<{ token: string }>('delete from mappings where tenant_id = $1 and token = $2 returning token', [tenantId, token]);
  } else {
    by = 'value';
    if (!isEntityType(target.type)) throw new EraseInputError(`unknown entity type "${target.type}"`);
    type = target.type;
    // A tenant without a key has no mappings; do not create one by asking for its blind key.
    if (await tenantHasKek(deps.db, tenantId)) {
      const blind = await hmacSha256(await deps.keyring.blindKey(tenantId), utf8(blindInput(target.type, target.value)));
      if (deps.collections) {
        const found = await deps.db.query<{ token: string }>('select token from mappings where tenant_id = $1 and blind_index = $2', [tenantId, blind]);
        rag = await deps.collections.erase(tenantId, { tokens: found.map((r) => r.token), value: target });
      }
      rows = await deps.db.query<{ token: string }>('delete from mappings where tenant_id = $1 and blind_index = $2 returning token', [tenantId, blind]);
    }
  }
  await deps.invalidate(tenantId);
  await deps.audit.append(tenantId, [
    {
      kind: 'erase',
      tenantId,
      ...actorFields(actor),
      detail: { by, type, erased: rows.length, ...(rag ? { chunks: rag.chunks, fields: rag.fields } : {}) },
    },
  ]);
  return { erased: rows.length, ...rag };
}

export interface ShredResult {
  readonly keys: number;
  readonly mappings: number;
  readonly apiKeys: number;
  readonly existed: boolean;
}

export async function shredTenant(deps: EraseDeps, tenantId: string, actor: Actor): Promise<ShredResult> {
  const db = deps.db;
  const existed = (await db.query('select 1 from tenants where id = $1', [tenantId])).length > 0;
  if (!existed && !(await tenantHasKek(db, tenantId))) return { keys: 0, mappings: 0, apiKeys: 0, existed: false };
  // 1. The KEK: overwritten with random bytes, then deleted with every wrapped DEK.
  await db.query("update tenant_keys set wrapped = $2 where tenant_id = $1 and kind = 'kek'", [tenantId, randomBytes(61)]);
  const keys = await db.query('delete from tenant_keys where tenant_id = $1 returning version', [tenantId]);
  await deps.invalidate(tenantId, true);
  // 2. The rows, now unreadable anyway.
  const mappings = await db.query('delete from mappings where tenant_id = $1 returning 1', [tenantId]);
  const apiKeys = await db.query('delete from api_keys where tenant_id = $1 returning 1', [tenantId]);
  await deps.collections?.dropTenant(tenantId);
  await db.query('delete from principals where tenant_id = $1', [tenantId]);
  await db.query('delete from tenants where id = $1', [tenantId]);
  const result = { keys: keys.length, mappings: mappings.length, apiKeys: apiKeys.length, existed };
  await deps.audit.append(SYSTEM_CHAIN, [
    {
      kind: 'shred',
      tenantId: SYSTEM_CHAIN,
      ...(actor.principalId ? { principalId: actor.principalId } : {}),
      endpoint: actor.via,
      detail: { tenant: tenantId, keys: result.keys, mappings: result.mappings, api_keys: result.apiKeys },
    },
  ]);
  return result;
}

/** `invalidate` for one process plus a PostgreSQL NOTIFY that reaches every other one. */
export function notifyingInvalidate(db: Db, local: (tenantId: string, keys?: boolean) => void): EraseDeps['invalidate'] {
  return async (tenantId, keys = false) => {
    local(tenantId, keys);
    if (db.kind === 'postgres') await db.query('select pg_notify($1, $2)', [ERASE_CHANNEL, JSON.stringify({ t: tenantId, k: keys })]);
  };
}
