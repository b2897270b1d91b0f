/** The Node fast path is byte-compatible with Web Crypto (src/keys/crypto.ts), both ways. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecryptError } from './crypto.js';
import { nodeVaultCrypto as node } from './crypto.node.js';
import { webVaultCrypto as web } from '../vault/db-vault.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const anyBytes = fc.uint8Array({ maxLength: 300 });

describe('nodeVaultCrypto vs webVaultCrypto', () => {
  it('HMAC and AES-GCM agree and interoperate', async () => {
    await fc.assert(
      fc.asyncProperty(bytes(32), bytes(12), anyBytes, anyBytes, async (key, iv, pt, aad) => {
        expect(await node.hmac(key, pt)).toEqual(await web.hmac(key, pt));
        const a = await node.encrypt(key, iv, pt, aad);
        const b = await web.encrypt(key, iv, pt, aad);
        expect(a).toEqual(b);
        expect(a.length).toBe(pt.length + 16);
        expect(await node.decrypt(key, iv, b, aad)).toEqual(pt);
        expect(await web.decrypt(key, iv, a, aad)).toEqual(pt);
      }),
      { numRuns: 200 },
    );
  });
  it('rejects any altered byte, AAD, IV or key with DecryptError', async () => {
    await fc.assert(
      fc.asyncProperty(bytes(32), bytes(12), anyBytes, anyBytes, fc.nat(), fc.integer({ min: 1, max: 255 }), async (key, iv, pt, aad, pos, x) => {
        const ct = await node.encrypt(key, iv, pt, aad);
        const bad = ct.slice();
        bad[pos % bad.length]! ^= x;
        expect(() => node.decrypt(key, iv, bad, aad)).toThrow(DecryptError);
        const aad2 = Uint8Array.from([...aad, 0]);
        expect(() => node.decrypt(key, iv, ct, aad2)).toThrow(DecryptError);
        const iv2 = iv.slice();
        iv2[pos % 12]! ^= x;
        expect(() => node.decrypt(key, iv2, ct, aad)).toThrow(DecryptError);
        const key2 = key.slice();
        key2[pos % 32]! ^= x;
        expect(() => node.decrypt(key2, iv, ct, aad)).toThrow(DecryptError);
      }),
      { numRuns: 200 },
    );
    const key = new Uint8Array(32);
    expect(() => node.decrypt(key, new Uint8Array(12), new Uint8Array(15), new Uint8Array())).toThrow(DecryptError);
    expect(() => node.decrypt(new Uint8Array(16), new Uint8Array(12), new Uint8Array(32), new Uint8Array())).toThrow(DecryptError);
    expect(() => node.encrypt(key, new Uint8Array(16), new Uint8Array(1), new Uint8Array())).toThrow(/IV must be 12/);
    expect(() => node.encrypt(new Uint8Array(31), new Uint8Array(12), new Uint8Array(1), new Uint8Array())).toThrow(/key must be 32/);
  });
});
