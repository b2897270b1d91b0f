/**
 * Property tests for what parses: the backup chunk format (any split of any payload round-trips;
 * any single flipped bit, any swap of chunks, a missing final flag is refused) and the
 * canonical JSON the audit chain hashes (key order never changes the bytes; it parses back).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './chain.js';
import { BackupFormatError, ChunkOpener, ChunkSealer, readU32 } from '../backup/format.js';
import { randomBytes } from '../keys/crypto.js';

const header = new TextEncoder().encode('{"format":"veil-backup","version":1}');

async function seal(key: Uint8Array, parts: Uint8Array[]): Promise<Uint8Array[]> {
  const s = await ChunkSealer.create(key, header);
  const out: Uint8Array[] = [];
  for (let i = 0; i < parts.length; i++) out.push(await s.seal(parts[i]!, i === parts.length - 1));
  return out;
}

async function openAll(key: Uint8Array, chunks: Uint8Array[]): Promise<Uint8Array[]> {
  const o = await ChunkOpener.create(key, header);
  const out: Uint8Array[] = [];
  for (const c of chunks) {
    expect(readU32(c)).toBe(c.length - 4);
    out.push(await o.open(c.subarray(4)));
  }
  if (!o.finished) throw new BackupFormatError('final chunk missing');
  return out;
}

const parts = fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 6 });

describe('backup chunks (property)', () => {
  it('round-trip any payload split', async () => {
    const key = randomBytes(32);
    await fc.assert(
      fc.asyncProperty(parts, async (ps) => {
        expect(await openAll(key, await seal(key, ps))).toEqual(ps);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses any flipped bit, any swap and a missing final chunk', async () => {
    const key = randomBytes(32);
    await fc.assert(
      fc.asyncProperty(parts, fc.nat(), fc.nat(7), async (ps, at, bit) => {
        const chunks = await seal(key, ps);
        const i = at % chunks.length;
        const c = Uint8Array.from(chunks[i]!);
        const pos = 4 + (at % (c.length - 4));
        c[pos]! ^= 1 << bit;
        const flipped = chunks.map((x, k) => (k === i ? c : x));
        await expect(openAll(key, flipped)).rejects.toBeInstanceOf(BackupFormatError);
        if (chunks.length > 1) {
          await expect(openAll(key, [chunks[1]!, chunks[0]!, ...chunks.slice(2)])).rejects.toBeInstanceOf(BackupFormatError);
          await expect(openAll(key, chunks.slice(0, -1))).rejects.toBeInstanceOf(BackupFormatError);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('canonical JSON (property)', () => {
  const json = fc.jsonValue({ maxDepth: 3 }).filter((v) => !JSON.stringify(v).includes('-0'));
  it('parses back to the same value, and key order does not change the bytes', () => {
    fc.assert(
      fc.property(json, (v) => {
        const s = canonicalJson(v);
        expect(JSON.parse(s)).toEqual(JSON.parse(JSON.stringify(v)));
        const reversed = JSON.parse(JSON.stringify(v), (_k, x) =>
          x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).reverse()) : x,
        );
        expect(canonicalJson(reversed)).toBe(s);
      }),
      { numRuns: 300 },
    );
  });
});
