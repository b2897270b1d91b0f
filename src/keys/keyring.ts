/**
 * Per-tenant key hierarchy on top of the database:
 *   master key (provider) → tenant KEK (row kind 'kek', wrapped by the provider)
 *     → DEK versions (rows kind 'dek': iv(12) || AES-256-GCM(DEK) under the KEK,
 *        AAD 'veil:dek:v1:<tenant>:<version>')
 *     → field ciphertext (src/vault/db-vault.ts)
 *   blind-index key = HKDF-SHA256(KEK, salt = empty, info 'veil:blind:v1:<tenant>', 32)
 *
 * Encryptions under a DEK are counted in the database: each process reserves a batch with one
 * UPDATE … RETURNING and a new primary DEK is rolled (older ones stay readable) before the
 * counter would pass `dekMaxEncryptions` (default 2^31, far below the 2^32 GCM random-IV limit).
 * Unwrapped keys live in memory only, with a TTL and a size cap; they are never logged.
 * Pure TypeScript + Web Crypto (runs on Workers with a Workers `Db`).
 */
import { and, eq, sql } from 'drizzle-orm';
import { createInflight, createTtlCache } from '../core/cache.js';
import { silentLogger, type Logger } from '../core/types.js';
import { resultRows, type Db } from '../db/client.js';
import { tenantKeys, tenants } from '../db/schema.js';
import {
  GCM_IV_BYTES,
  aesGcmDecrypt,
  aesGcmEncrypt,
  concatBytes,
  hkdfSha256,
  randomBytes,
  utf8,
} from './crypto.js';
import type { MasterKeyProvider } from './provider.js';

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

export interface DekUse {
  readonly version: number;
  readonly key: Uint8Array;
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
  /** Forgets this process's encryption lease of a tenant (its next encryption reserves anew). */
  dropLease(tenantId: string): void;
  /** Drops every unwrapped key and lease held in memory. */
  clear(): void;
}

export function dekAad(tenantId: string, version: number): Uint8Array {
  return utf8(`veil:dek:v1:${tenantId}:${version}`);
}

export function blindInfo(tenantId: string): Uint8Array {
  return utf8(`veil:blind:v1:${tenantId}`);
}

/** Encryptions reserved in the database and not yet used, under one DEK version. */
interface Lease {
  version: number;
  key: Uint8Array;
  remaining: number;
}

export function createKeyring(opts: KeyringOptions): Keyring {
  const { db, provider } = opts;
  const log = opts.logger ?? silentLogger;
  const now = opts.now ?? Date.now;
  const ttl = opts.cacheTtlMs ?? 300_000;
  const maxEnc = opts.dekMaxEncryptions ?? DEFAULT_DEK_MAX_ENCRYPTIONS;
  const batch = Math.max(1, Math.min(opts.dekReserveBatch ?? DEFAULT_DEK_RESERVE_BATCH, maxEnc));
  const cache = createTtlCache<string, Uint8Array>({ ttlMs: ttl, max: opts.cacheMax ?? 10_000, now });
  const inflight = createInflight<string, Uint8Array | null>();
  const leases = createTtlCache<string, Lease>({ ttlMs: ttl, max: opts.cacheMax ?? 10_000, now });
  const refills = createInflight<string, void>();

  /** Dedupes concurrent loads of one key; failures and misses are not cached. */
  function load(cacheKey: string, fn: () => Promise<Uint8Array | null>): Promise<Uint8Array | null> {
    const hit = cache.get(cacheKey);
    if (hit) return Promise.resolve(hit);
    return inflight.run(cacheKey, async () => {
      const v = await fn();
      if (v) cache.set(cacheKey, v);
      return v;
    });
  }

  async function kek(tenantId: string): Promise<Uint8Array> {
    const k = await load(`kek:${tenantId}`, async () => {
      const existing = await selectKek(tenantId);
      if (existing) return provider.unwrapKek(tenantId, existing);
      // First use of this tenant: create it (if the CLI did not) and its KEK. Two processes may
      // race here; the loser discards its KEK and unwraps the winner's.
      await db.orm.insert(tenants).values({ id: tenantId, name: tenantId }).onConflictDoNothing();
      const gen = await provider.generateKek(tenantId);
      const won = await db.orm
        .insert(tenantKeys)
        .values({
          tenantId,
          kind: 'kek',
          version: 1,
          wrapped: gen.wrapped,
          masterKeyId: provider.keyId,
          state: 'primary',
        })
        .onConflictDoNothing()
        .returning({ version: tenantKeys.version });
      if (won.length > 0) {
        log.info('tenant key created', { tenantId, masterKeyId: provider.keyId });
        return gen.plaintext;
      }
      gen.plaintext.fill(0);
      const winner = await selectKek(tenantId);
      if (!winner) throw new Error('tenant KEK vanished during creation');
      return provider.unwrapKek(tenantId, winner);
    });
    return k!;
  }

  async function selectKek(tenantId: string): Promise<Uint8Array | null> {
    const rows = await db.orm
      .select({ wrapped: tenantKeys.wrapped })
      .from(tenantKeys)
      .where(and(eq(tenantKeys.tenantId, tenantId), eq(tenantKeys.kind, 'kek'), eq(tenantKeys.state, 'primary')))
      .limit(1);
    return rows[0]?.wrapped ?? null;
  }

  async function blindKey(tenantId: string): Promise<Uint8Array> {
    const k = await load(`blind:${tenantId}`, async () => hkdfSha256(await kek(tenantId), new Uint8Array(0), blindInfo(tenantId), 32));
    return k!;
  }

  async function unwrapDek(tenantId: string, version: number, wrapped: Uint8Array): Promise<Uint8Array> {
    const k = await kek(tenantId);
    return aesGcmDecrypt(k, wrapped.subarray(0, GCM_IV_BYTES), wrapped.subarray(GCM_IV_BYTES), dekAad(tenantId, version));
  }

  function dek(tenantId: string, version: number): Promise<Uint8Array | null> {
    return load(`dek:${tenantId}:${version}`, async () => {
      const rows = await db.orm
        .select({ wrapped: tenantKeys.wrapped })
        .from(tenantKeys)
        .where(and(eq(tenantKeys.tenantId, tenantId), eq(tenantKeys.kind, 'dek'), eq(tenantKeys.version, version)))
        .limit(1);
      const w = rows[0]?.wrapped;
      return w ? unwrapDek(tenantId, version, w) : null;
    });
  }

  const reserveStmt = (tenantId: string, n: number) =>
    sql`update ${tenantKeys} set encryptions = encryptions + ${n}
        where tenant_id = ${tenantId} and kind = 'dek' and state = 'primary' and encryptions + ${n} <= ${maxEnc}
        returning version, wrapped`;

  type Tx = Parameters<Parameters<Db['orm']['transaction']>[0]>[0];

  /** Inside a transaction holding the tenant's KEK row lock: demotes the primary DEK and inserts a new one. */
  async function insertPrimaryDek(tx: Tx, tenantId: string, kekKey: Uint8Array, encryptions: number): Promise<{ version: number; wrapped: Uint8Array }> {
    const maxRow = resultRows<{ v: number }>(
      await tx.execute(sql`select coalesce(max(version), 0)::int as v from ${tenantKeys} where tenant_id = ${tenantId} and kind = 'dek'`),
    );
    const version = Number(maxRow[0]?.v ?? 0) + 1;
    const fresh = randomBytes(32);
    const iv = randomBytes(GCM_IV_BYTES);
    const wrapped = concatBytes(iv, await aesGcmEncrypt(kekKey, iv, fresh, dekAad(tenantId, version)));
    await tx.execute(
      sql`update ${tenantKeys} set state = 'active' where tenant_id = ${tenantId} and kind = 'dek' and state = 'primary'`,
    );
    await tx.insert(tenantKeys).values({ tenantId, kind: 'dek', version, wrapped, masterKeyId: null, state: 'primary', encryptions });
    cache.set(`dek:${tenantId}:${version}`, fresh);
    return { version, wrapped };
  }

  async function rotateDek(tenantId: string): Promise<{ version: number }> {
    const kekKey = await kek(tenantId);
    const version = await db.orm.transaction(async (tx) => {
      await tx.execute(
        sql`select 1 from ${tenantKeys} where tenant_id = ${tenantId} and kind = 'kek' and state = 'primary' for update`,
      );
      return (await insertPrimaryDek(tx, tenantId, kekKey, 0)).version;
    });
    leases.delete(tenantId);
    log.info('data key rotated', { tenantId, version });
    return { version };
  }

  async function refill(tenantId: string): Promise<void> {
    // Loaded before any transaction: on PGlite a query outside an open transaction would wait for it.
    const kekKey = await kek(tenantId);
    let row = (await db.rows<{ version: number; wrapped: Uint8Array }>(reserveStmt(tenantId, batch)))[0];
    if (!row) {
      // No primary DEK yet, or it is used up: roll a new one under a per-tenant row lock.
      row = await db.orm.transaction(async (tx) => {
        await tx.execute(
          sql`select 1 from ${tenantKeys} where tenant_id = ${tenantId} and kind = 'kek' and state = 'primary' for update`,
        );
        const got = resultRows<{ version: number; wrapped: Uint8Array }>(await tx.execute(reserveStmt(tenantId, batch)))[0];
        if (got) return got;
        const rolled = await insertPrimaryDek(tx, tenantId, kekKey, batch);
        log.info('data key rolled', { tenantId, version: rolled.version });
        return rolled;
      });
    }
    const version = Number(row.version);
    const key = (await dek(tenantId, version)) ?? (await unwrapDek(tenantId, version, row.wrapped));
    leases.set(tenantId, { version, key, remaining: batch });
  }

  async function reserveEncryptions(tenantId: string, count: number): Promise<DekUse[]> {
    const out: DekUse[] = [];
    while (out.length < count) {
      const lease = leases.get(tenantId);
      if (lease && lease.remaining > 0) {
        const take = Math.min(lease.remaining, count - out.length);
        lease.remaining -= take;
        for (let i = 0; i < take; i++) out.push({ version: lease.version, key: lease.key });
        continue;
      }
      leases.delete(tenantId);
      await refills.run(tenantId, () => refill(tenantId));
    }
    return out;
  }

  return {
    blindKey,
    reserveEncryptions,
    dek,
    rotateDek,
    dropLease(tenantId: string) {
      leases.delete(tenantId);
    },
    clear() {
      cache.clear();
      leases.clear();
    },
  };
}
