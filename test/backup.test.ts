/**
 * Encrypted backups with the real stores: `veil backup / backup --verify / restore` from a
 * PGlite data dir into PostgreSQL (TEST_DATABASE_URL) or into a second PGlite dir, identical
 * placeholders afterwards, no plaintext value anywhere in the archive; and every kind of
 * tampering (flipped byte, edited header, reordered, dropped, appended chunks, truncation,
 * another master key) refused with nothing restored.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditStore } from '../src/audit/store.js';
import { createApiKeyStore } from '../src/tenants/api-keys.js';
import { BACKUP_MAGIC, readU32, u32 } from '../src/backup/format.js';
import { isEmptyStore } from '../src/backup/dump.js';
import { loadConfig } from '../src/core/config.js';
import type { EntityType } from '../src/core/types.js';
import { openDatabase } from '../src/db/open.node.js';
import { randomBytes, toBase64 } from '../src/keys/crypto.js';
import { createLocalProvider } from '../src/keys/local.js';
import { openBackup, verifyBackup, writeBackup } from '../src/runtime/node/backup-file.js';
import { createDbVault } from '../src/vault/db-vault.js';
import type { Token } from '../src/vault/types.js';
import { cliTargets, runCliCaptured } from './helpers/db.js';

const master = randomBytes(32);
const provider = createLocalProvider(master);
const VALUES: { type: EntityType; value: string }[] = [];
for (let i = 0; i < 40; i++) {
  VALUES.push({ type: 'EMAIL', value: `person.${i}.zq@example.com` });
  VALUES.push({ type: 'PERSON', value: `Quirinus Vandermolen${i}` });
}
VALUES.push({ type: 'CARD', value: '4111 1111 1111 1111' });

const ctx = (tenantId: string) => ({ principal: { tenantId, principalId: 'p', role: 'admin' }, requestId: 'r' });

describe('encrypted backups', () => {
  let dir: string;
  let srcEnv: Record<string, string>;
  const tokens: Record<string, Token[]> = {};
  const tenantIds: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'veil-backup-'));
    srcEnv = { VEIL_DATA_DIR: join(dir, 'src'), VEIL_MASTER_KEY: toBase64(master) };
    const db = await openDatabase(loadConfig(srcEnv));
    const store = createApiKeyStore(db);
    const vault = createDbVault({ db, provider, dekReserveBatch: 16 });
    const audit = createAuditStore({ db, provider });
    for (const name of ['Alpha', 'Beta']) {
      const t = (await store.createTenant(name)).id;
      tenantIds.push(t);
      await store.issueKey({ tenantId: t, name: 'k', role: 'admin' });
      tokens[t] = await vault.tokenize(ctx(t), VALUES);
      await audit.append(t, [{ kind: 'reveal', tenantId: t, tokens: [{ token: tokens[t]![0]!, type: 'EMAIL', outcome: 'revealed' }] }]);
    }
    await db.close();
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the archive holds no plaintext value, verifies, and refuses another master key', async () => {
    const file = join(dir, 'a.veilbak');
    const r = await runCliCaptured(srcEnv, 'backup', '--out', file);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/wrote .*a\.veilbak: 2 tenants, 162 mappings/);
    const bytes = readFileSync(file);
    const latin = bytes.toString('latin1');
    for (const v of VALUES) {
      expect(latin).not.toContain(v.value);
      expect(latin.toLowerCase()).not.toContain(v.value.toLowerCase());
    }
    expect(latin).not.toContain('4111111111111111');
    expect(latin).not.toContain('Quirinus');
    expect((await runCliCaptured(srcEnv, 'backup', '--verify', file)).out).toMatch(/^backup ok: .* 2 tenants, \d+ rows, 162 mappings/);
    const other = createLocalProvider(randomBytes(32));
    await expect(verifyBackup(file, other)).rejects.toThrow(/cannot unwrap the backup key/);
    // a file with the right content and the wrong name cannot be overwritten by a backup
    expect((await runCliCaptured(srcEnv, 'backup', '--out', file)).code).toBe(1);
  });

  describe.each(cliTargets('veil-restore-'))('restore into $name', (target) => {
    it('round trip: identical placeholders and values, audit chains verify, a second restore is refused', async () => {
      const file = join(dir, `rt-${target.name}.veilbak`);
      expect((await runCliCaptured(srcEnv, 'backup', '--out', file)).code).toBe(0);
      const { env: base, done } = await target.env();
      const env = { ...base, VEIL_MASTER_KEY: toBase64(master) };
      try {
        const res = await runCliCaptured(env, 'restore', '--in', file);
        expect(res.err).toBe('');
        expect(res.code).toBe(0);
        expect(res.out).toContain('2 tenants, 162 mappings');
        const db = await openDatabase(loadConfig(env));
        const vault = createDbVault({ db, provider });
        for (const t of tenantIds) {
          expect(await vault.tokenize(ctx(t), VALUES)).toEqual(tokens[t]);
          const back = await vault.resolve(ctx(t), tokens[t]!);
          expect(tokens[t]!.map((tk) => back.get(tk))).toEqual(VALUES.map((v) => v.value));
        }
        // API keys came along (hashes): the key store still knows them
        expect((await createApiKeyStore(db).listKeys()).length).toBe(2);
        await db.close();
        const v = await runCliCaptured(env, 'audit', 'verify');
        expect(v.code).toBe(0);
        expect(v.out).toContain('_system');
        const again = await runCliCaptured(env, 'restore', '--in', file);
        expect(again.code).toBe(1);
        expect(again.err).toContain('not empty');
        if (target.name === 'postgres') {
          // and the other way round: PostgreSQL → a fresh PGlite, identical placeholders again
          const back = join(dir, 'from-pg.veilbak');
          expect((await runCliCaptured(env, 'backup', '--out', back)).code).toBe(0);
          const pgliteEnv = { VEIL_DATA_DIR: join(dir, 'from-pg'), VEIL_MASTER_KEY: toBase64(master) };
          expect(await runCliCaptured(pgliteEnv, 'restore', '--in', back)).toMatchObject({ code: 0 });
          const db2 = await openDatabase(loadConfig(pgliteEnv));
          const vault2 = createDbVault({ db: db2, provider });
          for (const t of tenantIds) {
            expect(await vault2.tokenize(ctx(t), VALUES)).toEqual(tokens[t]);
            const got = await vault2.resolve(ctx(t), tokens[t]!);
            expect(tokens[t]!.map((tk) => got.get(tk))).toEqual(VALUES.map((v) => v.value));
          }
          await db2.close();
          expect((await runCliCaptured(pgliteEnv, 'audit', 'verify')).code).toBe(0);
        }
      } finally {
        await done();
      }
    }, 120_000);
  });

  it('tampering of every kind is refused and nothing is restored', async () => {
    const srcDb = await openDatabase(loadConfig(srcEnv));
    const file = join(dir, 'small-chunks.veilbak');
    await writeBackup(srcDb, provider, file, undefined, 512);
    await srcDb.close();
    const good = readFileSync(file);
    expect((await verifyBackup(file, provider)).rows.mappings).toBe(162);

    // split into header and chunks
    const hlen = readU32(good, BACKUP_MAGIC.length);
    const head = good.subarray(0, BACKUP_MAGIC.length + 4 + hlen);
    const chunks: Buffer[] = [];
    for (let p = head.length; p < good.length; ) {
      const n = readU32(good, p);
      chunks.push(good.subarray(p, p + 4 + n));
      p += 4 + n;
    }
    expect(chunks.length).toBeGreaterThan(3);
    const headerJson = JSON.parse(good.subarray(BACKUP_MAGIC.length + 4, head.length).toString('utf8'));
    const editedHeader = Buffer.from(JSON.stringify({ ...headerJson, tenants: [tenantIds[0]] }));

    const flipped = Buffer.from(good);
    flipped[Math.floor(good.length / 2)]! ^= 1;
    const cases: [string, Buffer, RegExp][] = [
      ['flipped byte', flipped, /failed authentication|too large|truncated/],
      ['edited header', Buffer.concat([BACKUP_MAGIC, u32(editedHeader.length), editedHeader, ...chunks]), /chunk 0 failed authentication/],
      ['reordered chunks', Buffer.concat([head, chunks[1]!, chunks[0]!, ...chunks.slice(2)]), /chunk 0 failed authentication/],
      ['dropped chunk', Buffer.concat([head, chunks[0]!, ...chunks.slice(2)]), /chunk 1 failed authentication/],
      ['final chunk missing', Buffer.concat([head, ...chunks.slice(0, -1)]), /final chunk is missing/],
      ['appended chunk', Buffer.concat([good, chunks[0]!]), /after the final chunk/],
      ['cut mid-chunk', good.subarray(0, good.length - 7), /truncated/],
      ['cut in the header', good.subarray(0, 20), /truncated/],
      ['not a backup', Buffer.from('hello world, this is not a backup at all'), /bad magic/],
    ];
    for (const [name, bytes, why] of cases) {
      const bad = join(dir, `bad-${name.replace(/ /g, '-')}.veilbak`);
      writeFileSync(bad, bytes);
      await expect(verifyBackup(bad, provider), name).rejects.toThrow(why);
      const { env: base, done } = await cliTargets('veil-bad-')[0]!.env();
      const env = { ...base, VEIL_MASTER_KEY: toBase64(master) };
      try {
        const r = await runCliCaptured(env, 'restore', '--in', bad);
        expect(r.code, name).toBe(1);
        expect(r.err, name).toContain('REJECTED, nothing restored');
        const db = await openDatabase(loadConfig(env));
        expect(await isEmptyStore(db), name).toBe(true);
        await db.close();
      } finally {
        await done();
      }
    }
    // streaming reader on its own: a truncated file fails after yielding the good chunks
    const cut = join(dir, 'cut.veilbak');
    writeFileSync(cut, Buffer.concat([head, ...chunks.slice(0, -1)]));
    const { lines } = await openBackup(cut, provider);
    await expect((async () => {
      for await (const _ of lines) void _;
    })()).rejects.toThrow(/final chunk is missing/);
  }, 300_000);
});
