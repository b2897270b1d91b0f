import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  concatBytes,
  CryptoError,
  DecryptError,
  fromBase64,
  fromBase64Url,
  fromHex,
  fromUtf8,
  hkdfSha256,
  hmacSha256,
  randomBytes,
  sha256,
  timingSafeEqual,
  toBase64,
  toBase64Url,
  toHex,
  utf8,
} from './crypto.js';
import { sha256Sync } from './sha256-sync.js';

const key = fromHex('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff');
const iv = fromHex('000102030405060708090a0b');
const aad = utf8('veil:test:aad');
const msg = utf8('a secret value');

describe('AES-256-GCM', () => {
  it('round trips and produces ct||16-byte tag', async () => {
    const ct = await aesGcmEncrypt(key, iv, msg, aad);
    expect(ct.length).toBe(msg.length + 16);
    expect(fromUtf8(await aesGcmDecrypt(key, iv, ct, aad))).toBe('a secret value');
  });

  it('encrypts the empty plaintext to a bare tag that still authenticates', async () => {
    const ct = await aesGcmEncrypt(key, iv, new Uint8Array(0), aad);
    expect(ct.length).toBe(16);
    expect((await aesGcmDecrypt(key, iv, ct, aad)).length).toBe(0);
    await expect(aesGcmDecrypt(key, iv, ct, utf8('other'))).rejects.toBeInstanceOf(DecryptError);
  });

  it('rejects truncated tags (every length from 0 to 15 bytes short of the full input)', async () => {
    const ct = await aesGcmEncrypt(key, iv, msg, aad);
    for (let cut = 1; cut <= ct.length; cut++) {
      await expect(aesGcmDecrypt(key, iv, ct.subarray(0, ct.length - cut), aad)).rejects.toBeInstanceOf(DecryptError);
    }
    // A 4-byte tag over an empty plaintext (what Node accepts without authTagLength) is refused.
    const shortTagOnly = (await aesGcmEncrypt(key, iv, new Uint8Array(0), aad)).subarray(0, 4);
    await expect(aesGcmDecrypt(key, iv, shortTagOnly, aad)).rejects.toBeInstanceOf(DecryptError);
  });

  it('rejects IVs that are not 12 bytes and keys that are not 32 bytes', async () => {
    const ct = await aesGcmEncrypt(key, iv, msg, aad);
    for (const n of [0, 8, 11, 13, 16]) {
      await expect(aesGcmEncrypt(key, new Uint8Array(n), msg, aad)).rejects.toThrow(CryptoError);
      await expect(aesGcmDecrypt(key, new Uint8Array(n), ct, aad)).rejects.toBeInstanceOf(DecryptError);
    }
    for (const n of [0, 16, 24, 31, 33]) {
      await expect(aesGcmEncrypt(new Uint8Array(n), iv, msg, aad)).rejects.toThrow(/key must be 32 bytes/);
      await expect(aesGcmDecrypt(new Uint8Array(n), iv, ct, aad)).rejects.toBeInstanceOf(DecryptError);
    }
  });

  it('every single-bit flip in ciphertext or tag, and any change of AAD, IV or key, fails', async () => {
    const ct = await aesGcmEncrypt(key, iv, msg, aad);
    for (let i = 0; i < ct.length * 8; i++) {
      const t = ct.slice();
      t[i >> 3]! ^= 1 << (i & 7);
      await expect(aesGcmDecrypt(key, iv, t, aad)).rejects.toBeInstanceOf(DecryptError);
    }
    await expect(aesGcmDecrypt(key, iv, ct, utf8('veil:test:aae'))).rejects.toBeInstanceOf(DecryptError);
    await expect(aesGcmDecrypt(key, iv, ct, new Uint8Array(0))).rejects.toBeInstanceOf(DecryptError);
    const iv2 = iv.slice();
    iv2[0]! ^= 1;
    await expect(aesGcmDecrypt(key, iv2, ct, aad)).rejects.toBeInstanceOf(DecryptError);
    const key2 = key.slice();
    key2[31]! ^= 0x80;
    await expect(aesGcmDecrypt(key2, iv, ct, aad)).rejects.toBeInstanceOf(DecryptError);
  });

  it('DecryptError carries a generic message and no material', async () => {
    const ct = await aesGcmEncrypt(key, iv, msg, aad);
    ct[0]! ^= 1;
    const err = await aesGcmDecrypt(key, iv, ct, aad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecryptError);
    expect(err).toBeInstanceOf(Error);
    const e = err as DecryptError;
    expect(e.message).toBe('Decryption failed: the data could not be authenticated.');
    expect(e.cause).toBeUndefined();
    expect(JSON.stringify({ ...e, m: e.message, s: e.stack })).not.toContain(toHex(key).slice(0, 8));
  });

  it('property: random key/iv/plaintext/aad round trip; a different AAD fails', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 64 }),
        async (k, n, p, a) => {
          const c = await aesGcmEncrypt(k, n, p, a);
          expect(await aesGcmDecrypt(k, n, c, a)).toEqual(p);
          await expect(aesGcmDecrypt(k, n, c, concatBytes(a, Uint8Array.of(0)))).rejects.toBeInstanceOf(DecryptError);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('the cached CryptoKey is per key array: same bytes in another array give the same result', async () => {
    const copy = key.slice();
    const a = await aesGcmEncrypt(key, iv, msg, aad);
    const b = await aesGcmEncrypt(copy, iv, msg, aad);
    expect(toHex(a)).toBe(toHex(b));
    // Many concurrent calls under one key (the vault's hot path) all succeed.
    const outs = await Promise.all(Array.from({ length: 200 }, () => aesGcmEncrypt(key, randomBytes(12), msg, aad)));
    expect(new Set(outs.map(toHex)).size).toBe(200);
  });
});

describe('HMAC, HKDF, SHA-256', () => {
  it('HMAC-SHA-256 matches RFC 4231 test case 2', async () => {
    const mac = await hmacSha256(utf8('Jefe'), utf8('what do ya want for nothing?'));
    expect(toHex(mac)).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('HMAC rejects an empty key', async () => {
    await expect(hmacSha256(new Uint8Array(0), msg)).rejects.toBeInstanceOf(CryptoError);
  });

  it('HKDF-SHA-256 matches RFC 5869 test case 1 and rejects bad lengths', async () => {
    const okm = await hkdfSha256(
      fromHex('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b'),
      fromHex('000102030405060708090a0b0c'),
      fromHex('f0f1f2f3f4f5f6f7f8f9'),
      42,
    );
    expect(toHex(okm)).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
    for (const n of [0, -1, 1.5, 8161]) {
      await expect(hkdfSha256(key, new Uint8Array(0), new Uint8Array(0), n)).rejects.toBeInstanceOf(CryptoError);
    }
    expect((await hkdfSha256(key, new Uint8Array(0), new Uint8Array(0), 8160)).length).toBe(8160);
  });

  it('sha256 and sha256Sync agree with node:crypto on random inputs (all padding boundaries)', async () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
      const d = randomBytes(n);
      const ref = createHash('sha256').update(d).digest('hex');
      expect(toHex(sha256Sync(d))).toBe(ref);
      expect(toHex(await sha256(d))).toBe(ref);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (d) => {
        expect(toHex(sha256Sync(d))).toBe(createHash('sha256').update(d).digest('hex'));
      }),
      { numRuns: 200 },
    );
  });

  it('timingSafeEqual', () => {
    expect(timingSafeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true);
    expect(timingSafeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false);
    expect(timingSafeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2))).toBe(false);
    expect(timingSafeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });

  it('randomBytes gives the requested length, beyond the 64 KiB getRandomValues limit too', () => {
    expect(randomBytes(0).length).toBe(0);
    const big = randomBytes(70_000);
    expect(big.length).toBe(70_000);
    expect(big.subarray(65_536).some((b) => b !== 0)).toBe(true);
    expect(() => randomBytes(-1)).toThrow(CryptoError);
  });
});

describe('encodings (property tests against Buffer)', () => {
  it('base64 and base64url round trip and match Buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const s = toBase64(b);
        expect(s).toBe(Buffer.from(b).toString('base64'));
        expect(fromBase64(s)).toEqual(b);
        const u = toBase64Url(b);
        expect(u).toBe(Buffer.from(b).toString('base64url'));
        expect(fromBase64Url(u)).toEqual(b);
      }),
      { numRuns: 300 },
    );
    expect(toBase64(randomBytes(100_000)).length).toBe(133_336);
  });

  it('base64 parsers reject malformed input', () => {
    for (const bad of ['A', 'AB', 'ABC', 'AB=C', 'A===', '@@@@', 'QUJD RA==', 'QUJD\n', 'QQ-_']) {
      expect(() => fromBase64(bad), bad).toThrow(CryptoError);
    }
    for (const bad of ['A', 'QQ+/', 'QQ==x', 'Q Q', 'QUJDR']) {
      expect(() => fromBase64Url(bad), bad).toThrow(CryptoError);
    }
    expect(fromBase64Url('QQ==')).toEqual(Uint8Array.of(0x41));
    expect(fromBase64Url('QQ')).toEqual(Uint8Array.of(0x41));
  });

  it('property: fromBase64 never throws anything but CryptoError and accepts what Buffer produces', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          const out = fromBase64(s);
          expect(toBase64(out).length).toBe(s.length);
        } catch (e) {
          expect(e).toBeInstanceOf(CryptoError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('utf8 and hex', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(fromUtf8(utf8(s))).toBe(s);
      }),
    );
    expect(() => fromUtf8(Uint8Array.of(0xff))).toThrow();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(fromHex(toHex(b))).toEqual(b);
      }),
    );
    expect(() => fromHex('abc')).toThrow(CryptoError);
    expect(() => fromHex('zz')).toThrow(CryptoError);
    expect(concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))).toEqual(Uint8Array.of(1, 2, 3));
  });
});
