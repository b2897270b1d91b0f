/**
 * The gateway with the real encrypted vault and API-key store (PGlite, and PostgreSQL when
 * TEST_DATABASE_URL is set), driven by the official `openai` client over HTTP. The upstream is
 * the loopback OpenAI-compatible fake (test/fakes/upstream.ts), the stand-in the network forces.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyStore } from '../src/tenants/api-keys.js';
import { randomBytes } from '../src/keys/crypto.js';
import { createLocalProvider } from '../src/keys/local.js';
import { nodeVaultCrypto } from '../src/keys/crypto.node.js';
import { createDbVault } from '../src/vault/db-vault.js';
import { defaultHandler, type FakeUpstream, lastUserText, startFakeUpstream } from './fakes/upstream.js';
import { type Gateway, startGateway } from './helpers/gateway.js';
import { DRIVERS, type Harness } from './helpers/db.js';

const CARD = '4111 1111 1111 1111';
const EMAIL = 'jane.roe@example.com';

describe.each(DRIVERS)('gateway on the encrypted vault ($name)', (driver) => {
  let h: Harness;
  let up: FakeUpstream;
  let gw: Gateway;
  let keyA: string;
  let keyA2: string;
  let keyAuser: string;
  let keyB: string;

  beforeAll(async () => {
    h = await driver.open();
    up = await startFakeUpstream();
    const provider = createLocalProvider(randomBytes(32));
    const store = createApiKeyStore(h.db, { cacheTtlMs: 50 });
    const vault = createDbVault({ db: h.db, provider, crypto: nodeVaultCrypto, timeoutMs: 2000 });
    const a = await store.createTenant('Tenant A');
    const b = await store.createTenant('Tenant B');
    keyA = (await store.issueKey({ tenantId: a.id, name: 'a-admin', role: 'admin' })).key;
    keyA2 = (await store.issueKey({ tenantId: a.id, name: 'a-admin-2', role: 'admin' })).key;
    keyAuser = (await store.issueKey({ tenantId: a.id, name: 'a-user', role: 'user' })).key;
    keyB = (await store.issueKey({ tenantId: b.id, name: 'b-admin', role: 'admin' })).key;
    gw = await startGateway(up.url, { vault, auth: store });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await h?.cleanup();
  });

  const ask = (key: string, content: string) => gw.client({ apiKey: key }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content }] });

  it('GET /metrics needs an admin-role key once keys exist (VEIL_METRICS=admin, the default); public and off as configured', async () => {
    await ask(keyA, `mail ${EMAIL}`); // something to count
    const metrics = (g: Gateway, key?: string) => fetch(g.url.replace(/\/v1$/, '/metrics'), { headers: key ? { authorization: `Bearer ${key}` } : {} });
    for (const key of [undefined, 'sk-not-a-veil-key', `vk_${'A'.repeat(43)}`]) {
      const res = await metrics(gw, key);
      expect(res.status).toBe(401);
      expect((await res.json()).error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    }
    const user = await metrics(gw, keyAuser);
    expect(user.status).toBe(403);
    expect((await user.json()).error).toMatchObject({ type: 'permission_error', code: 'veil_admin_required' });
    for (const key of [keyA, keyB]) {
      const ok = await metrics(gw, key);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/^veil_entities_masked_total\{type="EMAIL"\} \d+$/m);
    }

    const pub = await startGateway(up.url, { auth: gw.services.auth, metricsAccess: 'public' });
    const off = await startGateway(up.url, { auth: gw.services.auth, metricsAccess: 'off' });
    try {
      expect((await metrics(pub)).status).toBe(200);
      const gone = await metrics(off, keyA);
      expect(gone.status).toBe(404);
      expect((await gone.json()).error.code).toBe('unknown_url');
    } finally {
      await pub.close();
      await off.close();
    }
  });

  it('once keys exist, a request without a valid Veil key gets 401 in the OpenAI shape and nothing goes upstream', async () => {
    up.received.length = 0;
    for (const key of ['sk-not-a-veil-key', `vk_${'A'.repeat(43)}`]) {
      const err = await ask(key, `hi ${EMAIL}`).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(err.error.type).toBe('authentication_error');
    }
    const res = await fetch(`${gw.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(up.received).toHaveLength(0);
  });

  it('a valid key works; the Veil key is never forwarded; the upstream sees no PII', async () => {
    up.received.length = 0;
    const r = await ask(keyA, `Card ${CARD}, mail ${EMAIL}`);
    expect(r.choices[0]!.message.content).toBe(`You said: Card ${CARD}, mail ${EMAIL}`);
    expect(up.received[0]!.headers.authorization).toBe('Bearer sk-upstream-test');
    expect(up.allRaw()).not.toContain(EMAIL);
    expect(up.allRaw()).not.toContain(CARD);
    expect(up.allRaw()).not.toContain(keyA);
  });

  it('tokens are stable per tenant and tenant B cannot resolve tenant A’s placeholders, even pasted verbatim', async () => {
    up.received.length = 0;
    await ask(keyA, `mail ${EMAIL}`);
    await ask(keyA2, `again ${EMAIL}`);
    const tokenA = /\[EMAIL_[0-9A-Z]{8}\]/.exec(lastUserText(up.received[0]!.body))![0];
    expect(lastUserText(up.received[1]!.body)).toContain(tokenA);
    // B pastes A's placeholder: it comes back as the placeholder, never as A's value
    const rb = await ask(keyB, `what is ${tokenA}?`);
    expect(rb.choices[0]!.message.content).toBe(`You said: what is ${tokenA}?`);
    // B's own copy of the same value gets a different token
    await ask(keyB, `mail ${EMAIL}`);
    const tokenB = /\[EMAIL_[0-9A-Z]{8}\]/.exec(lastUserText(up.received[3]!.body))![0];
    expect(tokenB).not.toBe(tokenA);
    // A pasting its own token gets the value back (RAG: retrieved chunks carry placeholders)
    const ra = await ask(keyA, `what is ${tokenA}?`);
    expect(ra.choices[0]!.message.content).toBe(`You said: what is ${EMAIL}?`);
  });

  it('a disabled tenant is refused (403 veil_tenant_disabled) at once, nothing goes upstream; enabling it again lets it back in (issue 8)', async () => {
    const store = gw.services.auth as ReturnType<typeof createApiKeyStore>;
    const t = await store.createTenant('Tenant C');
    const keyC = (await store.issueKey({ tenantId: t.id, name: 'c-app', role: 'user' })).key;
    await ask(keyC, 'warm the cache');
    up.received.length = 0;
    expect(await store.setTenantStatus(t.id, 'disabled')).toBe(true);
    const err = await ask(keyC, `hi ${EMAIL}`).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(err.error).toMatchObject({ type: 'permission_error', code: 'veil_tenant_disabled' });
    expect(up.received).toHaveLength(0);
    // another tenant is not affected
    await ask(keyB, 'still fine');
    expect(up.received).toHaveLength(1);
    expect(await store.setTenantStatus(t.id, 'active')).toBe(true);
    expect((await ask(keyC, 'back')).choices[0]!.message.content).toBe('You said: back');
    expect(await store.setTenantStatus('ten_missing', 'disabled')).toBe(false);
  });

  it('the role decides what comes back: "user" sees highly sensitive values masked', async () => {
    const r = await ask(keyAuser, `Card ${CARD}, mail ${EMAIL}`);
    expect(r.choices[0]!.message.content).toBe(`You said: Card •••• 1111, mail ${EMAIL}`);
  });

  it('vault failure (database gone) → 503, nothing sent upstream', async () => {
    // A separate gateway whose vault has a database that was closed under it.
    const h2 = await driver.open();
    const up2 = await startFakeUpstream(defaultHandler);
    const vault = createDbVault({ db: h2.db, provider: createLocalProvider(randomBytes(32)), crypto: nodeVaultCrypto, timeoutMs: 1000 });
    const gw2 = await startGateway(up2.url, { vault });
    try {
      await h2.cleanup();
      const err = await gw2.client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `hi ${EMAIL}` }] }).catch((e) => e);
      expect(err.status).toBe(503);
      expect(err.error.code).toBe('veil_vault_unavailable');
      expect(JSON.stringify(err.error)).not.toContain(EMAIL);
      expect(up2.received).toHaveLength(0);
    } finally {
      await gw2.close();
      await up2.close();
    }
  });
});
