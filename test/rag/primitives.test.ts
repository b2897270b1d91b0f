/**
 * POST /v1/veil/sanitize and /v1/veil/restore over real HTTP (createApp on a loopback port) with
 * the real encrypted vault and API-key store on PGlite (and PostgreSQL when TEST_DATABASE_URL is
 * set), plus a property test on the memory vault. The loopback upstream (test/fakes/upstream.ts)
 * is the only fake, and these routes never call it: the test checks that too.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditStore, type AuditStore } from '../../src/audit/store.js';
import { createApiKeyStore } from '../../src/tenants/api-keys.js';
import { knownTokens } from '../../src/compliance/index.js';
import { createRateLimiter } from '../../src/compliance/rate-limit.js';
import { randomBytes } from '../../src/keys/crypto.js';
import { createLocalProvider } from '../../src/keys/local.js';
import { nodeVaultCrypto } from '../../src/keys/crypto.node.js';
import { createDbVault } from '../../src/vault/db-vault.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { DRIVERS, type Harness } from '../helpers/db.js';

const EMAIL = 'jane.roe@example.com';
const CARD = '4111 1111 1111 1111';
const PHONE = '+1 415 555 0132';

async function post(gw: Gateway, path: string, body: unknown, key?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

describe.each(DRIVERS)('RAG sanitize/restore primitives ($name)', (driver) => {
  let h: Harness;
  let up: FakeUpstream;
  let gw: Gateway;
  let audit: AuditStore;
  let tenantA: string;
  const key = {} as { admin: string; user: string; restricted: string; other: string };

  beforeAll(async () => {
    h = await driver.open();
    up = await startFakeUpstream();
    const keys = createApiKeyStore(h.db, { cacheTtlMs: 50 });
    const provider = createLocalProvider(randomBytes(32));
    const vault = createDbVault({ db: h.db, provider, crypto: nodeVaultCrypto, timeoutMs: 5000 });
    audit = createAuditStore({ db: h.db, provider, hmac: nodeVaultCrypto.hmac, timeoutMs: 5000 });
    const a = (tenantA = (await keys.createTenant('A')).id);
    const b = (await keys.createTenant('B')).id;
    for (const role of ['admin', 'user', 'restricted'] as const) key[role] = (await keys.issueKey({ tenantId: a, name: `a-${role}`, role })).key;
    key.other = (await keys.issueKey({ tenantId: b, name: 'b-admin', role: 'admin' })).key;
    gw = await startGateway(up.url, { vault, auth: keys, compliance: { audit, known: knownTokens(h.db), revealLimiter: createRateLimiter(0) } });
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await h?.cleanup();
  });

  it('sanitizes with stable placeholders and reports each entity with offsets in the sanitized text', async () => {
    const doc = `Contact ${EMAIL} or call ${PHONE}; card ${CARD}.`;
    const r = await post(gw, '/veil/sanitize', { texts: [doc, `who is ${EMAIL}?`, ''] }, key.admin);
    expect(r.status).toBe(200);
    const [d, q, empty] = r.json.data;
    for (const v of [EMAIL, CARD, PHONE]) expect(JSON.stringify(r.json)).not.toContain(v);
    expect(d.entities.map((e: any) => e.type)).toEqual(['EMAIL', 'PHONE', 'CARD']);
    for (const e of [...d.entities, ...q.entities]) expect((e.start < e.end && (d.text.includes(e.placeholder) || q.text.includes(e.placeholder)))).toBe(true);
    for (const e of d.entities) expect(d.text.slice(e.start, e.end)).toBe(e.placeholder);
    // the document and the query carry the same placeholder for the same email
    expect(q.entities[0].placeholder).toBe(d.entities[0].placeholder);
    expect(q.text).toBe(`who is ${d.entities[0].placeholder}?`);
    expect(empty).toEqual({ index: 2, text: '', entities: [] });
    // stable across requests
    const again = await post(gw, '/veil/sanitize', { texts: [EMAIL] }, key.user);
    expect(again.json.data[0].text).toBe(d.entities[0].placeholder);
    expect(up.received).toHaveLength(0);
  });

  it('restores as the role allows; another tenant sees placeholders; nothing is minted for passing text', async () => {
    const s = await post(gw, '/veil/sanitize', { texts: [`Mail ${EMAIL}, card ${CARD}.`] }, key.admin);
    const masked: string = s.json.data[0].text;
    const [pe, pc] = s.json.data[0].entities.map((e: any) => e.placeholder);
    const restore = async (k: string) => (await post(gw, '/veil/restore', { texts: [masked, `raw ${EMAIL} stays`] }, k)).json.data.map((d: any) => d.text);
    expect(await restore(key.admin)).toEqual([`Mail ${EMAIL}, card ${CARD}.`, `raw ${EMAIL} stays`]);
    expect(await restore(key.user)).toEqual([`Mail ${EMAIL}, card •••• 1111.`, `raw ${EMAIL} stays`]);
    expect(await restore(key.restricted)).toEqual([`Mail j•••@example.com, card •••• 1111.`, `raw ${EMAIL} stays`]);
    expect(await restore(key.other)).toEqual([`Mail ${pe}, card ${pc}.`, `raw ${EMAIL} stays`]);
    expect(up.received).toHaveLength(0);
  });

  it('restore is audited like chat: one event per call naming each token and its outcome, never a value', async () => {
    const s = await post(gw, '/veil/sanitize', { texts: [`card ${CARD}`] }, key.admin);
    const placeholder: string = s.json.data[0].entities[0].placeholder;
    const events = async () => {
      const out: any[] = [];
      for await (const e of audit.events(tenantA)) out.push(JSON.parse(e.body));
      return out;
    };
    const before = (await events()).length;
    const r = await post(gw, '/veil/restore', { texts: [`paid with ${placeholder}`] }, key.user);
    expect(r.json.data[0].text).toBe('paid with •••• 1111');
    const evs = (await events()).slice(before);
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({ role: 'user', tokens: [{ t: placeholder.slice(1, -1), o: 'masked' }] });
    // the value in either written form (a bare '4111' also matches random ids and MACs in the event: flaky)
    for (const form of [CARD, CARD.replace(/ /g, '')]) expect(JSON.stringify(evs)).not.toContain(form);
  });

  it('refuses bad bodies with OpenAI-shaped errors', async () => {
    const bad = async (body: unknown, status: number, code: string | null, param?: string | null) => {
      const r = await post(gw, '/veil/sanitize', body, key.admin);
      expect(r.status).toBe(status);
      expect(r.json.error.code).toBe(code);
      if (param !== undefined) expect(r.json.error.param).toBe(param);
      expect(typeof r.json.error.message).toBe('string');
    };
    await bad({}, 400, null, 'texts');
    await bad({ texts: [] }, 400, null, 'texts');
    await bad({ texts: [1] }, 400, null, 'texts.0');
    await bad({ texts: Array.from({ length: 2049 }, () => 'a') }, 400, null, 'texts');
    await bad('{"texts": [', 400, 'invalid_json');
    await bad('['.repeat(100) + ']'.repeat(100), 400, 'veil_too_deep');
    await bad({ texts: ['x'.repeat(300 * 1024)] }, 413, 'request_too_large');
    const noKey = await post(gw, '/veil/restore', { texts: ['a'] });
    expect(noKey.status).toBe(401);
    expect(noKey.json.error.code).toBe('invalid_api_key');
  });
});

describe('RAG primitives, property (memory vault)', () => {
  let up: FakeUpstream;
  let gw: Gateway;
  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway(up.url);
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  it('restore(sanitize(texts)) is the input for an admin; entities are exactly the placeholders; no value survives', async () => {
    const values = [EMAIL, CARD, PHONE, 'bob@example.org', '192.168.14.7'];
    const piece = fc.oneof(fc.constantFrom(...values), fc.string({ maxLength: 12 }).filter((s) => !/[@\d[\]]/.test(s)));
    // values are separated by a word: two number-like values side by side are one span to the detector
    const text = fc.array(piece, { maxLength: 8 }).map((p) => p.join(' and '));
    await fc.assert(
      fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 4 }), async (texts) => {
        const s = await post(gw, '/veil/sanitize', { texts });
        expect(s.status).toBe(200);
        const out: string[] = s.json.data.map((d: any) => d.text);
        for (const d of s.json.data) {
          for (const e of d.entities) expect(d.text.slice(e.start, e.end)).toBe(e.placeholder);
          for (const v of values) expect(d.text).not.toContain(v);
        }
        const r = await post(gw, '/veil/restore', { texts: out });
        expect(r.json.data.map((d: any) => d.text)).toEqual(texts);
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
