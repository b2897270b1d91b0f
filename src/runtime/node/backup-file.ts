/**
 * Encrypted backup files (format: src/backup/format.ts, contents: src/backup/dump.ts).
 * writeBackup: a fresh data key from the master key provider, rows streamed into ~1 MiB
 * sealed chunks, written to a 0600 temporary file and linked into place only when complete
 * (never overwriting an existing file).
 * readBackup: checks magic, header and every chunk in order and that the final chunk is there;
 * yields JSONL lines as they authenticate and throws BackupFormatError on anything else.
 * Restore consumes it inside one transaction, so a bad chunk rolls back everything.
 */
import { access, link, open, rm } from 'node:fs/promises';
import type { Db } from '../../db/client.js';
import { concatAll, fromBase64, fromUtf8, timingSafeEqual, toBase64, toHex, randomBytes, utf8 } from '../../keys/crypto.js';
import type { MasterKeyProvider } from '../../keys/provider.js';
import {
  BACKUP_KEY_CONTEXT,
  BACKUP_MAGIC,
  BACKUP_VERSION,
  BackupFormatError,
  CHUNK_PLAINTEXT_BYTES,
  ChunkOpener,
  ChunkSealer,
  encodeHeader,
  MAX_CHUNK_BYTES,
  MAX_HEADER_BYTES,
  parseHeader,
  readU32,
  type BackupHeader,
} from '../../backup/format.js';
import { dumpLines, tableCounts } from '../../backup/dump.js';

export interface Progress {
  start(total: number): void;
  add(n: number): void;
  stop(): void;
}

export const noProgress: Progress = { start() {}, add() {}, stop() {} };

export async function writeBackup(
  db: Db,
  provider: MasterKeyProvider,
  file: string,
  progress: Progress = noProgress,
  chunkBytes = CHUNK_PLAINTEXT_BYTES,
): Promise<{ header: BackupHeader; bytes: number }> {
  const counts = await tableCounts(db);
  const tenants = (await db.query<{ id: string }>('select id from tenants order by id', [])).map((r) => r.id);
  const key = await provider.generateKek(BACKUP_KEY_CONTEXT);
  const header: BackupHeader = {
    format: 'veil-backup',
    version: BACKUP_VERSION,
    createdAt: new Date().toISOString(),
    tenants,
    counts,
    masterKeyId: provider.keyId,
    wrappedKey: toBase64(key.wrapped),
  };
  const enc = encodeHeader(header);
  const sealer = await ChunkSealer.create(key.plaintext, enc.header);
  if (await access(file).then(() => true, () => false)) throw new Error(`${file} already exists; a backup never overwrites a file`);
  const tmp = `${file}.${toHex(randomBytes(4))}.partial`;
  const fh = await open(tmp, 'wx', 0o600);
  let bytes = 0;
  const write = async (b: Uint8Array) => {
    await fh.write(b);
    bytes += b.length;
  };
  try {
    progress.start(Object.values(counts).reduce((a, b) => a + b, 0));
    await write(enc.bytes);
    let buf: Uint8Array[] = [];
    let size = 0;
    for await (const page of dumpLines(db)) {
      const b = utf8(page.line + '\n');
      buf.push(b);
      size += b.length;
      progress.add(page.rows);
      if (size >= chunkBytes) {
        await write(await sealer.seal(concatAll(buf), false));
        buf = [];
        size = 0;
      }
    }
    await write(await sealer.seal(concatAll(buf), true));
    await fh.sync();
    await fh.close();
    await link(tmp, file); // fails if the file appeared meanwhile: never overwrites
    await rm(tmp, { force: true });
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  } finally {
    key.plaintext.fill(0);
    progress.stop();
  }
  return { header, bytes };
}

/** Reads and authenticates an archive; `lines` yields its JSONL records in order. */
export async function openBackup(file: string, provider: MasterKeyProvider): Promise<{ header: BackupHeader; lines: AsyncGenerator<string> }> {
  const fh = await open(file, 'r');
  let pos = 0;
  const size = (await fh.stat()).size;
  const readExact = async (n: number, what: string): Promise<Uint8Array> => {
    if (pos + n > size) throw new BackupFormatError(`the backup is truncated (in ${what})`);
    const b = new Uint8Array(n);
    const { bytesRead } = await fh.read(b, 0, n, pos);
    if (bytesRead !== n) throw new BackupFormatError(`the backup is truncated (in ${what})`);
    pos += n;
    return b;
  };
  try {
    const magic = await readExact(BACKUP_MAGIC.length, 'the magic');
    if (!timingSafeEqual(magic, BACKUP_MAGIC)) throw new BackupFormatError('not a Veil backup (bad magic)');
    const hlen = readU32(await readExact(4, 'the header length'));
    if (hlen > MAX_HEADER_BYTES) throw new BackupFormatError('the backup header is too large (damaged)');
    const headerBytes = await readExact(hlen, 'the header');
    const header = parseHeader(headerBytes);
    let key: Uint8Array;
    try {
      key = await provider.unwrapKek(BACKUP_KEY_CONTEXT, fromBase64(header.wrappedKey));
    } catch (e) {
      throw new BackupFormatError(
        `cannot unwrap the backup key with master key ${provider.keyId} (the backup was made under ${header.masterKeyId}): ${(e as Error).name}`,
      );
    }
    const opener = await ChunkOpener.create(key, headerBytes);
    async function* lines(): AsyncGenerator<string> {
      try {
        while (!opener.finished) {
          if (pos === size) throw new BackupFormatError('the backup is truncated (the final chunk is missing)');
          const len = readU32(await readExact(4, 'a chunk length'));
          if (len > MAX_CHUNK_BYTES) throw new BackupFormatError('a chunk is too large (damaged)');
          const pt = fromUtf8(await opener.open(await readExact(len, 'a chunk')));
          for (const l of pt.split('\n')) if (l.length > 0) yield l;
        }
        if (pos !== size) throw new BackupFormatError('data after the final chunk (appended or tampered)');
      } finally {
        key.fill(0);
        await fh.close().catch(() => {});
      }
    }
    return { header, lines: lines() };
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
}

/** Authenticates a whole archive without restoring; returns rows per table. */
export async function verifyBackup(file: string, provider: MasterKeyProvider, progress: Progress = noProgress): Promise<{ header: BackupHeader; rows: Record<string, number> }> {
  const { header, lines } = await openBackup(file, provider);
  const rows: Record<string, number> = {};
  progress.start(Object.values(header.counts).reduce((a, b) => a + b, 0));
  try {
    for await (const l of lines) {
      const rec = JSON.parse(l) as { table: string; rows: unknown[] };
      rows[rec.table] = (rows[rec.table] ?? 0) + rec.rows.length;
      progress.add(rec.rows.length);
    }
  } finally {
    progress.stop();
  }
  for (const [t, n] of Object.entries(header.counts)) {
    if ((rows[t] ?? 0) !== n) throw new BackupFormatError(`table ${t}: ${rows[t] ?? 0} rows, the header says ${n}`);
  }
  return { header, rows };
}
