/**
 * Reads and writes through the gateway while a tenant's DEK is rotated: the official `openai`
 * client over HTTP, the real encrypted vault on PGlite (and PostgreSQL with TEST_DATABASE_URL),
 * the real re-encryption runner. The upstream is the loopback echo fake (test/fakes/upstream.ts),
 * the one stand-in allowed. Every reply restores the exact values of both DEK versions, no
 * request fails, and the upstream never sees a value.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyStore } from '../../src/tenants/api-keys.js';
import { getJob, startDekRotation } from '../../src/jobs/rotate.js';
import { createJobRunner } from '../../src/jobs/runner.js';
import { randomBytes } from '../../src/keys/crypto.js';
import { createLocalProvider } from '../../src/keys/local.js';
import { nodeVaultCrypto } from '../../src/keys/crypto.node.js';
import { createDbVault, type DbVault } from '../../src/vault/db-vault.js';
import { startFakeUpstream, type FakeUpstream } from '../fakes/upstream.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { DRIVERS, type Harness } from '../helpers/db.js';

describe.each(DRIVERS)('gateway during DEK rotation ($name)', (driver) => {
  let h: Harness;
  let up: FakeUpstream;
  let gw: Gateway;
  let vault: DbVault;
  let key: string;
  let tenantId: string;

  beforeAll(async () => {
    h = await driver.open();
    up = await startFakeUpstream();
    const store = createApiKeyStore(h.db, { cacheTtlMs: 50 });
    vault = createDbVault({ db: h.db, provider: createLocalProvider(randomBytes(32)), crypto: nodeVaultCrypto, timeoutMs: 5000 });
    tenantId = (await store.createTenant('Rot')).id;
    key = (await store.issueKey({ tenantId, name: 'rot', role: 'admin' })).key;
    gw = await startGateway(up.url, { vault, auth: store });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await vault?.close();
    await h?.cleanup();
  });

  const ask = async (content: string) => {
    const r = await gw.client({ apiKey: key }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content }] });
    return (r.choices[0]!.message.content ?? '').replace(/^You said: /, '');
  };
  const versions = async () =>
    (await h.db.rows<{ v: number; n: string }>(sql`select dek_version as v, count(*) as n from mappings where tenant_id = ${tenantId} group by dek_version order by 1`)).map(
      (r) => [Number(r.v), Number(r.n)],
    );

  it('restores values of both versions before, during and after the re-encryption; zero failed requests', async () => {
    const old = Array.from({ length: 40 }, (_, i) => `Write to old.person${i}@example.com today.`);
    for (const m of old) expect(await ask(m)).toBe(m);
    expect(await versions()).toEqual([[1, 40]]);

    const job = await startDekRotation({ db: h.db, keyring: vault.keyring, tenantId, settleMs: 0, rowsPerSecond: 40 });
    expect(await ask('Write to new.person@example.com now.')).toBe('Write to new.person@example.com now.');
    expect(await versions()).toEqual([[1, 40], [2, 1]]);

    const running = createJobRunner({ db: h.db, keyring: vault.keyring, batchSize: 10 }).runUntilIdle({ waitSettle: true });
    const seen = new Set<string>();
    let failed = 0;
    let n = 0;
    while ((await getJob(h.db, job.id))!.state === 'running' || n < old.length) {
      const m = old[n % old.length]!;
      try {
        expect(await ask(m)).toBe(m);
      } catch {
        failed++;
      }
      seen.add(JSON.stringify(await versions()));
      n++;
      if (n > 2000) throw new Error('job did not finish');
    }
    await running;
    expect(failed).toBe(0);
    expect(seen.size).toBeGreaterThan(1); // requests were served at several stages of the job
    expect(await versions()).toEqual([[2, 41]]);
    expect(await getJob(h.db, job.id)).toMatchObject({ state: 'done', done: 40 });
    for (const m of [...old, 'Write to new.person@example.com now.']) expect(await ask(m)).toBe(m);
    expect(up.allRaw()).not.toMatch(/person\d*@example\.com/);
  }, 120_000);
});
