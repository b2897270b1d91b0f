/**
 * Node fast path for the vault's per-field crypto: the same AES-256-GCM and HMAC-SHA-256 as
 * src/keys/crypto.ts (byte-for-byte compatible, tested both ways), synchronous through
 * node:crypto instead of one Web Crypto thread-pool job per field, which is ~5x faster for
 * the many small values of a request. Same rules: 32-byte keys, 12-byte IVs, 16-byte tags,
 * and every decryption failure is a DecryptError that says nothing about why.
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { AES_KEY_BYTES, CryptoError, DecryptError, GCM_IV_BYTES, GCM_TAG_BYTES } from './crypto.js';
import type { VaultCrypto } from '../vault/db-vault.js';

export const nodeVaultCrypto: VaultCrypto = {
  hmac(key, data) {
    if (key.length === 0) throw new CryptoError('HMAC key must not be empty.');
    return new Uint8Array(createHmac('sha256', key).update(data).digest());
  },
  encrypt(key, iv, plaintext, aad) {
    if (key.length !== AES_KEY_BYTES) throw new CryptoError(`AES-GCM key must be ${AES_KEY_BYTES} bytes (got ${key.length}).`);
    if (iv.length !== GCM_IV_BYTES) throw new CryptoError(`AES-GCM IV must be ${GCM_IV_BYTES} bytes (got ${iv.length}).`);
    const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
    c.setAAD(aad);
    const a = c.update(plaintext);
    const b = c.final();
    const tag = c.getAuthTag();
    const out = new Uint8Array(a.length + b.length + tag.length);
    out.set(a, 0);
    out.set(b, a.length);
    out.set(tag, a.length + b.length);
    return out;
  },
  decrypt(key, iv, ciphertextAndTag, aad) {
    if (key.length !== AES_KEY_BYTES || iv.length !== GCM_IV_BYTES || ciphertextAndTag.length < GCM_TAG_BYTES) {
      throw new DecryptError();
    }
    try {
      const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
      d.setAAD(aad);
      d.setAuthTag(ciphertextAndTag.subarray(ciphertextAndTag.length - GCM_TAG_BYTES));
      const a = d.update(ciphertextAndTag.subarray(0, ciphertextAndTag.length - GCM_TAG_BYTES));
      const b = d.final();
      if (b.length === 0) return new Uint8Array(a.buffer, a.byteOffset, a.length);
      const out = new Uint8Array(a.length + b.length);
      out.set(a, 0);
      out.set(b, a.length);
      return out;
    } catch {
      throw new DecryptError();
    }
  },
};
