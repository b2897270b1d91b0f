/**
 * Cryptographic primitives of Veil, on Web Crypto only (`globalThis.crypto`), so the same code
 * runs on Node 20 and on Cloudflare Workers. No node:crypto here.
 *
 * AES-256-GCM is the only cipher: 32-byte keys, 96-bit IVs and 128-bit tags are enforced.
 * Errors never carry key or plaintext material.
 *
 * CryptoKey objects are imported once per key and cached by the identity of the key's
 * Uint8Array (WeakMap): callers must treat key arrays as immutable once used.
 */

export const AES_KEY_BYTES = 32;
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;
/** RFC 5869: HKDF-SHA-256 output is at most 255 hash lengths. */
export const HKDF_SHA256_MAX_BYTES = 255 * 32;

/** Invalid arguments to a crypto function (wrong key / IV length, bad length request, …). */
export class CryptoError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CryptoError';
  }
}

/**
 * AES-GCM decryption failed: wrong key, wrong IV, wrong AAD, tampered or truncated input.
 * Deliberately generic; it says nothing about which of these it was.
 */
export class DecryptError extends CryptoError {
  constructor() {
    super('Decryption failed: the data could not be authenticated.');
    this.name = 'DecryptError';
  }
}

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new CryptoError('Web Crypto (crypto.subtle) is not available in this runtime.');
  return s;
}

/** View a Uint8Array as the BufferSource Web Crypto's typings want (no copy). */
function bs(u: Uint8Array): Uint8Array<ArrayBuffer> {
  return u as Uint8Array<ArrayBuffer>;
}

function assertBytes(name: string, v: unknown): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) throw new CryptoError(`${name} must be a Uint8Array.`);
}

// ---------------------------------------------------------------------------------------------
// Randomness and hashing

/** `n` cryptographically random bytes. */
export function randomBytes(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new CryptoError('randomBytes: n must be a non-negative integer.');
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call.
  for (let off = 0; off < n; off += 65536) {
    globalThis.crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  assertBytes('data', data);
  return new Uint8Array(await subtle().digest('SHA-256', bs(data)));
}

// ---------------------------------------------------------------------------------------------
// AES-256-GCM

const aesKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function aesKey(key: Uint8Array): Promise<CryptoKey> {
  let k = aesKeys.get(key);
  if (!k) {
    k = subtle().importKey('raw', bs(key), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    aesKeys.set(key, k);
    // A failed import must not stay cached.
    k.catch(() => aesKeys.delete(key));
  }
  return k;
}

/** The Web Crypto parameters of one AES-256-GCM call (16-byte tag). */
function gcm(iv: Uint8Array, aad: Uint8Array): AesGcmParams {
  return { name: 'AES-GCM', iv: bs(iv), additionalData: bs(aad), tagLength: GCM_TAG_BYTES * 8 };
}

/**
 * AES-256-GCM encryption. Returns ciphertext || 16-byte tag.
 * Throws CryptoError unless the key is 32 bytes and the IV 12 bytes.
 */
export async function aesGcmEncrypt(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  assertBytes('key', key);
  assertBytes('iv', iv);
  assertBytes('plaintext', plaintext);
  assertBytes('aad', aad);
  if (key.length !== AES_KEY_BYTES) throw new CryptoError(`AES-GCM key must be ${AES_KEY_BYTES} bytes (got ${key.length}).`);
  if (iv.length !== GCM_IV_BYTES) throw new CryptoError(`AES-GCM IV must be ${GCM_IV_BYTES} bytes (got ${iv.length}).`);
  const ck = await aesKey(key);
  const out = await subtle().encrypt(gcm(iv, aad), ck, bs(plaintext));
  return new Uint8Array(out);
}

/**
 * AES-256-GCM decryption of ciphertext || 16-byte tag. Any failure (including a key that is
 * not 32 bytes, an IV that is not 12 bytes, or input shorter than the tag) throws DecryptError.
 */
export async function aesGcmDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertextAndTag: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  if (
    !(key instanceof Uint8Array) ||
    !(iv instanceof Uint8Array) ||
    !(ciphertextAndTag instanceof Uint8Array) ||
    !(aad instanceof Uint8Array) ||
    key.length !== AES_KEY_BYTES ||
    iv.length !== GCM_IV_BYTES ||
    ciphertextAndTag.length < GCM_TAG_BYTES
  ) {
    throw new DecryptError();
  }
  try {
    const ck = await aesKey(key);
    const out = await subtle().decrypt(gcm(iv, aad), ck, bs(ciphertextAndTag));
    return new Uint8Array(out);
  } catch {
    throw new DecryptError();
  }
}

// ---------------------------------------------------------------------------------------------
// HMAC-SHA-256 and HKDF-SHA-256

const hmacKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function hmacKey(key: Uint8Array): Promise<CryptoKey> {
  let k = hmacKeys.get(key);
  if (!k) {
    k = subtle().importKey('raw', bs(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    hmacKeys.set(key, k);
    k.catch(() => hmacKeys.delete(key));
  }
  return k;
}

/** HMAC-SHA-256 (32-byte tag). The key must not be empty. */
export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  assertBytes('key', key);
  assertBytes('data', data);
  if (key.length === 0) throw new CryptoError('HMAC key must not be empty.');
  const ck = await hmacKey(key);
  return new Uint8Array(await subtle().sign('HMAC', ck, bs(data)));
}

/** HKDF-SHA-256 (RFC 5869). `length` is in bytes, 1..8160. */
export async function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  assertBytes('ikm', ikm);
  assertBytes('salt', salt);
  assertBytes('info', info);
  if (!Number.isInteger(length) || length < 1 || length > HKDF_SHA256_MAX_BYTES) {
    throw new CryptoError(`HKDF-SHA-256 output length must be an integer in 1..${HKDF_SHA256_MAX_BYTES}.`);
  }
  const base = await subtle().importKey('raw', bs(ikm), 'HKDF', false, ['deriveBits']);
  const bits = await subtle().deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: bs(salt), info: bs(info) },
    base,
    length * 8,
  );
  return new Uint8Array(bits);
}

/** Compares two byte arrays in time independent of their contents (lengths are not secret). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Strict UTF-8 decoding: invalid sequences throw. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return concatAll(parts);
}

/** {@link concatBytes} for a list of any length (no argument spreading). */
export function concatAll(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new CryptoError('Invalid hex string.');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return btoa(bin);
}

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64URL_RE = /^[A-Za-z0-9_-]*$/;

/** Strict standard base64 (padding required, no whitespace). Throws CryptoError otherwise. */
export function fromBase64(s: string): Uint8Array {
  if (!B64_RE.test(s)) throw new CryptoError('Invalid base64 string.');
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** base64url without padding (RFC 4648 §5). */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** base64url; padding optional. Throws CryptoError on anything else. */
export function fromBase64Url(s: string): Uint8Array {
  const unpadded = s.replace(/={1,2}$/, '');
  if (!B64URL_RE.test(unpadded) || unpadded.length % 4 === 1) throw new CryptoError('Invalid base64url string.');
  if (unpadded.length !== s.length && s.length % 4 !== 0) throw new CryptoError('Invalid base64url string.');
  const std = unpadded.replace(/-/g, '+').replace(/_/g, '/');
  const padded = std + '='.repeat((4 - (std.length % 4)) % 4);
  return fromBase64(padded);
}
