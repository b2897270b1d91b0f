/**
 * Erasure and crypto-shredding on the real vault, API-key store and audit store (PGlite, and
 * PostgreSQL with TEST_DATABASE_URL), through the gateway over HTTP and through the CLI. The
 * upstream is the loopback fake (test/fakes/upstream.ts), the only stand-in.
 * The cross-process case runs two gateways with their own connection pools, vaults and
 * erasure listeners on one PostgreSQL database: they share nothing but the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditStore, SYSTEM_CHAIN, type AuditStore } from '../src/audit/store.js';
import { createApiKeyStore } from '../src/tenants/api-keys.js';
import { notifyingInvalidate } from '../src/compliance/erase.js';
import { knownTokens, type Compliance } from '../src/compliance/index.js';
import { createRateLimiter } from '../src/compliance/rate-limit.js';
import { loadConfig } from '../src/core/config.js';
import { silentLogger } from '../src/core/types.js';
import type { Db } from '../src/db/client.js';
import { openDatabase } from '../src/db/open.node.js';
import { randomBytes, toBase64 } from '../src/keys/crypto.js';
import { createLocalProvider } from '../src/keys/local.js';
import type { MasterKeyProvider } from '../src/keys/provider.js';
import { listenForErasures } from '../src/runtime/node/erase-listener.js';
import { nodeVaultCrypto } from '../src/keys/crypto.node.js';
import { createDbVault, type DbVault } from '../src/vault/db-vault.js';
import { type FakeUpstream, lastUserText, startFakeUpstream } from './fakes/upstream.js';
import { type Gateway, startGateway } from './helpers/gateway.js';
import { cliTargets, DRIVERS, postgresDriver, runCliCaptured, TEST_DATABASE_URL, type Harness } from './helpers/db.js';

const EMAIL = 'jane.roe@example.com';

function complianceFor(db: Db, provider: MasterKeyProvider, vault: DbVault): { compliance: Compliance; audit: AuditStore } {
  const audit = createAuditStore({ db, provider, hmac: nodeVaultCrypto.hmac });
  return {
    audit,
    compliance: {
      audit,
      known: knownTokens(db),
      revealLimiter: createRateLimiter(0),
      erase: { db, keyring: vault.keyring, audit, invalidate: notifyingInvalidate(db, vault.forgetTenant) },
    },
  };
}

const tokenIn = (text: string) => /\[EMAIL_[0-9A-Z]{8}\]/.exec(text)?.[0];

describe.each(DRIVERS)('erasure through the gateway ($name)', (driver) => {
  let h: Harness;
  let up: FakeUpstream;
  let gw: Gateway;
  let audit: AuditStore;
  let admin = '';
  let user = '';
  let tenant = '';

  beforeAll(async () => {
    h = await driver.open();
    up = await startFakeUpstream();
    const provider = createLocalProvider(randomBytes(32));
    const store = createApiKeyStore(h.db, { cacheTtlMs: 50 });
    const vault = createDbVault({ db: h.db, provider, crypto: nodeVaultCrypto });
    const c = complianceFor(h.db, provider, vault);
    audit = c.audit;
    tenant = (await store.createTenant('A')).id;
    admin = (await store.issueKey({ tenantId: tenant, name: 'admin', role: 'admin' })).key;
    user = (await store.issueKey({ tenantId: tenant, name: 'user', role: 'user' })).key;
    gw = await startGateway(up.url, { vault, auth: store, compliance: c.compliance });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await h?.cleanup();
  });

  const ask = async (content: string) => {
    const r = await gw.client({ apiKey: admin }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content }] });
    return { answer: r.choices[0]!.message.content, sent: lastUserText(up.received.at(-1)!.body) };
  };
  const erase = (key: string, body: unknown) =>
    fetch(`${gw.url}/veil/erase`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('by value: the old placeholder restores to nothing, the same value gets a new one; audited with counts', async () => {
    const first = tokenIn((await ask(`mail ${EMAIL}`)).sent)!;
    expect(tokenIn((await ask(`again ${EMAIL}`)).sent)).toBe(first); // cached and stable
    const res = await erase(admin, { type: 'EMAIL', value: ' Jane.Roe@Example.com ' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ object: 'veil.erasure', erased: 1 });
    expect((await ask(`who is ${first}?`)).answer).toBe(`You said: who is ${first}?`);
    const second = tokenIn((await ask(`mail ${EMAIL}`)).sent)!;
    expect(second).not.toBe(first);
    const rows = await h.db.query<{ token: string }>('select token from mappings where tenant_id = $1', [tenant]);
    expect(rows.map((r) => r.token)).toEqual([second.slice(1, -1)]);
    const evs: any[] = [];
    for await (const e of audit.events(tenant)) evs.push(JSON.parse(e.body));
    expect(evs.find((e) => e.kind === 'erase')).toMatchObject({ endpoint: '/v1/veil/erase', role: 'admin', detail: { by: 'value', type: 'EMAIL', erased: 1 } });
    expect(JSON.stringify(evs).toLowerCase()).not.toContain('jane');
    expect((await audit.verify(tenant)).ok).toBe(true);
  });

  it('by token; erasing again is erased: 0; non-admins get 403; bad bodies 400', async () => {
    const t = tokenIn((await ask(`mail other.person@example.net`)).sent)!;
    expect(await (await erase(user, { token: t })).json()).toMatchObject({ error: { code: 'veil_admin_required' } });
    expect(await (await erase(admin, { token: t })).json()).toEqual({ object: 'veil.erasure', erased: 1 });
    expect(await (await erase(admin, { token: t })).json()).toEqual({ object: 'veil.erasure', erased: 0 });
    for (const body of [{}, { type: 'NOPE', value: 'x' }, { token: 'garbage' }, { type: 'EMAIL' }, { token: t, type: 'EMAIL', value: 'x' }]) {
      const r = await erase(admin, body);
      expect(r.status).toBe(400);
      expect(((await r.json()) as any).error.type).toBe('invalid_request_error');
    }
  });
});

describe.skipIf(!TEST_DATABASE_URL)('erasure across processes (postgres)', () => {
  it('an erasure in one gateway reaches the token cache of another at once (LISTEN/NOTIFY)', async () => {
    const h = await postgresDriver.open();
    const up = await startFakeUpstream();
    const provider = createLocalProvider(randomBytes(32));
    const closers: (() => Promise<void>)[] = [];
    try {
      const gws: Gateway[] = [];
      let tenant = '';
      let key = '';
      for (let i = 0; i < 2; i++) {
        const db = i === 0 ? h.db : await h.reopen();
        const store = createApiKeyStore(db, { cacheTtlMs: 50 });
        if (i === 0) {
          tenant = (await store.createTenant('A')).id;
          key = (await store.issueKey({ tenantId: tenant, name: 'admin', role: 'admin' })).key;
        }
        const vault = createDbVault({ db, provider, crypto: nodeVaultCrypto, tokenCacheTtlMs: 600_000 });
        const listener = listenForErasures(h.url!, (t, k) => vault.forgetTenant(t, k), silentLogger);
        await listener.ready;
        closers.push(() => listener.close());
        const gw = await startGateway(up.url, { vault, auth: store, compliance: complianceFor(db, provider, vault).compliance });
        closers.push(() => gw.close());
        gws.push(gw);
      }
      const ask = async (g: Gateway, content: string) => {
        await g.client({ apiKey: key }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content }] });
        return tokenIn(lastUserText(up.received.at(-1)!.body))!;
      };
      const old = await ask(gws[0]!, `mail ${EMAIL}`);
      expect(await ask(gws[1]!, `mail ${EMAIL}`)).toBe(old); // gateway 2 has it cached now
      const res = await fetch(`${gws[0]!.url}/veil/erase`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ token: old }) });
      expect(await res.json()).toEqual({ object: 'veil.erasure', erased: 1 });
      // the notification is asynchronous; allow it a generous moment on a busy machine
      let fresh = old;
      for (let i = 0; i < 40 && fresh === old; i++) {
        await new Promise((r) => setTimeout(r, 50));
        fresh = await ask(gws[1]!, `mail ${EMAIL}`);
      }
      expect(fresh).not.toBe(old);
      expect(await ask(gws[0]!, `mail ${EMAIL}`)).toBe(fresh);
    } finally {
      for (const c of closers.reverse()) await c().catch(() => {});
      await up.close();
      await h.cleanup();
    }
  }, 60_000);
});

describe.each(cliTargets('veil-erase-cli-'))('veil erase / tenants shred ($name)', (target) => {
  it('erase by value and by token, then shred: key destroyed first, rows gone, recorded in _system', async () => {
    const { env: base, done } = await target.env();
    const master = randomBytes(32);
    const env = { ...base, VEIL_MASTER_KEY: toBase64(master) };
    try {
      const db = await openDatabase(loadConfig(env));
      const provider = createLocalProvider(master);
      const store = createApiKeyStore(db);
      const tenant = (await store.createTenant('Shred me')).id;
      await store.issueKey({ tenantId: tenant, name: 'k', role: 'user' });
      const vault = createDbVault({ db, provider });
      const ctx = { principal: { tenantId: tenant, principalId: 'p', role: 'admin' }, requestId: 'r' };
      const [a, b] = await vault.tokenize(ctx, [
        { type: 'EMAIL', value: EMAIL },
        { type: 'PERSON', value: 'Jane Roe' },
        { type: 'PHONE', value: '+1 415 555 0100' },
      ]);
      await db.close();

      expect((await runCliCaptured(env, 'erase', '--tenant', tenant, '--type', 'EMAIL', '--value', EMAIL)).out).toBe(`erased 1 mapping of tenant ${tenant}`);
      expect((await runCliCaptured(env, 'erase', '--tenant', tenant, '--type', 'EMAIL', '--value', EMAIL)).out).toContain('nothing to erase');
      expect((await runCliCaptured(env, 'erase', '--tenant', tenant, '--token', `[${b}]`)).code).toBe(0);
      expect((await runCliCaptured(env, 'erase', '--tenant', tenant, '--value', EMAIL)).code).toBe(2);
      expect((await runCliCaptured(env, 'erase', '--tenant', tenant, '--token', 'nope')).code).toBe(2);
      expect((await runCliCaptured(env, 'tenants', 'shred', tenant)).code).toBe(2); // needs --yes
      const shred = await runCliCaptured(env, 'tenants', 'shred', tenant, '--yes');
      expect(shred.code).toBe(0);
      expect(shred.out).toContain(`shredded tenant ${tenant}: 2 keys destroyed, 1 mappings and 1 API keys deleted`);
      expect((await runCliCaptured(env, 'tenants', 'shred', 'ten_nope', '--yes')).code).toBe(1);

      const db2 = await openDatabase(loadConfig(env));
      for (const table of ['tenant_keys', 'mappings', 'api_keys', 'principals']) {
        expect(await db2.query(`select 1 from ${table} where tenant_id = $1`, [tenant])).toEqual([]);
      }
      const audit = createAuditStore({ db: db2, provider });
      const sys: any[] = [];
      for await (const e of audit.events(SYSTEM_CHAIN)) sys.push(JSON.parse(e.body));
      expect(sys.at(-1)).toMatchObject({ kind: 'shred', endpoint: 'cli', detail: { tenant, keys: 2, mappings: 1, api_keys: 1 } });
      const erasures: any[] = [];
      for await (const e of audit.events(tenant)) erasures.push(JSON.parse(e.body).detail);
      expect(erasures).toEqual([
        { by: 'value', type: 'EMAIL', erased: 1 },
        { by: 'value', type: 'EMAIL', erased: 0 },
        { by: 'token', type: 'PERSON', erased: 1 },
      ]);
      await db2.close();
      expect((await runCliCaptured(env, 'audit', 'verify')).code).toBe(0);
      expect(a).toBeTruthy();
    } finally {
      await done();
    }
  }, 120_000);
});
