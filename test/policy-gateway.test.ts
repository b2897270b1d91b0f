/**
 * Per-tenant policy end to end: the gateway over HTTP (official `openai` client) with the real
 * encrypted vault, API-key store and policy store (PGlite, and PostgreSQL when
 * TEST_DATABASE_URL is set). The upstream is the loopback OpenAI-compatible fake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyStore } from '../src/tenants/api-keys.js';
import { randomBytes } from '../src/keys/crypto.js';
import { createLocalProvider } from '../src/keys/local.js';
import { createPolicyStore, type PolicyStore } from '../src/policy/store.js';
import { createMemoryVault } from '../src/vault/memory.js';
import { nodeVaultCrypto } from '../src/keys/crypto.node.js';
import { createDbVault } from '../src/vault/db-vault.js';
import { type FakeUpstream, lastUserText, startFakeUpstream } from './fakes/upstream.js';
import { type Gateway, startGateway } from './helpers/gateway.js';
import { DRIVERS, type Harness } from './helpers/db.js';

const EMAIL = 'jane.roe@example.com';
const CARD = '4111 1111 1111 1111';
const TTL_MS = 100;

describe.each(DRIVERS)('gateway with per-tenant policy ($name)', (driver) => {
  let h: Harness;
  let up: FakeUpstream;
  let gw: Gateway;
  /** A second store on the same database: the operator (CLI) in another process. */
  let operator: PolicyStore;
  let tenantA: string;
  let tenantB: string;
  let keyA: string;
  let keyB: string;
  let keyBuser: string;
  let keys: ReturnType<typeof createApiKeyStore>;

  beforeAll(async () => {
    h = await driver.open();
    up = await startFakeUpstream();
    keys = createApiKeyStore(h.db, { cacheTtlMs: 50 });
    const vault = createDbVault({ db: h.db, provider: createLocalProvider(randomBytes(32)), crypto: nodeVaultCrypto, timeoutMs: 2000 });
    tenantA = (await keys.createTenant('Tenant A')).id;
    tenantB = (await keys.createTenant('Tenant B')).id;
    keyA = (await keys.issueKey({ tenantId: tenantA, name: 'a-admin', role: 'admin' })).key;
    keyB = (await keys.issueKey({ tenantId: tenantB, name: 'b-admin', role: 'admin' })).key;
    keyBuser = (await keys.issueKey({ tenantId: tenantB, name: 'b-user', role: 'user' })).key;
    operator = createPolicyStore(h.db);
    await operator.setOverride(tenantA, JSON.parse('{"detectType":{"EMAIL":"pass"}}'));
    const policies = createPolicyStore(h.db, { cacheTtlMs: TTL_MS });
    gw = await startGateway(up.url, { vault, auth: keys, policyFor: policies.policyFor });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await h?.cleanup();
  });

  const ask = (key: string, content: string) => gw.client({ apiKey: key }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content }] });

  it('{"detectType":{"EMAIL":"pass"}} for tenant A: A’s emails reach the upstream unmasked, B’s are masked', async () => {
    up.received.length = 0;
    const ra = await ask(keyA, `mail ${EMAIL}, card ${CARD}`);
    expect(ra.choices[0]!.message.content).toBe(`You said: mail ${EMAIL}, card ${CARD}`);
    const sentA = lastUserText(up.received[0]!.body);
    expect(sentA).toContain(EMAIL); // passed through by A's policy
    expect(sentA).not.toContain(CARD); // everything else is still masked
    expect(sentA).toMatch(/\[CARD_[0-9A-Z]{8}\]/);

    const rb = await ask(keyB, `mail ${EMAIL}`);
    expect(rb.choices[0]!.message.content).toBe(`You said: mail ${EMAIL}`);
    const sentB = lastUserText(up.received[1]!.body);
    expect(sentB).not.toContain(EMAIL);
    expect(sentB).toMatch(/\[EMAIL_[0-9A-Z]{8}\]/);
  });

  it('{"restore":{"user":{"sensitive":"masked"}}}: a "user" key sees j•••@example.com; admin still sees the value', async () => {
    // Before the change "user" sees emails in full (the default policy).
    expect((await ask(keyBuser, `mail ${EMAIL}`)).choices[0]!.message.content).toBe(`You said: mail ${EMAIL}`);

    await operator.setOverride(tenantB, JSON.parse('{"restore":{"user":{"sensitive":"masked"}}}'));
    await new Promise((r) => setTimeout(r, TTL_MS + 20)); // the gateway's cache expires

    up.received.length = 0;
    const ru = await ask(keyBuser, `mail ${EMAIL}, card ${CARD}`);
    expect(ru.choices[0]!.message.content).toBe('You said: mail j•••@example.com, card •••• 1111');
    expect(up.allRaw()).not.toContain(EMAIL);
    const radmin = await ask(keyB, `mail ${EMAIL}`);
    expect(radmin.choices[0]!.message.content).toBe(`You said: mail ${EMAIL}`);
    // tenant A is unaffected by B's policy
    expect((await ask(keyA, `mail ${EMAIL}`)).choices[0]!.message.content).toBe(`You said: mail ${EMAIL}`);
  });

  it('a reset brings the default back: A’s emails are masked again', async () => {
    await operator.setOverride(tenantA, null);
    await new Promise((r) => setTimeout(r, TTL_MS + 20));
    up.received.length = 0;
    const ra = await ask(keyA, `mail ${EMAIL}`);
    expect(ra.choices[0]!.message.content).toBe(`You said: mail ${EMAIL}`);
    expect(up.allRaw()).not.toContain(EMAIL);
  });

  it('pasted placeholders of the same tenant come back as the caller’s role allows; another tenant’s stay placeholders', async () => {
    const SSN = '219-09-9999';
    const keyAuser = (await keys.issueKey({ tenantId: tenantA, name: 'a-user', role: 'user' })).key;
    const keyArestricted = (await keys.issueKey({ tenantId: tenantA, name: 'a-restricted', role: 'restricted' })).key;
    up.received.length = 0;
    await ask(keyA, `mail ${EMAIL}, ssn ${SSN}`); // an admin's request: its placeholders end up in, say, a shared RAG index
    const [email, ssn] = [/\[EMAIL_[0-9A-Z]{8}\]/, /\[SSN_[0-9A-Z]{8}\]/].map((re) => re.exec(lastUserText(up.received[0]!.body))![0]);
    const pasted = `mail ${email}, ssn ${ssn}`;
    expect((await ask(keyA, pasted)).choices[0]!.message.content).toBe(`You said: mail ${EMAIL}, ssn ${SSN}`);
    expect((await ask(keyAuser, pasted)).choices[0]!.message.content).toBe(`You said: mail ${EMAIL}, ssn •••• 9999`);
    expect((await ask(keyArestricted, pasted)).choices[0]!.message.content).toBe('You said: mail j•••@example.com, ssn •••• 9999');
    expect((await ask(keyB, pasted)).choices[0]!.message.content).toBe(`You said: ${pasted}`);
    expect(up.allRaw()).not.toContain(EMAIL);
    expect(up.allRaw()).not.toContain(SSN);
  });

  it('policy store failure (database gone) → 503 veil_policy_unavailable, nothing sent upstream', async () => {
    const h2 = await driver.open();
    const up2 = await startFakeUpstream();
    const policies = createPolicyStore(h2.db);
    const gw2 = await startGateway(up2.url, { vault: createMemoryVault(), policyFor: policies.policyFor });
    try {
      await h2.cleanup();
      const err = await gw2.client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `hi ${EMAIL}` }] }).catch((e) => e);
      expect(err.status).toBe(503);
      expect(err.error.code).toBe('veil_policy_unavailable');
      expect(JSON.stringify(err.error)).not.toContain(EMAIL);
      expect(up2.received).toHaveLength(0);
    } finally {
      await gw2.close();
      await up2.close();
    }
  });
});
