/**
 * The tenant KEK (row kind 'kek', wrapped by the master-key provider) and the blind-index key
 * derived from it: HKDF-SHA256(KEK, salt = empty, info 'veil:blind:v1:<tenant>', 32).
 *
 * `loadKek` unwraps the tenant's primary KEK, or on first use creates the tenant (if the CLI
 * did not) and its KEK; two processes may race there and the loser discards its KEK and unwraps
 * the winner's. `lockKek` takes the per-tenant row lock that serializes DEK roll-overs.
 * Pure TypeScript + Web Crypto (runs on Workers with a Workers `Db`).
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Logger } from '../core/types.js';
import type { Db, VeilTx } from '../db/client.js';
import { tenantKeys, tenants } from '../db/schema.js';
import { hkdfSha256, utf8 } from './crypto.js';
import type { KeyCache } from './key-cache.js';
import type { MasterKeyProvider } from './provider.js';

export interface KekDeps {
  db: Db;
  provider: MasterKeyProvider;
  log: Logger;
  cache: KeyCache;
}

export function blindInfo(tenantId: string): Uint8Array {
  return utf8(`veil:blind:v1:${tenantId}`);
}

/** The tenant's unwrapped KEK (cached); creates the tenant and its KEK on first use. */
export function loadKek(deps: KekDeps, tenantId: string): Promise<Uint8Array> {
  return deps.cache.load(`kek:${tenantId}`, async () => {
    const existing = await selectKek(deps.db, tenantId);
    if (existing) return deps.provider.unwrapKek(tenantId, existing);
    return createKek(deps, tenantId);
  });
}

/** The tenant's blind-index key (cached). */
export function loadBlindKey(deps: KekDeps, tenantId: string): Promise<Uint8Array> {
  return deps.cache.load(`blind:${tenantId}`, async () =>
    hkdfSha256(await loadKek(deps, tenantId), new Uint8Array(0), blindInfo(tenantId), 32),
  );
}

/** Inside a transaction: locks the tenant's primary KEK row until it ends. */
export async function lockKek(tx: VeilTx, tenantId: string): Promise<void> {
  await tx.execute(sql`select 1 from ${tenantKeys} where tenant_id = ${tenantId} and kind = 'kek' and state = 'primary' for update`);
}

async function selectKek(db: Db, tenantId: string): Promise<Uint8Array | null> {
  const rows = await db.orm
    .select({ wrapped: tenantKeys.wrapped })
    .from(tenantKeys)
    .where(and(eq(tenantKeys.tenantId, tenantId), eq(tenantKeys.kind, 'kek'), eq(tenantKeys.state, 'primary')))
    .limit(1);
  return rows[0]?.wrapped ?? null;
}

async function createKek(deps: KekDeps, tenantId: string): Promise<Uint8Array> {
  const { db, provider } = deps;
  await db.orm.insert(tenants).values({ id: tenantId, name: tenantId }).onConflictDoNothing();
  const gen = await provider.generateKek(tenantId);
  const won = await db.orm
    .insert(tenantKeys)
    .values({ tenantId, kind: 'kek', version: 1, wrapped: gen.wrapped, masterKeyId: provider.keyId, state: 'primary' })
    .onConflictDoNothing()
    .returning({ version: tenantKeys.version });
  if (won.length > 0) {
    deps.log.info('tenant key created', { tenantId, masterKeyId: provider.keyId });
    return gen.plaintext;
  }
  gen.plaintext.fill(0);
  const winner = await selectKek(db, tenantId);
  if (!winner) throw new Error('tenant KEK vanished during creation');
  return provider.unwrapKek(tenantId, winner);
}
