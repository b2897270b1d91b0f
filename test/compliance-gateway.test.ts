/**
 * The audit trail and the reveal API through the gateway, over HTTP with the official `openai`
 * client and plain fetch, on the real encrypted vault, API-key store and audit store (PGlite,
 * and PostgreSQL when TEST_DATABASE_URL is set). The upstream is the loopback fake
 * (test/fakes/upstream.ts), the only stand-in. The vault is wrapped only to count decryptions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditStore, type AuditStore } from '../src/audit/store.js';
import { createApiKeyStore } from '../src/tenants/api-keys.js';
import { knownTokens } from '../src/compliance/index.js';
import { createRateLimiter } from '../src/compliance/rate-limit.js';
import type { RequestContext } from '../src/core/types.js';
import { randomBytes } from '../src/keys/crypto.js';
import { createLocalProvider } from '../src/keys/local.js';
import type { Keyring } from '../src/keys/keyring.js';
import { DEFAULT_POLICY } from '../src/policy/index.js';
import { nodeVaultCrypto } from '../src/keys/crypto.node.js';
import { createDbVault } from '../src/vault/db-vault.js';
import type { Token, Vault } from '../src/vault/types.js';
import { type FakeUpstream, lastUserText, startFakeUpstream } from './fakes/upstream.js';
import { type Gateway, startGateway } from './helpers/gateway.js';
import { DRIVERS, type Harness } from './helpers/db.js';

const CARD = '4111 1111 1111 1111';
const EMAIL = 'jane.roe@example.com';
const OTHER_EMAIL = 'user.seven@example.org';

async function eventsOf(audit: AuditStore, tenantId: string): Promise<any[]> {
  const out: any[] = [];
  for await (const e of audit.events(tenantId)) out.push(JSON.parse(e.body));
  return out;
}

describe.each(DRIVERS)('audit and reveal through the gateway ($name)', (driver) => {
  let h: Harness;
  let up: FakeUpstream;
  let gw: Gateway;
  let audit: AuditStore;
  let vault: Vault;
  let keyring: Keyring;
  let resolves = 0;
  const keys: Record<string, string> = {};
  const keyIds: Record<string, string> = {};
  let tenantA = '';
  let tenantB = '';
  const tok: Record<string, Token> = {};

  beforeAll(async () => {
    h = await driver.open();
    up = await startFakeUpstream();
    const provider = createLocalProvider(randomBytes(32));
    const store = createApiKeyStore(h.db, { cacheTtlMs: 50 });
    const inner = createDbVault({ db: h.db, provider, crypto: nodeVaultCrypto, timeoutMs: 3000 });
    keyring = inner.keyring;
    vault = {
      tokenize: (c, i, v) => inner.tokenize(c, i, v),
      resolve: (c, t) => {
        resolves++;
        return inner.resolve(c, t);
      },
      close: () => inner.close(),
    };
    audit = createAuditStore({ db: h.db, provider, hmac: nodeVaultCrypto.hmac, timeoutMs: 3000 });
    tenantA = (await store.createTenant('Tenant A')).id;
    tenantB = (await store.createTenant('Tenant B')).id;
    for (const role of ['admin', 'user', 'restricted'] as const) {
      const k = await store.issueKey({ tenantId: tenantA, name: `a-${role}`, role });
      keys[role] = k.key;
      keyIds[role] = k.id;
    }
    keys.b = (await store.issueKey({ tenantId: tenantB, name: 'b-admin', role: 'admin' })).key;
    const ctxA: RequestContext = { principal: { tenantId: tenantA, principalId: 'seed', role: 'admin' }, requestId: 'seed' };
    const [card, email, loc] = await inner.tokenize(ctxA, [
      { type: 'CARD', value: CARD },
      { type: 'EMAIL', value: EMAIL },
      { type: 'LOCATION', value: 'Lisbon' },
    ]);
    Object.assign(tok, { card, email, loc });
    gw = await startGateway(up.url, {
      vault,
      auth: store,
      policyFor: () => DEFAULT_POLICY,
      compliance: { audit, known: knownTokens(h.db), revealLimiter: createRateLimiter(0) },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await h?.cleanup();
  });

  const reveal = (key: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/veil/reveal`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('a restored chat request (plain and streamed) is one audit event: ids, role, purpose, tokens and outcomes, never values', async () => {
    const client = gw.client({ apiKey: keys.user! });
    const before = (await eventsOf(audit, tenantA)).length;
    const { data, response } = await client.chat.completions
      .create({ model: 'm', user: OTHER_EMAIL, messages: [{ role: 'user', content: `Card ${CARD}, mail ${EMAIL}` }] }, { headers: { 'x-veil-purpose': 'support ticket 42' } })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe(`You said: Card •••• 1111, mail ${EMAIL}`);
    const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: `mail ${EMAIL}` }] });
    let text = '';
    for await (const ch of stream) text += ch.choices[0]?.delta?.content ?? '';
    expect(text).toBe(`You said: mail ${EMAIL}`);

    const evs = (await eventsOf(audit, tenantA)).slice(before);
    expect(evs).toHaveLength(2);
    const [plain, streamed] = evs;
    expect(plain).toMatchObject({
      kind: 'restore',
      tenant: tenantA,
      key: keyIds.user,
      role: 'user',
      purpose: 'support ticket 42',
      request: response.headers.get('x-request-id'),
      endpoint: 'chat',
      tokens: [
        // the `user` field first (it is sanitized too), then the message
        // with the DEK version of each stored value, minted in this request or found
        { t: plain.user.slice(1, -1), type: 'EMAIL', o: 'revealed', kv: 1 },
        { t: tok.card, type: 'CARD', o: 'masked', kv: 1 },
        { t: tok.email, type: 'EMAIL', o: 'revealed', kv: 1 },
      ],
    });
    // the end user is named by its placeholder, exactly as the upstream saw it
    expect(plain.user).toBe(up.received.at(-2)!.body.user);
    expect(plain.user).toMatch(/^\[EMAIL_[0-9A-Z]{8}\]$/);
    expect(streamed).toMatchObject({ kind: 'restore', tokens: [{ t: tok.email, o: 'revealed', kv: 1 }] });
    const raw = JSON.stringify(await h.db.query('select * from audit_events', []));
    for (const v of [CARD, EMAIL, OTHER_EMAIL, '4111111111111111']) expect(raw).not.toContain(v);
    expect((await audit.verify(tenantA)).ok).toBe(true);
  });

  it('embeddings restore nothing: no decryption, no audit event', async () => {
    const before = (await eventsOf(audit, tenantA)).length;
    const n = resolves;
    const r = await gw.client({ apiKey: keys.admin! }).embeddings.create({ model: 'e', input: [`mail ${EMAIL}`, `who is [${tok.email}]?`] });
    expect(r.data).toHaveLength(2);
    expect(up.allRaw()).not.toContain(EMAIL);
    expect(resolves).toBe(n);
    expect((await eventsOf(audit, tenantA)).length).toBe(before);
  });

  it('a pasted placeholder of another tenant is audited as denied (unknown) and restores nothing', async () => {
    const r = await gw.client({ apiKey: keys.b! }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `who is [${tok.email}]?` }] });
    expect(r.choices[0]!.message.content).toBe(`You said: who is [${tok.email}]?`);
    const evB = (await eventsOf(audit, tenantB)).at(-1);
    expect(evB).toMatchObject({ kind: 'restore', tenant: tenantB, tokens: [{ t: tok.email, o: 'denied', why: 'unknown' }] });
    // A pasting its own token: known, revealed, with the DEK version
    const ra = await gw.client({ apiKey: keys.admin! }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `who is [${tok.email}]?` }] });
    expect(ra.choices[0]!.message.content).toBe(`You said: who is ${EMAIL}?`);
    expect((await eventsOf(audit, tenantA)).at(-1)).toMatchObject({ tokens: [{ t: tok.email, o: 'revealed', kv: 1, why: 'presented' }] });
  });

  it('a pasted placeholder the role may not see is never decrypted and is audited as denied', async () => {
    const policy = { ...DEFAULT_POLICY, restore: { ...DEFAULT_POLICY.restore, restricted: { highly_sensitive: 'placeholder', sensitive: 'placeholder', contextual: 'value', public: 'value' } } } as const;
    const gw2 = await startGateway(up.url, { vault, auth: gw.services.auth, policyFor: () => policy, compliance: gw.services.compliance! });
    try {
      const n = resolves;
      const r = await gw2.client({ apiKey: keys.restricted! }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `who is [${tok.email}]?` }] });
      expect(r.choices[0]!.message.content).toBe(`You said: who is [${tok.email}]?`);
      expect(resolves).toBe(n);
      expect((await eventsOf(audit, tenantA)).at(-1)).toMatchObject({ role: 'restricted', tokens: [{ t: tok.email, o: 'denied', why: 'role' }] });
    } finally {
      await gw2.close();
    }
  });

  it('audit unavailable → 503 veil_audit_unavailable, nothing decrypted, nothing sent upstream', async () => {
    up.received.length = 0;
    const n = resolves;
    await h.db.query('alter table audit_events rename to audit_events_away', []);
    try {
      const err = await gw
        .client({ apiKey: keys.admin! })
        .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `what is [${tok.email}] of ${OTHER_EMAIL}?` }] })
        .catch((e) => e);
      expect(err.status).toBe(503);
      expect(err.error.code).toBe('veil_audit_unavailable');
      expect(JSON.stringify(err.error)).not.toContain(EMAIL);
      const res = await reveal(keys.admin!, { tokens: [`[${tok.email}]`], purpose: 'x' });
      expect(res.status).toBe(503);
      expect(((await res.json()) as any).error.code).toBe('veil_audit_unavailable');
      expect(resolves).toBe(n);
      expect(up.received).toHaveLength(0);
    } finally {
      await h.db.query('alter table audit_events_away rename to audit_events', []);
    }
    // Without pasted placeholders the event is written while the upstream works; if it fails,
    // nothing is restored into the response (plain or streamed), and the upstream saw no PII.
    await h.db.query('alter table audit_events rename to audit_events_away', []);
    try {
      up.received.length = 0;
      const client = gw.client({ apiKey: keys.admin! });
      const err = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `mail ${OTHER_EMAIL}` }] }).catch((e) => e);
      expect(err.status).toBe(503);
      expect(err.error.code).toBe('veil_audit_unavailable');
      const err2 = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: `mail ${OTHER_EMAIL}` }] }).catch((e) => e);
      expect(err2.status).toBe(503);
      expect(up.allRaw()).not.toContain(OTHER_EMAIL);
    } finally {
      await h.db.query('alter table audit_events_away rename to audit_events', []);
    }
    const ok = await reveal(keys.admin!, { tokens: [`[${tok.email}]`] });
    expect(ok.status).toBe(200);
    expect(resolves).toBe(n + 1);
  });

  // role × class (DEFAULT_POLICY): CARD highly sensitive, EMAIL sensitive, LOCATION contextual
  const matrix: [string, boolean, [string | null, string][]][] = [
    ['admin', true, [[CARD, 'revealed'], [EMAIL, 'revealed'], ['Lisbon', 'revealed']]],
    ['user', true, [['•••• 1111', 'masked'], [EMAIL, 'revealed'], ['Lisbon', 'revealed']]],
    ['restricted', true, [['•••• 1111', 'masked'], ['j•••@example.com', 'masked'], ['Lisbon', 'revealed']]],
    ['admin', false, [[null, 'denied'], [EMAIL, 'revealed'], ['Lisbon', 'revealed']]],
    ['restricted', false, [[null, 'denied'], ['j•••@example.com', 'masked'], ['Lisbon', 'revealed']]],
  ];
  it.each(matrix)('reveal as %s (purpose: %s) returns exactly what the role allows, and audits it', async (role, withPurpose, expected) => {
    const tokens = [`[${tok.card}]`, tok.email, `[${tok.loc}]`];
    const res = await reveal(keys[role]!, { tokens, ...(withPurpose ? { purpose: 'chargeback review' } : {}) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.data).toEqual([
      { token: tokens[0], type: 'CARD', value: expected[0]![0], outcome: expected[0]![1] },
      { token: tokens[1], type: 'EMAIL', value: expected[1]![0], outcome: expected[1]![1] },
      { token: tokens[2], type: 'LOCATION', value: expected[2]![0], outcome: expected[2]![1] },
    ]);
    const ev = (await eventsOf(audit, tenantA)).at(-1);
    expect(ev).toMatchObject({ kind: 'reveal', key: keyIds[role], role, endpoint: '/v1/veil/reveal', request: res.headers.get('x-request-id') });
    expect(ev.tokens.map((t: any) => [t.t, t.o, t.kv])).toEqual([
      [tok.card, expected[0]![1], 1],
      [tok.email, expected[1]![1], 1],
      [tok.loc, expected[2]![1], 1],
    ]);
    if (!withPurpose) expect(ev.tokens[0].why).toBe('purpose_required');
    expect(JSON.stringify(ev)).not.toContain(EMAIL);
  });

  it('the purpose may come from x-veil-purpose', async () => {
    const res = await reveal(keys.admin!, { tokens: [tok.card] }, { 'x-veil-purpose': 'fraud check' });
    expect(((await res.json()) as any).data[0]).toMatchObject({ value: CARD, outcome: 'revealed' });
    expect((await eventsOf(audit, tenantA)).at(-1)).toMatchObject({ purpose: 'fraud check' });
  });

  it('tokens of another tenant, unknown and malformed tokens → null, audited as denied', async () => {
    const res = await reveal(keys.b!, { tokens: [tok.email, 'EMAIL_ZZZZZZZZ', 'not a token', '[FOO_7QX2M4AB]'], purpose: 'p' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.data.map((d: any) => [d.value, d.outcome])).toEqual([
      [null, 'denied'],
      [null, 'denied'],
      [null, 'denied'],
      [null, 'denied'],
    ]);
    const ev = (await eventsOf(audit, tenantB)).at(-1);
    expect(ev.tokens.map((t: any) => [t.o, t.why])).toEqual([
      ['denied', 'unknown'],
      ['denied', 'unknown'],
      ['denied', 'malformed'],
      ['denied', 'malformed'],
    ]);
  });

  it('malformed reveal bodies are 400 in the OpenAI shape', async () => {
    for (const body of [{}, { tokens: [] }, { tokens: 'EMAIL_7QX2M4AB' }, { tokens: Array(1001).fill('x') }, { tokens: ['x'], purpose: 7 }]) {
      const res = await reveal(keys.admin!, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error.type).toBe('invalid_request_error');
    }
    const res = await fetch(`${gw.url}/veil/reveal`, { method: 'POST', headers: { authorization: `Bearer ${keys.admin}` }, body: '{nope' });
    expect(res.status).toBe(400);
    const unauth = await reveal('sk-nope', { tokens: [tok.email] });
    expect(unauth.status).toBe(401);
  });

  it('reveals are rate-limited per key (429, retry-after, x-should-retry: false)', async () => {
    const gw2 = await startGateway(up.url, {
      vault,
      auth: gw.services.auth,
      compliance: { audit, known: knownTokens(h.db), revealLimiter: createRateLimiter(5) },
    });
    try {
      const call = (key: string, n: number) =>
        fetch(`${gw2.url}/veil/reveal`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ tokens: Array(n).fill(tok.email) }) });
      expect((await call(keys.admin!, 4)).status).toBe(200);
      const limited = await call(keys.admin!, 4);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('x-should-retry')).toBe('false');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await limited.json()) as any).error.code).toBe('veil_reveal_rate_limited');
      // another key has its own budget
      expect((await call(keys.user!, 4)).status).toBe(200);
    } finally {
      await gw2.close();
    }
  });
  it('every token of a restore event names the DEK version of its stored value (after a rotation: old and new)', async () => {
    const { version } = await keyring.rotateDek(tenantA); // new values go under the new DEK; old rows stay under 1
    expect(version).toBe(2);
    const fresh = 'kv.fresh@example.org';
    const r = await gw.client({ apiKey: keys.admin! }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `[${tok.email}] and ${fresh}` }] });
    expect(r.choices[0]!.message.content).toBe(`You said: ${EMAIL} and ${fresh}`);
    const ev = (await eventsOf(audit, tenantA)).at(-1);
    const minted = up.received.at(-1)!.body.messages[0].content.match(/EMAIL_[0-9A-Z]{8}/g).find((t: string) => t !== tok.email);
    expect(ev.tokens.map((t: any) => [t.t, t.kv])).toEqual([
      [minted, 2],
      [tok.email, 1],
    ]);
  });
});
