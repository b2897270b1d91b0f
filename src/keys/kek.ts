/**
 * The tenant KEK versions (rows kind 'kek', wrapped by the master-key provider; one 'primary',
 * older ones 'active' during a KEK rotation, then 'retired') and the blind-index key.
 *
 * The blind-index key is HKDF-SHA256(KEK version 1, salt = empty, info 'veil:blind:v1:<tenant>',
 * 32) until the tenant's first KEK rotation, which freezes it: it is stored as a row kind
 * 'blind' wrapped under the new KEK (iv(12) || AES-256-GCM, AAD = the same info string), so the
 * blind indexes of existing rows stay valid without rewriting a row. Each 'dek' / 'blind' row
 * names the KEK version that wraps it (`kek_version`, null = 1).
 *
 * `loadPrimaryKek` unwraps the tenant's primary KEK, or on first use creates the tenant (if the
 * CLI did not) and its KEK; two processes may race there and the loser discards its KEK and
 * unwraps the winner's. `loadKekVersion` unwraps one version (cached: a version never changes).
 * `lockKek` takes the per-tenant row lock that serializes DEK roll-overs and KEK rotations.
 * Pure TypeScript + Web Crypto (runs on Workers with a Workers `Db`).
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Logger } from '../core/types.js';
import { resultRows, type Db, type VeilTx } from '../db/client.js';
import { tenantKeys, tenants } from '../db/schema.js';
import { GCM_IV_BYTES, aesGcmDecrypt, hkdfSha256, utf8 } from './crypto.js';
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

/** A KEK version with its unwrapped key. */
export interface KekUse {
  readonly version: number;
  readonly key: Uint8Array;
}

const kekCacheKey = (tenantId: string, version: number) => `kek:${tenantId}:${version}`;

/**
 * The tenant's primary KEK (one indexed read for its version; the key itself is cached);
 * creates the tenant and its KEK on first use.
 */
export async function loadPrimaryKek(deps: KekDeps, tenantId: string): Promise<KekUse> {
  const row = await selectPrimaryKek(deps.db, tenantId);
  if (!row) {
    // A concurrent loadKekVersion(…, 1) may hold the in-flight slot and find no row (null): create then.
    const key = (await deps.cache.load(kekCacheKey(tenantId, 1), () => createKek(deps, tenantId))) ?? (await createKek(deps, tenantId));
    cacheKek(deps, tenantId, { version: 1, key });
    return { version: 1, key };
  }
  const version = Number(row.version);
  const key = await deps.cache.load(kekCacheKey(tenantId, version), () => deps.provider.unwrapKek(tenantId, row.wrapped));
  return { version, key };
}

/** The unwrapped KEK of a version (cached), or null when the tenant has no such KEK. */
export function loadKekVersion(deps: KekDeps, tenantId: string, version: number): Promise<Uint8Array | null> {
  return deps.cache.load(kekCacheKey(tenantId, version), async () => {
    const rows = await deps.db.orm
      .select({ wrapped: tenantKeys.wrapped })
      .from(tenantKeys)
      .where(and(eq(tenantKeys.tenantId, tenantId), eq(tenantKeys.kind, 'kek'), eq(tenantKeys.version, version)))
      .limit(1);
    const w = rows[0]?.wrapped;
    return w ? deps.provider.unwrapKek(tenantId, w) : null;
  });
}

/** Caches a KEK version unwrapped elsewhere (inside a transaction, or just generated). */
export function cacheKek(deps: KekDeps, tenantId: string, kek: KekUse): void {
  deps.cache.set(kekCacheKey(tenantId, kek.version), kek.key);
}

/** Unwraps a frozen blind-index key (row kind 'blind') under its KEK. */
export function unwrapBlindKey(kek: Uint8Array, tenantId: string, wrapped: Uint8Array): Promise<Uint8Array> {
  return aesGcmDecrypt(kek, wrapped.subarray(0, GCM_IV_BYTES), wrapped.subarray(GCM_IV_BYTES), blindInfo(tenantId));
}

/** The tenant's blind-index key (cached): the frozen 'blind' row, else derived from KEK version 1. */
export function loadBlindKey(deps: KekDeps, tenantId: string): Promise<Uint8Array> {
  return deps.cache.load(`blind:${tenantId}`, async () => {
    const frozen = (
      await deps.db.orm
        .select({ wrapped: tenantKeys.wrapped, kekVersion: tenantKeys.kekVersion })
        .from(tenantKeys)
        .where(and(eq(tenantKeys.tenantId, tenantId), eq(tenantKeys.kind, 'blind')))
        .limit(1)
    )[0];
    if (frozen) {
      const kek = await loadKekVersion(deps, tenantId, frozen.kekVersion ?? 1);
      if (!kek) throw new Error('the KEK wrapping the blind-index key is missing');
      return unwrapBlindKey(kek, tenantId, frozen.wrapped);
    }
    // Never rotated: version 1 is the only KEK (created here on first use).
    const first = (await loadKekVersion(deps, tenantId, 1)) ?? (await loadPrimaryKek(deps, tenantId)).key;
    return hkdfSha256(first, new Uint8Array(0), blindInfo(tenantId), 32);
  });
}

/**
 * Inside a transaction: locks the tenant's primary KEK row until it ends and returns it. A KEK
 * rotation committed while this waited demotes the row it waited for: the read is repeated
 * (a new statement sees the new primary).
 */
export async function lockKek(tx: VeilTx, tenantId: string): Promise<{ version: number; wrapped: Uint8Array } | undefined> {
  for (let i = 0; i < 3; i++) {
    const row = resultRows<{ version: number; wrapped: Uint8Array }>(
      await tx.execute(sql`select version, wrapped from ${tenantKeys} where tenant_id = ${tenantId} and kind = 'kek' and state = 'primary' for update`),
    )[0];
    if (row) return { version: Number(row.version), wrapped: row.wrapped };
  }
  return undefined;
}

/**
 * Inside a transaction holding `lockKek`: the primary KEK, as `before` (loaded before the
 * transaction) when it is still primary, else unwrapped from the locked row (no query).
 */
export async function lockedPrimaryKek(deps: KekDeps, tx: VeilTx, tenantId: string, before: KekUse): Promise<KekUse> {
  const locked = await lockKek(tx, tenantId);
  if (!locked) throw new Error('tenant KEK vanished');
  if (locked.version === before.version) return before;
  const kek = { version: locked.version, key: await deps.provider.unwrapKek(tenantId, locked.wrapped) };
  cacheKek(deps, tenantId, kek);
  return kek;
}

async function selectPrimaryKek(db: Db, tenantId: string): Promise<{ version: number; wrapped: Uint8Array } | null> {
  const rows = await db.orm
    .select({ version: tenantKeys.version, wrapped: tenantKeys.wrapped })
    .from(tenantKeys)
    .where(and(eq(tenantKeys.tenantId, tenantId), eq(tenantKeys.kind, 'kek'), eq(tenantKeys.state, 'primary')))
    .limit(1);
  return rows[0] ?? null;
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
  const winner = await selectPrimaryKek(db, tenantId);
  if (!winner) throw new Error('tenant KEK vanished during creation');
  return provider.unwrapKek(tenantId, winner.wrapped);
}
