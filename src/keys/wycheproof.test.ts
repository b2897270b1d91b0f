/**
 * Project Wycheproof vectors (C2SP/wycheproof, vendored in test/vectors/wycheproof with their
 * Apache-2.0 LICENSE and source commit in SOURCE.md; VEIL_WYCHEPROOF_DIR reads another copy)
 * through src/keys/crypto.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  CryptoError,
  DecryptError,
  fromHex,
  hkdfSha256,
  hmacSha256,
  timingSafeEqual,
  toHex,
} from './crypto.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const dir = resolve(repoRoot, process.env.VEIL_WYCHEPROOF_DIR ?? 'test/vectors/wycheproof');

interface Group<T> {
  keySize?: number;
  ivSize?: number;
  tagSize?: number;
  tests: T[];
}
interface Suite<T> {
  numberOfTests: number;
  testGroups: Group<T>[];
}
function load<T>(name: string): Suite<T> {
  const path = resolve(dir, name);
  if (!existsSync(path)) throw new Error(`Wycheproof vectors not found at ${path}; set VEIL_WYCHEPROOF_DIR`);
  return JSON.parse(readFileSync(path, 'utf8')) as Suite<T>;
}

interface AeadTest {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
}

describe('Wycheproof AES-GCM', () => {
  const suite = load<AeadTest>('aes_gcm_test.json');
  const all = suite.testGroups.flatMap((g) => g.tests.map((t) => ({ g, t })));

  it('covers every vector of the file', () => {
    expect(all.length).toBe(suite.numberOfTests);
    expect(all.length).toBe(316);
  });

  it('AES-256 with 96-bit IV and 128-bit tag: valid vectors encrypt exactly and decrypt back; invalid ones throw DecryptError', async () => {
    let valid = 0;
    let invalid = 0;
    for (const { g, t } of all) {
      if (g.keySize !== 256 || g.ivSize !== 96 || g.tagSize !== 128) continue;
      const key = fromHex(t.key);
      const iv = fromHex(t.iv);
      const aad = fromHex(t.aad);
      const ctTag = fromHex(t.ct + t.tag);
      if (t.result === 'valid') {
        valid++;
        expect(toHex(await aesGcmEncrypt(key, iv, fromHex(t.msg), aad)), `tcId ${t.tcId}`).toBe(t.ct + t.tag);
        expect(toHex(await aesGcmDecrypt(key, iv, ctTag, aad)), `tcId ${t.tcId}`).toBe(t.msg);
      } else {
        expect(t.result, `tcId ${t.tcId}`).toBe('invalid');
        invalid++;
        await expect(aesGcmDecrypt(key, iv, ctTag, aad), `tcId ${t.tcId}`).rejects.toBeInstanceOf(DecryptError);
      }
    }
    expect(valid).toBe(39);
    expect(invalid).toBe(27);
  });

  it('rejects every vector with another key size, IV size or tag size', async () => {
    let rejected = 0;
    for (const { g, t } of all) {
      if (g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128) continue;
      const key = fromHex(t.key);
      const iv = fromHex(t.iv);
      const aad = fromHex(t.aad);
      await expect(aesGcmEncrypt(key, iv, fromHex(t.msg), aad), `tcId ${t.tcId}`).rejects.toBeInstanceOf(CryptoError);
      await expect(aesGcmDecrypt(key, iv, fromHex(t.ct + t.tag), aad), `tcId ${t.tcId}`).rejects.toBeInstanceOf(
        DecryptError,
      );
      rejected++;
    }
    expect(rejected).toBe(316 - 39 - 27);
  });

  it('the 256-bit key groups with other IV sizes are rejected for the IV alone', async () => {
    let n = 0;
    for (const { g, t } of all) {
      if (g.keySize !== 256 || g.ivSize === 96) continue;
      n++;
      await expect(
        aesGcmEncrypt(fromHex(t.key), fromHex(t.iv), fromHex(t.msg), fromHex(t.aad)),
      ).rejects.toThrow(/IV must be 12 bytes/);
    }
    expect(n).toBe(19 + 2 * 7 + 2 + 4);
  });
});

interface MacTest {
  tcId: number;
  key: string;
  msg: string;
  tag: string;
  result: 'valid' | 'invalid';
}

describe('Wycheproof HMAC-SHA-256', () => {
  const suite = load<MacTest>('hmac_sha256_test.json');

  it('valid tags match (prefix for truncated tags) and invalid tags do not', async () => {
    let valid = 0;
    let invalid = 0;
    let truncated = 0;
    for (const g of suite.testGroups) {
      for (const t of g.tests) {
        const tagBytes = (g.tagSize ?? 256) / 8;
        if (tagBytes < 32) truncated++;
        const mac = await hmacSha256(fromHex(t.key), fromHex(t.msg));
        expect(mac.length).toBe(32);
        const same = timingSafeEqual(mac.subarray(0, tagBytes), fromHex(t.tag));
        if (t.result === 'valid') {
          valid++;
          expect(same, `tcId ${t.tcId}`).toBe(true);
        } else {
          invalid++;
          expect(same, `tcId ${t.tcId}`).toBe(false);
        }
      }
    }
    expect(valid + invalid).toBe(suite.numberOfTests);
    expect(valid).toBe(66);
    expect(invalid).toBe(108);
    expect(truncated).toBe(87);
  });
});

interface HkdfTest {
  tcId: number;
  ikm: string;
  salt: string;
  info: string;
  size: number;
  okm: string;
  result: 'valid' | 'invalid';
}

describe('Wycheproof HKDF-SHA-256', () => {
  const suite = load<HkdfTest>('hkdf_sha256_test.json');

  it('valid vectors derive the exact output; invalid ones (size too large) throw', async () => {
    let valid = 0;
    let invalid = 0;
    for (const g of suite.testGroups) {
      for (const t of g.tests) {
        const run = () => hkdfSha256(fromHex(t.ikm), fromHex(t.salt), fromHex(t.info), t.size);
        if (t.result === 'valid') {
          valid++;
          expect(toHex(await run()), `tcId ${t.tcId}`).toBe(t.okm);
        } else {
          invalid++;
          await expect(run(), `tcId ${t.tcId}`).rejects.toBeInstanceOf(CryptoError);
        }
      }
    }
    expect(valid + invalid).toBe(suite.numberOfTests);
    expect(valid).toBe(83);
    expect(invalid).toBe(3);
  });
});
