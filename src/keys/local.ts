/**
 * Local master-key provider (development, single host): tenant KEKs are wrapped with
 * AES-256-GCM under a 32-byte master key held in memory. Pure Web Crypto.
 *
 * Wrapped format, version 1 (61 bytes for a 32-byte KEK):
 *   0x01 | IV (12 bytes) | AES-256-GCM(master, IV, KEK, AAD = 'veil:kek:v1:' + tenantId) ct||tag
 */
import {
  AES_KEY_BYTES,
  GCM_IV_BYTES,
  GCM_TAG_BYTES,
  aesGcmDecrypt,
  aesGcmEncrypt,
  concatBytes,
  randomBytes,
  toHex,
  utf8,
} from './crypto.js';
import { assertTenantId, KeyProviderError, roundTripCheck, type MasterKeyProvider } from './provider.js';
import { sha256Sync } from './sha256-sync.js';

export const LOCAL_WRAP_VERSION = 1;
const KEK_BYTES = 32;
const WRAPPED_LEN = 1 + GCM_IV_BYTES + KEK_BYTES + GCM_TAG_BYTES;

/** 'local:' + the first 8 bytes (16 hex digits) of SHA-256('veil:local-master:v1' || key). */
export function localKeyFingerprint(masterKey: Uint8Array): string {
  return 'local:' + toHex(sha256Sync(concatBytes(utf8('veil:local-master:v1'), masterKey)).subarray(0, 8));
}

export interface LocalProviderOptions {
  /**
   * Earlier master keys, still accepted by unwrapKek / rewrapKek so that a local master key
   * can be rotated: rewrap every KEK, then drop the old key.
   */
  previousKeys?: readonly Uint8Array[];
}

function kekAad(tenantId: string): Uint8Array {
  return utf8('veil:kek:v1:' + tenantId);
}

export function createLocalProvider(masterKey: Uint8Array, opts: LocalProviderOptions = {}): MasterKeyProvider {
  const check32 = (k: Uint8Array) => {
    if (!(k instanceof Uint8Array) || k.length !== AES_KEY_BYTES) {
      throw new KeyProviderError('wrong_key', `The local master key must be exactly ${AES_KEY_BYTES} bytes.`);
    }
  };
  check32(masterKey);
  // Own copies: the caller may reuse or zero its arrays; the crypto cache is keyed on identity.
  const current = masterKey.slice();
  const previous = (opts.previousKeys ?? []).map((k) => {
    check32(k);
    return k.slice();
  });
  const keyId = localKeyFingerprint(current);

  const previousIds = previous.map(localKeyFingerprint);

  async function wrap(tenantId: string, kek: Uint8Array): Promise<Uint8Array> {
    const iv = randomBytes(GCM_IV_BYTES);
    const ct = await aesGcmEncrypt(current, iv, kek, kekAad(tenantId));
    return concatBytes(Uint8Array.of(LOCAL_WRAP_VERSION), iv, ct);
  }

  async function unwrap(tenantId: string, wrapped: Uint8Array): Promise<Uint8Array> {
    assertTenantId(tenantId);
    if (!(wrapped instanceof Uint8Array) || wrapped.length === 0) {
      throw new KeyProviderError('invalid_ciphertext', 'The wrapped tenant key is empty or not bytes.');
    }
    if (wrapped[0] !== LOCAL_WRAP_VERSION) {
      throw new KeyProviderError(
        'invalid_ciphertext',
        `The wrapped tenant key has an unsupported format version (${wrapped[0]}); was it wrapped by another provider?`,
      );
    }
    if (wrapped.length !== WRAPPED_LEN) {
      throw new KeyProviderError(
        'invalid_ciphertext',
        `The wrapped tenant key has the wrong length (${wrapped.length} bytes, expected ${WRAPPED_LEN}).`,
      );
    }
    const iv = wrapped.subarray(1, 1 + GCM_IV_BYTES);
    const ct = wrapped.subarray(1 + GCM_IV_BYTES);
    const aad = kekAad(tenantId);
    for (const key of [current, ...previous]) {
      try {
        return await aesGcmDecrypt(key, iv, ct, aad);
      } catch {
        // try the next key
      }
    }
    throw new KeyProviderError(
      'wrong_key',
      `Could not unwrap the tenant key with local master key ${keyId}: the master key does not match the one ` +
        'this data was encrypted with (or the wrapped key was altered or belongs to another tenant).',
    );
  }

  async function generateKek(tenantId: string): Promise<{ plaintext: Uint8Array; wrapped: Uint8Array }> {
    assertTenantId(tenantId);
    const plaintext = randomBytes(KEK_BYTES);
    return { plaintext, wrapped: await wrap(tenantId, plaintext) };
  }

  return {
    kind: 'local',
    keyId,
    previousKeyIds: previousIds,
    generateKek,
    unwrapKek: unwrap,
    async rewrapKek(tenantId, wrapped) {
      const kek = await unwrap(tenantId, wrapped);
      try {
        return await wrap(tenantId, kek);
      } finally {
        kek.fill(0);
      }
    },
    check: () =>
      roundTripCheck({ generateKek, unwrapKek: unwrap }, () => new KeyProviderError('wrong_key', 'The local master key failed its start-up round trip.')),
  };
}
