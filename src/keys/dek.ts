/**
 * DEK rows (kind 'dek'): wrapped = iv(12) || AES-256-GCM(DEK) under the tenant KEK version
 * `kek_version` (null = 1), with AAD 'veil:dek:v1:<tenant>:<version>'. Reading and unwrapping one version, reserving encryptions
 * on the primary DEK (one UPDATE … RETURNING that never lets the counter pass the limit), and
 * inserting a new primary DEK (demoting the old one to 'active', which stays readable) inside a
 * transaction holding the KEK row lock (src/keys/kek.ts `lockKek`).
 * Pure TypeScript + Web Crypto (runs on Workers with a Workers `Db`).
 */
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { resultRows, type Db, type VeilTx } from '../db/client.js';
import { tenantKeys } from '../db/schema.js';
import { GCM_IV_BYTES, aesGcmDecrypt, aesGcmEncrypt, concatBytes, randomBytes, utf8 } from './crypto.js';

/** A DEK version and its wrapped bytes, as stored. */
export interface WrappedDek {
  version: number;
  wrapped: Uint8Array;
  /** The KEK version that wraps it (null: 1). */
  kek_version: number | null;
}

export function dekAad(tenantId: string, version: number): Uint8Array {
  return utf8(`veil:dek:v1:${tenantId}:${version}`);
}

/** Unwraps a DEK under its KEK; throws DecryptError when the wrapping was altered. */
export function unwrapDek(kek: Uint8Array, tenantId: string, version: number, wrapped: Uint8Array): Promise<Uint8Array> {
  return aesGcmDecrypt(kek, wrapped.subarray(0, GCM_IV_BYTES), wrapped.subarray(GCM_IV_BYTES), dekAad(tenantId, version));
}

/** The wrapped DEK of a version and the KEK version wrapping it, or null when the tenant has none. */
export async function selectWrappedDek(db: Db, tenantId: string, version: number): Promise<{ wrapped: Uint8Array; kekVersion: number } | null> {
  const rows = await db.orm
    .select({ wrapped: tenantKeys.wrapped, kekVersion: tenantKeys.kekVersion })
    .from(tenantKeys)
    .where(and(eq(tenantKeys.tenantId, tenantId), eq(tenantKeys.kind, 'dek'), eq(tenantKeys.version, version)))
    .limit(1);
  const r = rows[0];
  return r ? { wrapped: r.wrapped, kekVersion: r.kekVersion ?? 1 } : null;
}

/** Adds `n` encryptions to the primary DEK unless that would pass `max`; returns it (or no row). */
export function reservePrimaryDek(tenantId: string, n: number, max: number): SQL {
  return sql`update ${tenantKeys} set encryptions = encryptions + ${n}
    where tenant_id = ${tenantId} and kind = 'dek' and state = 'primary' and encryptions + ${n} <= ${max}
    returning version, wrapped, kek_version`;
}

/** Reserves on the primary DEK inside a transaction (see `reservePrimaryDek`). */
export async function reservePrimaryDekTx(tx: VeilTx, tenantId: string, n: number, max: number): Promise<WrappedDek | undefined> {
  return resultRows<WrappedDek>(await tx.execute(reservePrimaryDek(tenantId, n, max)))[0];
}

/**
 * Inside a transaction holding the tenant's KEK row lock: demotes the primary DEK and inserts a
 * new one, wrapped under the primary KEK `kek`, with `encryptions` already counted. Returns it
 * with its plaintext key.
 */
export async function insertPrimaryDek(
  tx: VeilTx,
  tenantId: string,
  kek: { version: number; key: Uint8Array },
  encryptions: number,
): Promise<WrappedDek & { key: Uint8Array }> {
  const maxRow = resultRows<{ v: number }>(
    await tx.execute(sql`select coalesce(max(version), 0)::int as v from ${tenantKeys} where tenant_id = ${tenantId} and kind = 'dek'`),
  );
  const version = Number(maxRow[0]?.v ?? 0) + 1;
  const key = randomBytes(32);
  const iv = randomBytes(GCM_IV_BYTES);
  const wrapped = concatBytes(iv, await aesGcmEncrypt(kek.key, iv, key, dekAad(tenantId, version)));
  await tx.execute(sql`update ${tenantKeys} set state = 'active' where tenant_id = ${tenantId} and kind = 'dek' and state = 'primary'`);
  await tx.insert(tenantKeys).values({ tenantId, kind: 'dek', version, wrapped, masterKeyId: null, kekVersion: kek.version, state: 'primary', encryptions });
  return { version, wrapped, kek_version: kek.version, key };
}
