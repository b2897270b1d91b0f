/**
 * The encrypted backup archive (pure: Web Crypto, no I/O).
 *
 *   "VEILBAK1" | u32 header length | header (UTF-8 JSON) | chunk* 
 *   chunk = u32 length of (iv || ct || tag) | iv (12) | AES-256-GCM(ct || tag)
 *   AAD(chunk i) = 'veil:backup:v1' | SHA-256(header bytes) | u64 i | final flag (1 byte)
 *
 * The header names the format version, the tenant set, the row counts and the data key
 * wrapped by the master key provider (context `_backup`); it is authenticated through every
 * chunk's AAD, so editing it, reordering, dropping, duplicating or appending chunks, or cutting
 * the file anywhere fails verification. Exactly one chunk — the last — carries the final flag.
 * Plaintext is JSONL (src/backup/dump.ts): rows as stored, so values stay ciphertext and keys
 * stay wrapped inside the encryption; nothing in the file is plaintext PII or a plaintext key.
 */
import { aesGcmDecrypt, aesGcmEncrypt, concatBytes, fromUtf8, GCM_IV_BYTES, GCM_TAG_BYTES, randomBytes, sha256, utf8 } from '../keys/crypto.js';

export const BACKUP_MAGIC = utf8('VEILBAK1');
export const BACKUP_VERSION = 1;
export const BACKUP_KEY_CONTEXT = '_backup';
export const MAX_HEADER_BYTES = 1 << 20;
export const CHUNK_PLAINTEXT_BYTES = 1 << 20;
export const MAX_CHUNK_BYTES = 16 << 20;

export interface BackupHeader {
  readonly format: 'veil-backup';
  readonly version: number;
  readonly createdAt: string;
  readonly tenants: readonly string[];
  readonly counts: Readonly<Record<string, number>>;
  readonly masterKeyId: string;
  /** base64 of the data key wrapped by the master key provider (context `_backup`). */
  readonly wrappedKey: string;
}

export class BackupFormatError extends Error {}

export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

export function readU32(b: Uint8Array, at = 0): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at);
}

async function chunkAad(headerHash: Uint8Array, index: number, final: boolean): Promise<Uint8Array> {
  const idx = new Uint8Array(8);
  new DataView(idx.buffer).setBigUint64(0, BigInt(index));
  return concatBytes(utf8('veil:backup:v1'), headerHash, idx, Uint8Array.of(final ? 1 : 0));
}

/** The bytes that open an archive: magic, header length, header. */
export function encodeHeader(h: BackupHeader): { bytes: Uint8Array; header: Uint8Array } {
  const header = utf8(JSON.stringify(h));
  if (header.length > MAX_HEADER_BYTES) throw new BackupFormatError('backup header too large');
  return { bytes: concatBytes(BACKUP_MAGIC, u32(header.length), header), header };
}

export function parseHeader(header: Uint8Array): BackupHeader {
  let h: BackupHeader;
  try {
    h = JSON.parse(fromUtf8(header)) as BackupHeader;
  } catch {
    throw new BackupFormatError('the backup header is not valid JSON (not a Veil backup, or damaged)');
  }
  if (h?.format !== 'veil-backup' || typeof h.wrappedKey !== 'string' || !Array.isArray(h.tenants)) {
    throw new BackupFormatError('not a Veil backup header');
  }
  if (h.version !== BACKUP_VERSION) throw new BackupFormatError(`unsupported backup version ${String(h.version)} (this Veil reads version ${BACKUP_VERSION})`);
  return h;
}

export class ChunkSealer {
  private index = 0;
  private constructor(
    private readonly key: Uint8Array,
    private readonly headerHash: Uint8Array,
  ) {}
  static async create(key: Uint8Array, header: Uint8Array): Promise<ChunkSealer> {
    return new ChunkSealer(key, await sha256(header));
  }
  async seal(plaintext: Uint8Array, final: boolean): Promise<Uint8Array> {
    const iv = randomBytes(GCM_IV_BYTES);
    const ct = await aesGcmEncrypt(this.key, iv, plaintext, await chunkAad(this.headerHash, this.index++, final));
    return concatBytes(u32(iv.length + ct.length), iv, ct);
  }
}

export class ChunkOpener {
  private index = 0;
  private done = false;
  private constructor(
    private readonly key: Uint8Array,
    private readonly headerHash: Uint8Array,
  ) {}
  static async create(key: Uint8Array, header: Uint8Array): Promise<ChunkOpener> {
    return new ChunkOpener(key, await sha256(header));
  }
  get finished(): boolean {
    return this.done;
  }
  /** Opens the next chunk body (iv || ct || tag); throws BackupFormatError when it does not authenticate. */
  async open(body: Uint8Array): Promise<Uint8Array> {
    if (this.done) throw new BackupFormatError('data after the final chunk (appended or tampered)');
    if (body.length < GCM_IV_BYTES + GCM_TAG_BYTES) throw new BackupFormatError(`chunk ${this.index} is too short`);
    const iv = body.subarray(0, GCM_IV_BYTES);
    const ct = body.subarray(GCM_IV_BYTES);
    for (const final of [false, true]) {
      try {
        const pt = await aesGcmDecrypt(this.key, iv, ct, await chunkAad(this.headerHash, this.index, final));
        this.index++;
        this.done = final;
        return pt;
      } catch {
        // try the other flag
      }
    }
    throw new BackupFormatError(`chunk ${this.index} failed authentication (tampered, reordered, or another backup)`);
  }
}
