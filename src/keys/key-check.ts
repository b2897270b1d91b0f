/**
 * Master-key check at start-up: proves that the configured master key is the one the database
 * was set up with, before the gateway serves anything. The check value is a random 32-byte
 * value wrapped by the provider under the reserved id `veil:key-check` (row 1 of
 * `veil_key_check`, created by the first start-up). A wrong key cannot unwrap it and start-up
 * stops with {@link MasterKeyMismatchError}. Databases from before the check existed are
 * verified against an existing tenant KEK first, so a wrong key never writes the check value.
 * Pure TypeScript over {@link Db} (runs on Workers too). Never logs key material.
 */
import { sql } from 'drizzle-orm';
import { silentLogger, type Logger } from '../core/types.js';
import type { Db } from '../db/client.js';
import { keyCheck, tenantKeys } from '../db/schema.js';
import { KeyProviderError, type MasterKeyProvider } from './provider.js';

/** The reserved "tenant id" the check value is wrapped under (no real tenant id has a colon). */
export const KEY_CHECK_ID = 'veil:key-check';

export class MasterKeyMismatchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MasterKeyMismatchError';
  }
}

function mismatch(provider: MasterKeyProvider, recordedKeyId: string | null, cause: unknown): MasterKeyMismatchError {
  return new MasterKeyMismatchError(
    `wrong master key: the configured master key (${provider.keyId}) cannot decrypt this database's key check value` +
      (recordedKeyId ? ` (written under ${recordedKeyId})` : '') +
      '. Every gateway and CLI process on one database must use the same master key ' +
      '(VEIL_MASTER_KEY / VEIL_MASTER_KEY_FILE, or VEIL_KMS_KEY_ID); nothing was served.',
    { cause },
  );
}

/** A wrong key, or a failure of the key service (which is rethrown as is). */
async function unwrapOrMismatch(provider: MasterKeyProvider, id: string, wrapped: Uint8Array, recorded: string | null): Promise<void> {
  try {
    (await provider.unwrapKek(id, wrapped)).fill(0);
  } catch (e) {
    if (e instanceof KeyProviderError && (e.code === 'wrong_key' || e.code === 'invalid_ciphertext')) throw mismatch(provider, recorded, e);
    throw e;
  }
}

/**
 * Verifies (or, on a fresh database, records) the key check value. Throws
 * MasterKeyMismatchError when the provider's key is not the database's.
 */
export async function verifyMasterKey(db: Db, provider: MasterKeyProvider, logger: Logger = silentLogger): Promise<'verified' | 'recorded'> {
  const read = async () =>
    (await db.orm.select({ masterKeyId: keyCheck.masterKeyId, wrapped: keyCheck.wrapped }).from(keyCheck).limit(1))[0];
  let row = await read();
  if (!row) {
    // A database from before the check: the key must open an existing tenant KEK first.
    const kek = (
      await db.orm
        .select({ tenantId: tenantKeys.tenantId, wrapped: tenantKeys.wrapped, masterKeyId: tenantKeys.masterKeyId })
        .from(tenantKeys)
        .where(sql`${tenantKeys.kind} = 'kek'`)
        .limit(1)
    )[0];
    if (kek) await unwrapOrMismatch(provider, kek.tenantId, kek.wrapped, kek.masterKeyId);
    const gen = await provider.generateKek(KEY_CHECK_ID);
    gen.plaintext.fill(0);
    const won = await db.orm
      .insert(keyCheck)
      .values({ id: 1, masterKeyId: provider.keyId, wrapped: gen.wrapped })
      .onConflictDoNothing()
      .returning({ id: keyCheck.id });
    if (won.length > 0) {
      logger.info('master key check value recorded', { keyId: provider.keyId });
      return 'recorded';
    }
    row = await read(); // another process recorded it first: verify against theirs
    if (!row) throw new Error('key check value vanished');
  }
  await unwrapOrMismatch(provider, KEY_CHECK_ID, row.wrapped, row.masterKeyId);
  return 'verified';
}
