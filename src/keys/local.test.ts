import { mkdtemp, readFile, rm, stat, writeFile, chmod, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.js';
import type { Logger } from '../core/types.js';
import { aesGcmDecrypt, fromBase64, randomBytes, toBase64, toHex, utf8 } from './crypto.js';
import { createLocalProvider, localKeyFingerprint } from './local.js';
import { KeyProviderError } from './provider.js';
import { createMasterKeyProvider, loadLocalMasterKey } from './master-key.node.js';

function recordingLogger() {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const logger: Logger = {
    debug: (msg, fields) => lines.push({ level: 'debug', msg, fields }),
    info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
  };
  return { logger, lines };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KeyProviderError);
  return (e as KeyProviderError).code;
}

describe('local master-key provider', () => {
  const master = randomBytes(32);
  const p = createLocalProvider(master);

  it('generates a 32-byte KEK and unwraps it for the same tenant', async () => {
    const { plaintext, wrapped } = await p.generateKek('tenant-a');
    expect(plaintext.length).toBe(32);
    expect(wrapped.length).toBe(1 + 12 + 32 + 16);
    expect(wrapped[0]).toBe(1);
    expect(toHex(await p.unwrapKek('tenant-a', wrapped))).toBe(toHex(plaintext));
    // Two KEKs differ, and so do their IVs.
    const other = await p.generateKek('tenant-a');
    expect(toHex(other.plaintext)).not.toBe(toHex(plaintext));
    expect(toHex(other.wrapped.subarray(1, 13))).not.toBe(toHex(wrapped.subarray(1, 13)));
  });

  it('the wrapped format is exactly version | IV | AES-GCM(master, KEK, AAD veil:kek:v1:<tenant>)', async () => {
    const { plaintext, wrapped } = await p.generateKek('t1');
    const kek = await aesGcmDecrypt(master, wrapped.subarray(1, 13), wrapped.subarray(13), utf8('veil:kek:v1:t1'));
    expect(toHex(kek)).toBe(toHex(plaintext));
  });

  it('is bound to the tenant: another tenant id cannot unwrap', async () => {
    const { wrapped } = await p.generateKek('tenant-a');
    expect(await codeOf(p.unwrapKek('tenant-b', wrapped))).toBe('wrong_key');
    expect(await codeOf(p.unwrapKek('tenant-a ', wrapped))).toBe('wrong_key');
  });

  it('a different master key fails with wrong_key and an operator-readable message without key material', async () => {
    const { wrapped } = await p.generateKek('tenant-a');
    const other = createLocalProvider(randomBytes(32));
    const err = (await other.unwrapKek('tenant-a', wrapped).catch((e: unknown) => e)) as KeyProviderError;
    expect(err).toBeInstanceOf(KeyProviderError);
    expect(err.code).toBe('wrong_key');
    expect(err.transient).toBe(false);
    expect(err.message).toContain('the master key does not match the one this data was encrypted with');
    expect(err.message).toContain(other.keyId);
    expect(err.message).not.toContain(toBase64(master));
    expect(err.message).not.toContain(toHex(master).slice(0, 16));
  });

  it('tampered, truncated or foreign blobs are rejected', async () => {
    const { wrapped } = await p.generateKek('t');
    const flipped = wrapped.slice();
    flipped[20]! ^= 1;
    expect(await codeOf(p.unwrapKek('t', flipped))).toBe('wrong_key');
    expect(await codeOf(p.unwrapKek('t', wrapped.subarray(0, wrapped.length - 1)))).toBe('invalid_ciphertext');
    const v2 = wrapped.slice();
    v2[0] = 2;
    expect(await codeOf(p.unwrapKek('t', v2))).toBe('invalid_ciphertext');
    expect(await codeOf(p.unwrapKek('t', new Uint8Array(0)))).toBe('invalid_ciphertext');
    await expect(p.unwrapKek('', wrapped)).rejects.toThrow(TypeError);
  });

  it('property: arbitrary bytes never unwrap, and always fail with a KeyProviderError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 80 }), fc.boolean(), async (bytes, v1) => {
        const blob = v1 && bytes.length > 0 ? Uint8Array.of(1, ...bytes.subarray(1)) : bytes;
        const e = await p.unwrapKek('t', blob).catch((err: unknown) => err);
        expect(e).toBeInstanceOf(KeyProviderError);
        expect(['invalid_ciphertext', 'wrong_key']).toContain((e as KeyProviderError).code);
      }),
      { numRuns: 300 },
    );
  });

  it('keyId is local: + a 16-hex fingerprint, stable per key and different across keys', () => {
    expect(p.keyId).toMatch(/^local:[0-9a-f]{16}$/);
    expect(createLocalProvider(master.slice()).keyId).toBe(p.keyId);
    expect(createLocalProvider(randomBytes(32)).keyId).not.toBe(p.keyId);
    expect(localKeyFingerprint(master)).toBe(p.keyId);
    expect(p.kind).toBe('local');
  });

  it('rejects master keys that are not 32 bytes', () => {
    for (const n of [0, 16, 31, 33, 64]) expect(() => createLocalProvider(new Uint8Array(n))).toThrow(KeyProviderError);
  });

  it('rewrap gives a new blob for the same KEK; previousKeys support master rotation', async () => {
    const { plaintext, wrapped } = await p.generateKek('t');
    const re = await p.rewrapKek('t', wrapped);
    expect(toHex(re)).not.toBe(toHex(wrapped));
    expect(toHex(await p.unwrapKek('t', re))).toBe(toHex(plaintext));

    const newMaster = randomBytes(32);
    const rotated = createLocalProvider(newMaster, { previousKeys: [master] });
    expect(toHex(await rotated.unwrapKek('t', wrapped))).toBe(toHex(plaintext));
    const moved = await rotated.rewrapKek('t', wrapped);
    const onlyNew = createLocalProvider(newMaster);
    expect(toHex(await onlyNew.unwrapKek('t', moved))).toBe(toHex(plaintext));
    expect(await codeOf(onlyNew.unwrapKek('t', wrapped))).toBe('wrong_key');
    expect(await codeOf(rotated.rewrapKek('other-tenant', wrapped))).toBe('wrong_key');
  });

  it('keeps its own copy of the master key (caller may zero its array)', async () => {
    const k = randomBytes(32);
    const prov = createLocalProvider(k);
    const { plaintext, wrapped } = await prov.generateKek('t');
    k.fill(0);
    expect(toHex(await prov.unwrapKek('t', wrapped))).toBe(toHex(plaintext));
    await prov.check();
  });
});

describe('loadLocalMasterKey / createMasterKeyProvider (real filesystem)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'veil-keys-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('generates <dataDir>/master.key with mode 0600 (creating the dir), warns loudly, and reuses it on restart', async () => {
    const dataDir = join(dir, 'nested', 'data');
    const { logger, lines } = recordingLogger();
    const first = await loadLocalMasterKey({ dataDir, logger });
    expect(first.source).toBe('generated');
    expect(first.key.length).toBe(32);
    const st = await stat(join(dataDir, 'master.key'));
    expect(st.mode & 0o777).toBe(0o600);
    expect(fromBase64((await readFile(join(dataDir, 'master.key'), 'utf8')).trim())).toEqual(first.key);
    const warn = lines.filter((l) => l.level === 'warn');
    expect(warn).toHaveLength(1);
    expect(warn[0]!.msg).toMatch(/DEVELOPMENT key/);
    expect(warn[0]!.msg).toMatch(/Back it up/);
    expect(warn[0]!.msg).toMatch(/KMS/);
    expect(JSON.stringify(lines)).not.toContain(toBase64(first.key));
    expect(await readdir(dataDir)).toEqual(['master.key']); // no temp file left behind

    const again = recordingLogger();
    const second = await loadLocalMasterKey({ dataDir, logger: again.logger });
    expect(second.source).toBe('file');
    expect(toHex(second.key)).toBe(toHex(first.key));
    expect(again.lines).toHaveLength(0);
  });

  it('concurrent first starts all end up with the same key', async () => {
    const dataDir = join(dir, 'race');
    const results = await Promise.all(
      Array.from({ length: 8 }, () => loadLocalMasterKey({ dataDir, logger: recordingLogger().logger })),
    );
    expect(new Set(results.map((r) => toHex(r.key))).size).toBe(1);
    expect(results.filter((r) => r.source === 'generated')).toHaveLength(1);
    expect(await readdir(dataDir)).toEqual(['master.key']);
  });

  it('warns when the key file is readable by others, and still loads it', async () => {
    const key = randomBytes(32);
    await writeFile(join(dir, 'master.key'), toBase64(key) + '\n');
    await chmod(join(dir, 'master.key'), 0o644);
    const { logger, lines } = recordingLogger();
    const r = await loadLocalMasterKey({ dataDir: dir, logger });
    expect(r.source).toBe('file');
    expect(toHex(r.key)).toBe(toHex(key));
    expect(lines).toEqual([
      { level: 'warn', msg: expect.stringMatching(/chmod 600/), fields: { path: join(dir, 'master.key'), mode: '0644' } },
    ]);
  });

  it('VEIL_MASTER_KEY wins over the file; a bad one is a clear error without the value', async () => {
    const key = randomBytes(32);
    const r = await loadLocalMasterKey({ masterKeyB64: toBase64(key), dataDir: dir, logger: recordingLogger().logger });
    expect(r).toEqual({ key, source: 'env' });
    expect(await readdir(dir)).toEqual([]); // nothing generated

    const short = toBase64(randomBytes(16));
    const e1 = await loadLocalMasterKey({ masterKeyB64: short, dataDir: dir, logger: recordingLogger().logger }).catch(
      (e: unknown) => e as Error,
    );
    expect((e1 as Error).message).toBe(
      'VEIL_MASTER_KEY must be the base64 encoding of exactly 32 bytes, but it decodes to 16 bytes (generate one with: openssl rand -base64 32).',
    );
    expect((e1 as Error).message).not.toContain(short);
    await expect(
      loadLocalMasterKey({ masterKeyB64: 'not base64 at all!', dataDir: dir, logger: recordingLogger().logger }),
    ).rejects.toThrow(/^VEIL_MASTER_KEY is not valid base64/);
    await expect(
      loadLocalMasterKey({ masterKeyB64: toBase64(randomBytes(33)), dataDir: dir, logger: recordingLogger().logger }),
    ).rejects.toThrow(/decodes to 33 bytes/);
  });

  it('a corrupt key file is a clear error', async () => {
    await writeFile(join(dir, 'master.key'), 'hello\n', { mode: 0o600 });
    await expect(loadLocalMasterKey({ dataDir: dir, logger: recordingLogger().logger })).rejects.toThrow(
      /master key file .* is not valid base64/,
    );
  });

  it('createMasterKeyProvider builds a working local provider from config', async () => {
    const key = randomBytes(32);
    const { logger, lines } = recordingLogger();
    const cfg = loadConfig({ VEIL_MASTER_KEY: toBase64(key), VEIL_DATA_DIR: dir });
    const p = await createMasterKeyProvider(cfg, logger, {});
    expect(p.kind).toBe('local');
    expect(p.keyId).toBe(localKeyFingerprint(key));
    await p.check();
    const { plaintext, wrapped } = await p.generateKek('t');
    expect(toHex(await createLocalProvider(key).unwrapKek('t', wrapped))).toBe(toHex(plaintext));
    expect(lines).toEqual([{ level: 'info', msg: 'master key provider: local', fields: { keyId: p.keyId, source: 'env' } }]);
  });

  it('VEIL_MASTER_KEY_FILE keeps the key outside the data dir (generated there on PGlite, read on restart)', async () => {
    const dataDir = join(dir, 'data');
    const keyFile = join(dir, 'secrets', 'veil.key');
    const cfg = loadConfig({ VEIL_DATA_DIR: dataDir, VEIL_MASTER_KEY_FILE: keyFile });
    const first = await createMasterKeyProvider(cfg, recordingLogger().logger, {});
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    await expect(stat(join(dataDir, 'master.key'))).rejects.toThrow(/ENOENT/);
    const { logger, lines } = recordingLogger();
    const second = await createMasterKeyProvider(cfg, logger, {});
    expect(second.keyId).toBe(first.keyId);
    expect(lines).toEqual([{ level: 'info', msg: 'master key provider: local', fields: { keyId: first.keyId, source: 'file' } }]);
  });

  it('with DATABASE_URL, refuses to start without an explicit key, and generates nothing (issue 7)', async () => {
    const dataDir = join(dir, 'data');
    const pgUrl = 'postgres://u@127.0.0.1:1/x';
    const noKey = loadConfig({ DATABASE_URL: pgUrl, VEIL_DATA_DIR: dataDir });
    await expect(createMasterKeyProvider(noKey, recordingLogger().logger, {})).rejects.toThrow(
      /DATABASE_URL is set but no master key is configured: set VEIL_MASTER_KEY .* or VEIL_MASTER_KEY_FILE/,
    );
    // Even a key file in the data dir is not picked up implicitly on a shared database.
    await writeFile(join(dir, 'master.key'), toBase64(randomBytes(32)) + '\n', { mode: 0o600 });
    await expect(createMasterKeyProvider(loadConfig({ DATABASE_URL: pgUrl, VEIL_DATA_DIR: dir }), recordingLogger().logger, {})).rejects.toThrow(/no master key is configured/);
    const missingFile = join(dir, 'absent.key');
    await expect(
      createMasterKeyProvider(loadConfig({ DATABASE_URL: pgUrl, VEIL_DATA_DIR: dataDir, VEIL_MASTER_KEY_FILE: missingFile }), recordingLogger().logger, {}),
    ).rejects.toThrow(/absent\.key does not exist; with DATABASE_URL set, Veil does not generate/);
    await expect(stat(dataDir)).rejects.toThrow(/ENOENT/);
    await expect(stat(missingFile)).rejects.toThrow(/ENOENT/);
    // Explicit keys work: by value and by file.
    const key = randomBytes(32);
    const byEnv = await createMasterKeyProvider(loadConfig({ DATABASE_URL: pgUrl, VEIL_MASTER_KEY: toBase64(key) }), recordingLogger().logger, {});
    expect(byEnv.keyId).toBe(localKeyFingerprint(key));
    await writeFile(missingFile, toBase64(key) + '\n', { mode: 0o600 });
    const byFile = await createMasterKeyProvider(loadConfig({ DATABASE_URL: pgUrl, VEIL_MASTER_KEY_FILE: missingFile }), recordingLogger().logger, {});
    expect(byFile.keyId).toBe(localKeyFingerprint(key));
  });

  it('createMasterKeyProvider with aws needs VEIL_KMS_KEY_ID', async () => {
    const cfg = loadConfig({ VEIL_KEY_PROVIDER: 'aws' });
    await expect(createMasterKeyProvider(cfg, recordingLogger().logger, {})).rejects.toThrow(/VEIL_KMS_KEY_ID/);
  });
});
