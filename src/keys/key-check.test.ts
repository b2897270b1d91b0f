/**
 * The master-key check value (issue 7) on real PGlite and (with TEST_DATABASE_URL) real
 * PostgreSQL, with the real local provider: the first start records it, the same key verifies,
 * a different key is refused with a message that says so — including on a database created
 * before the check existed (verified against an existing tenant KEK, nothing written).
 */
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalProvider } from './local.js';
import { randomBytes } from './crypto.js';
import { createDbVault } from '../vault/db-vault.js';
import { MasterKeyMismatchError, verifyMasterKey } from './key-check.js';
import { ctx, DRIVERS, type Harness } from '../../test/helpers/db.js';

describe.each(DRIVERS)('master key check on $name', (driver) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.cleanup();
    h = undefined;
  }, 120_000);

  it('records on first start, verifies the same key, refuses another key by name', async () => {
    h = await driver.open();
    const right = createLocalProvider(randomBytes(32));
    const wrong = createLocalProvider(randomBytes(32));
    expect(await verifyMasterKey(h.db, right)).toBe('recorded');
    expect(await verifyMasterKey(h.db, right)).toBe('verified');
    const e = await verifyMasterKey(h.db, wrong).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MasterKeyMismatchError);
    expect((e as Error).message).toContain(`wrong master key: the configured master key (${wrong.keyId})`);
    expect((e as Error).message).toContain(`(written under ${right.keyId})`);
    expect(await verifyMasterKey(h.db, right)).toBe('verified');
  }, 120_000);

  it('concurrent first starts with the same key agree on one check value', async () => {
    h = await driver.open();
    const key = randomBytes(32);
    const results = await Promise.all(Array.from({ length: 4 }, () => verifyMasterKey(h!.db, createLocalProvider(key))));
    expect(results.filter((r) => r === 'recorded')).toHaveLength(1);
    expect((await h.db.rows(sql`select id from veil_key_check`)).length).toBe(1);
  }, 120_000);

  it('a database from before the check: a wrong key is refused before anything is written', async () => {
    h = await driver.open();
    const right = createLocalProvider(randomBytes(32));
    const v = createDbVault({ db: h.db, provider: right });
    await v.tokenize(ctx('t-old'), [{ type: 'EMAIL', value: 'old@example.org' }]);
    await v.close();
    const e = await verifyMasterKey(h.db, createLocalProvider(randomBytes(32))).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MasterKeyMismatchError);
    expect((await h.db.rows(sql`select id from veil_key_check`)).length).toBe(0);
    expect(await verifyMasterKey(h.db, right)).toBe('recorded');
  }, 120_000);
});
