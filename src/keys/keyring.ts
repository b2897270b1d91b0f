/**
 * Per-tenant key hierarchy on top of the database:
 *   master key (provider) → tenant KEK versions (rows kind 'kek', wrapped by the provider)
 *     → DEK versions (rows kind 'dek': iv(12) || AES-256-GCM(DEK) under the KEK version the
 *        row names, AAD 'veil:dek:v1:<tenant>:<version>')
 *     → field ciphertext (src/vault/db-vault.ts)
 *   blind-index key = HKDF-SHA256(KEK v1, salt = empty, info 'veil:blind:v1:<tenant>', 32),
 *     frozen (stored wrapped, row kind 'blind') at the first KEK rotation (src/keys/kek.ts)
 *
 * Encryptions under a DEK are counted in the database: each process reserves a batch with one
 * UPDATE … RETURNING and a new primary DEK is rolled (older ones stay readable) before the
 * counter would pass `dekMaxEncryptions` (default 2^31, far below the 2^32 GCM random-IV limit).
 * Unwrapped keys live in memory only, with a TTL and a size cap; they are never logged.
 *
 * This file wires the pieces, one job each: key-cache.ts (unwrapped keys in memory), kek.ts
 * (tenant KEK and blind key), dek.ts (DEK rows: wrap, reserve, roll), dek-leases.ts (this
 * process's reserved encryptions).
 * Pure TypeScript + Web Crypto (runs on Workers with a Workers `Db`).
 */
import { silentLogger, type Logger } from '../core/types.js';
import type { Db, VeilTx } from '../db/client.js';
import { insertPrimaryDek, reservePrimaryDek, reservePrimaryDekTx, selectWrappedDek, unwrapDek, type WrappedDek } from './dek.js';
import { createDekLeases, type DekUse, type Lease } from './dek-leases.js';
import { loadBlindKey, loadKekVersion, loadPrimaryKek, lockedPrimaryKek, type KekDeps, type KekUse } from './kek.js';
import { createKeyCache } from './key-cache.js';
import type { MasterKeyProvider } from './provider.js';

export { dekAad } from './dek.js';
export { blindInfo } from './kek.js';
export type { DekUse } from './dek-leases.js';

export const DEFAULT_DEK_MAX_ENCRYPTIONS = 2 ** 31;
export const DEFAULT_DEK_RESERVE_BATCH = 1024;

export interface KeyringOptions {
  db: Db;
  provider: MasterKeyProvider;
  logger?: Logger;
  /** How long unwrapped keys stay in memory (VEIL_KEY_CACHE_TTL_MS, default 300000). */
  cacheTtlMs?: number;
  /** Most unwrapped keys held at once (VEIL_KEY_CACHE_MAX, default 10000). */
  cacheMax?: number;
  /** Roll a new primary DEK before this many encryptions (default 2^31). */
  dekMaxEncryptions?: number;
  /** Encryptions reserved per database round trip (default 1024). */
  dekReserveBatch?: number;
  now?: () => number;
}

export interface Keyring {
  /** Blind-index key of the tenant; creates the tenant and its KEK on first use. */
  blindKey(tenantId: string): Promise<Uint8Array>;
  /** One DEK assignment per encryption about to happen, in order (may span a rollover). */
  reserveEncryptions(tenantId: string, count: number): Promise<DekUse[]>;
  /** The DEK of a version, or null when the tenant has no such DEK. Throws DecryptError when its wrapping was altered. */
  dek(tenantId: string, version: number): Promise<Uint8Array | null>;
  /**
   * A new primary DEK at once (key rotation, src/jobs/): this process's next encryption uses it;
   * other processes switch at their next lease refill (at most `dekReserveBatch` encryptions or
   * the key-cache TTL later). Older versions stay readable.
   */
  rotateDek(tenantId: string): Promise<{ version: number }>;
  /** The unwrapped KEK of a version, or null when the tenant has none (KEK rotation, src/jobs/kek.ts). */
  kek(tenantId: string, version: number): Promise<Uint8Array | null>;
  /** The tenant's primary KEK; creates the tenant and its KEK on first use. */
  primaryKek(tenantId: string): Promise<KekUse>;
  /** Forgets this process's encryption lease of a tenant (its next encryption reserves anew). */
  dropLease(tenantId: string): void;
  /** Drops every unwrapped key and lease held in memory. */
  clear(): void;
}

export function createKeyring(opts: KeyringOptions): Keyring {
  const { db } = opts;
  const log = opts.logger ?? silentLogger;
  const now = opts.now ?? Date.now;
  const ttlMs = opts.cacheTtlMs ?? 300_000;
  const max = opts.cacheMax ?? 10_000;
  const maxEnc = opts.dekMaxEncryptions ?? DEFAULT_DEK_MAX_ENCRYPTIONS;
  const batch = Math.max(1, Math.min(opts.dekReserveBatch ?? DEFAULT_DEK_RESERVE_BATCH, maxEnc));
  const cache = createKeyCache({ ttlMs, max, now });
  const kekDeps: KekDeps = { db, provider: opts.provider, log, cache };
  const kekOf = async (tenantId: string, version: number) => {
    const k = await loadKekVersion(kekDeps, tenantId, version);
    if (!k) throw new Error(`tenant KEK version ${version} is missing`);
    return k;
  };

  function dek(tenantId: string, version: number): Promise<Uint8Array | null> {
    return cache.load(`dek:${tenantId}:${version}`, async () => {
      const row = await selectWrappedDek(db, tenantId, version);
      return row ? unwrapDek(await kekOf(tenantId, row.kekVersion), tenantId, version, row.wrapped) : null;
    });
  }

  /** Inside a transaction holding the KEK row lock (`lockedPrimaryKek`): a new primary DEK under the primary KEK, its key cached. */
  async function rollDek(tx: VeilTx, tenantId: string, primary: KekUse, encryptions: number) {
    const rolled = await insertPrimaryDek(tx, tenantId, primary, encryptions);
    cache.set(`dek:${tenantId}:${rolled.version}`, rolled.key);
    return rolled;
  }

  /** Reserves `batch` encryptions on the primary DEK, rolling a new one when there is none or it is used up. */
  async function refill(tenantId: string): Promise<Lease> {
    let row: WrappedDek | undefined = (await db.rows<WrappedDek>(reservePrimaryDek(tenantId, batch, maxEnc)))[0];
    if (!row) {
      // No primary DEK yet (first use: this creates the KEK), or it is used up: roll one. The KEK
      // is loaded before the transaction: on PGlite a query outside an open transaction would wait for it.
      const before = await loadPrimaryKek(kekDeps, tenantId);
      row = await db.orm.transaction(async (tx) => {
        const primary = await lockedPrimaryKek(kekDeps, tx, tenantId, before);
        const got = await reservePrimaryDekTx(tx, tenantId, batch, maxEnc);
        if (got) return got;
        const rolled = await rollDek(tx, tenantId, primary, batch);
        log.info('data key rolled', { tenantId, version: rolled.version });
        return rolled;
      });
    }
    const version = Number(row.version);
    const key = (await dek(tenantId, version)) ?? (await unwrapDek(await kekOf(tenantId, row.kek_version ?? 1), tenantId, version, row.wrapped));
    return { version, key, remaining: batch };
  }

  const leases = createDekLeases({ ttlMs, max, now, refill });

  async function rotateDek(tenantId: string): Promise<{ version: number }> {
    const before = await loadPrimaryKek(kekDeps, tenantId);
    const version = await db.orm.transaction(async (tx) => (await rollDek(tx, tenantId, await lockedPrimaryKek(kekDeps, tx, tenantId, before), 0)).version);
    leases.drop(tenantId);
    log.info('data key rotated', { tenantId, version });
    return { version };
  }

  return {
    blindKey: (tenantId) => loadBlindKey(kekDeps, tenantId),
    reserveEncryptions: (tenantId, count) => leases.take(tenantId, count),
    dek,
    rotateDek,
    kek: (tenantId, version) => loadKekVersion(kekDeps, tenantId, version),
    primaryKek: (tenantId) => loadPrimaryKek(kekDeps, tenantId),
    dropLease: (tenantId) => leases.drop(tenantId),
    clear() {
      cache.clear();
      leases.clear();
    },
  };
}
