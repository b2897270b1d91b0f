/**
 * Encrypted RAG collections end to end over real HTTP (createApp on a loopback port): the real
 * encrypted vault, API-key store and pgvector store, on PGlite + pgvector and through the `pg`
 * driver against the same PGlite + pgvector served over the wire by @electric-sql/pglite-socket
 * (Debian's PostgreSQL here has no pgvector). The only fake is the loopback OpenAI-compatible
 * upstream (test/fakes/upstream.ts), here with a deterministic bag-of-words embedding so nearest
 * neighbours are meaningful; it records every input, so the tests prove no PII reached it.
 * With TEST_DATABASE_URL, the real PostgreSQL (no pgvector) must refuse with a message naming it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditStore, type AuditStore } from '../../src/audit/store.js';
import { knownTokens } from '../../src/compliance/index.js';
import { notifyingInvalidate, shredTenant } from '../../src/compliance/erase.js';
import { createCollectionEraser } from '../../src/rag/erase.js';
import { createRateLimiter } from '../../src/compliance/rate-limit.js';
import { auditUnavailable } from '../../src/core/errors.js';
import { createApiKeyStore } from '../../src/tenants/api-keys.js';
import { randomBytes } from '../../src/keys/crypto.js';
import { createLocalProvider } from '../../src/keys/local.js';
import { createCollections } from '../../src/rag/collections.js';
import { createPgVectorStore } from '../../src/rag/store.js';
import { nodeVaultCrypto } from '../../src/keys/crypto.node.js';
import { createDbVault } from '../../src/vault/db-vault.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { embeddingUpstream } from './embedding-upstream.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { DRIVERS } from '../helpers/db.js';
import { call, SETUPS, type Setup } from './harness.js';

const JANE = 'jane.roe@example.com';
const BOB = 'bob.stone@example.org';
const CARD = '4111 1111 1111 1111';
const CUSTOMER = 'Zephyrine Quillfeather';

describe.each(SETUPS)('RAG collections ($name)', (setup) => {
  let s: Setup;
  let up: FakeUpstream;
  let gw: Gateway;
  let audit: AuditStore;
  let tenantA: string;
  let tenantB: string;
  /** Set to make the audit trail refuse appends (the real store otherwise). */
  let auditDown = false;
  const key = {} as { admin: string; user: string; restricted: string; other: string };

  beforeAll(async () => {
    s = await setup.open();
    up = await startFakeUpstream(embeddingUpstream);
    const keys = createApiKeyStore(s.db, { cacheTtlMs: 50 });
    const provider = createLocalProvider(randomBytes(32));
    const vault = createDbVault({ db: s.db, provider, crypto: nodeVaultCrypto, timeoutMs: 20_000 });
    audit = createAuditStore({ db: s.db, provider, hmac: nodeVaultCrypto.hmac, timeoutMs: 20_000 });
    const ragAudit = { append: (t: string, e: Parameters<AuditStore['append']>[1]) => (auditDown ? Promise.reject(auditUnavailable()) : audit.append(t, e)) };
    const rag = createCollections({ store: createPgVectorStore(s.db), keyring: vault.keyring, crypto: nodeVaultCrypto, audit: ragAudit });
    const a = (tenantA = (await keys.createTenant('A')).id);
    const b = (tenantB = (await keys.createTenant('B')).id);
    for (const role of ['admin', 'user', 'restricted'] as const) key[role] = (await keys.issueKey({ tenantId: a, name: `a-${role}`, role })).key;
    key.other = (await keys.issueKey({ tenantId: b, name: 'b-admin', role: 'admin' })).key;
    gw = await startGateway(up.url, { vault, auth: keys, rag, compliance: {
        audit,
        known: knownTokens(s.db),
        revealLimiter: createRateLimiter(0),
        erase: { db: s.db, keyring: vault.keyring, audit, invalidate: notifyingInvalidate(s.db, vault.forgetTenant), collections: createCollectionEraser({ db: s.db, keyring: vault.keyring, crypto: nodeVaultCrypto }) },
      }, limits: { maxBodyBytes: 1024 * 1024, streamIdleTimeoutMs: 5_000 } });

    const docs = [
      { id: 'd1', text: `Invoice dispute: write to ${JANE} about the refund on card ${CARD}.`, metadata: { owner: JANE, customer: CUSTOMER, category: 'billing', year: 2024 } },
      { id: 'd2', text: `Shipping delay reported by ${BOB}; parcel stuck in the depot.`, metadata: { owner: BOB, customer: 'Orlando Vexley', category: 'shipping', year: 2024 } },
      { id: 'd3', text: `Password reset requested by ${JANE} from the mobile app.`, metadata: { owner: JANE, customer: CUSTOMER, category: 'account', year: 2023 } },
    ];
    const r = await call(gw, 'POST', '/veil/collections/support/documents', key.admin, { model: 'emb', documents: docs, encrypt_fields: ['customer'] });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    // tenant B: its own document in a collection of the same name
    const rb = await call(gw, 'POST', '/veil/collections/support/documents', key.other, { model: 'emb', documents: [{ id: 'd1', text: `Refund for ${JANE} on card ${CARD}, tenant B.` }] });
    expect(rb.status, JSON.stringify(rb.json)).toBe(200);
  }, 180_000);
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await s?.close();
  });

  it('the upstream embedded sanitized text only', () => {
    const seen = up.allRaw();
    for (const v of [JANE, BOB, CARD, '4111111111111111', CUSTOMER]) expect(seen).not.toContain(v);
    expect(up.received.length).toBeGreaterThanOrEqual(2);
  });

  it('query: same placeholders as the documents, nearest first, sealed fields left out without restore', async () => {
    const r = await call(gw, 'POST', '/veil/collections/support/query', key.admin, { model: 'emb', query: `refund card for ${JANE}`, k: 2 });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const top = r.json.data[0];
    expect(top.id).toBe('d1');
    expect(top.text).toMatch(/^Invoice dispute: write to \[EMAIL_[0-9A-Z]{8}\] about the refund on card \[CARD_[0-9A-Z]{8}\]\.$/);
    expect(top.metadata).toEqual({ category: 'billing', year: 2024 });
    expect(top.encrypted_fields.sort()).toEqual(['customer', 'owner']);
    expect(JSON.stringify(r.json)).not.toContain(JANE);
    // the last upstream input was the sanitized query, with the document's placeholder
    const q = up.received.at(-1)!.body.input[0] as string;
    expect(q).toBe(`refund card for ${top.text.match(/\[EMAIL_[0-9A-Z]{8}\]/)![0]}`);
  });

  it('restore: true gives text and sealed fields as each role may see them', async () => {
    const ask = async (k: string) => (await call(gw, 'POST', '/veil/collections/support/query', k, { model: 'emb', query: `refund card for ${JANE}`, k: 1, restore: true })).json.data[0];
    const admin = await ask(key.admin);
    expect(admin.text).toBe(`Invoice dispute: write to ${JANE} about the refund on card ${CARD}.`);
    expect(admin.metadata).toEqual({ owner: JANE, customer: CUSTOMER, category: 'billing', year: 2024 });
    expect(admin.encrypted_fields).toEqual([]);
    const user = await ask(key.user);
    expect(user.text).toBe(`Invoice dispute: write to ${JANE} about the refund on card •••• 1111.`);
    expect(user.metadata.owner).toBe(JANE);
    const restricted = await ask(key.restricted);
    expect(restricted.text).toBe('Invoice dispute: write to j•••@example.com about the refund on card •••• 1111.');
    expect(restricted.metadata.owner).toBe('j•••@example.com');
    expect(JSON.stringify(restricted)).not.toContain(JANE);
  });

  it('opening sealed metadata is audited first: one entry per field with outcome and key version, never a value; no audit, no opening', async () => {
    const events = async () => {
      const out: any[] = [];
      for await (const e of audit.events(tenantA)) out.push(JSON.parse(e.body));
      return out;
    };
    const before = (await events()).length;
    const r = await call(gw, 'POST', '/veil/collections/support/query', key.restricted, { model: 'emb', query: `refund card for ${JANE}`, k: 1, restore: true, filter: { owner: JANE, year: 2024 } });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.data[0].metadata.owner).toBe('j•••@example.com');
    const evs = (await events()).slice(before).filter((e) => e.endpoint === '/v1/veil/collections/support/query');
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({ kind: 'restore', role: 'restricted' });
    const byField = Object.fromEntries(evs[0].tokens.map((t: any) => [t.t, t]));
    expect(Object.keys(byField).sort()).toEqual(['meta:d1:customer', 'meta:d1:owner']);
    expect(byField['meta:d1:owner']).toMatchObject({ type: 'EMAIL', o: 'masked', kv: 1 });
    expect(byField['meta:d1:customer']).toMatchObject({ type: null, kv: 1 });
    for (const v of [JANE, CUSTOMER, 'jane.roe']) expect(JSON.stringify(evs)).not.toContain(v);
    // without restore nothing is opened and nothing of this kind is written
    const n = (await events()).length;
    await call(gw, 'POST', '/veil/collections/support/query', key.admin, { model: 'emb', query: 'refund', k: 3 });
    expect((await events()).slice(n).filter((e) => e.endpoint === '/v1/veil/collections/support/query')).toEqual([]);
    // the audit trail refuses: 503, nothing opened
    auditDown = true;
    try {
      const down = await call(gw, 'POST', '/veil/collections/support/query', key.admin, { model: 'emb', query: 'refund', k: 1, restore: true, filter: { owner: JANE } });
      expect(down.status).toBe(503);
      expect(down.json.error.code).toBe('veil_audit_unavailable');
      expect(JSON.stringify(down.json)).not.toContain(JANE);
    } finally {
      auditDown = false;
    }
  });

  it('tenant isolation: another tenant never sees these chunks, even with the same collection and id', async () => {
    const r = await call(gw, 'POST', '/veil/collections/support/query', key.other, { model: 'emb', query: `refund card for ${JANE}`, k: 10, restore: true });
    expect(r.json.data.map((d: any) => d.id)).toEqual(['d1']);
    expect(r.json.data[0].text).toBe(`Refund for ${JANE} on card ${CARD}, tenant B.`);
    const a = await call(gw, 'POST', '/veil/collections/support/query', key.admin, { model: 'emb', query: 'tenant B', k: 10 });
    expect(a.json.data.map((d: any) => d.id).sort()).toEqual(['d1', 'd2', 'd3']);
    expect(a.json.data.some((d: any) => d.text.includes('tenant B'))).toBe(false);
  });

  it('exact filters work on encrypted fields (blind index) and plain ones', async () => {
    const ids = async (filter: unknown) =>
      (await call(gw, 'POST', '/veil/collections/support/query', key.admin, { model: 'emb', query: 'anything at all', k: 10, filter })).json.data.map((d: any) => d.id).sort();
    expect(await ids({ owner: JANE })).toEqual(['d1', 'd3']);
    expect(await ids({ owner: BOB })).toEqual(['d2']);
    expect(await ids({ customer: CUSTOMER, year: 2023 })).toEqual(['d3']);
    expect(await ids({ category: 'shipping' })).toEqual(['d2']);
    expect(await ids({ owner: 'nobody@example.com' })).toEqual([]);
    // tenant B's blind key differs: A's values do not match B's rows
    const b = await call(gw, 'POST', '/veil/collections/support/query', key.other, { model: 'emb', query: 'x', k: 10, filter: { owner: JANE } });
    expect(b.json.data).toEqual([]);
  });

  it('no plaintext value in the table or its indexes (database dump)', async () => {
    const dump = (await s.dump()).toString('latin1');
    expect(dump).toContain('veil_rag_chunks'); // the dump holds the collection
    expect(dump).toContain('Invoice dispute'); // the sanitized text is there
    for (const v of [JANE, BOB, CARD, CUSTOMER, 'Orlando Vexley', 'jane.roe', 'Zephyrine']) expect(dump, v).not.toContain(v);
  });

  it('delete by id; a second delete is 404; bad names and PII ids are refused', async () => {
    const d = await call(gw, 'DELETE', '/veil/collections/support/documents/d2', key.admin);
    expect(d).toEqual({ status: 200, json: { id: 'd2', deleted: true } });
    const again = await call(gw, 'DELETE', '/veil/collections/support/documents/d2', key.admin);
    expect(again.status).toBe(404);
    expect(again.json.error.code).toBe('not_found');
    const after = await call(gw, 'POST', '/veil/collections/support/query', key.admin, { model: 'emb', query: 'shipping', k: 10 });
    expect(after.json.data.map((x: any) => x.id).sort()).toEqual(['d1', 'd3']);
    const bad = await call(gw, 'POST', '/veil/collections/bad%20name/query', key.admin, { model: 'emb', query: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('veil_bad_collection');
    const pii = await call(gw, 'POST', '/veil/collections/support/documents', key.admin, { model: 'emb', documents: [{ id: JANE, text: 'x' }] });
    expect(pii.status).toBe(400);
    expect(pii.json.error.code).toBe('veil_pii_in_id');
    const dup = await call(gw, 'POST', '/veil/collections/support/documents', key.admin, { model: 'emb', documents: [{ id: 'a', text: 'x' }, { id: 'a', text: 'y' }] });
    expect(dup.status).toBe(400);
  });

  it('erasure reaches the collection: the subject placeholders re-sanitized, its metadata fields and blind indexes removed; others untouched', async () => {
    const d4 = await call(gw, 'POST', '/veil/collections/support/documents', key.admin, { model: 'emb', documents: [{ id: 'd4', text: 'Call notes, nothing personal.', metadata: { customer: 'Orlando Vexley', category: 'calls' } }], encrypt_fields: ['customer'] });
    expect(d4.status).toBe(200);
    const ask = async (body: Record<string, unknown>, k = key.admin) => (await call(gw, 'POST', '/veil/collections/support/query', k, { model: 'emb', query: 'refund card', k: 10, ...body })).json.data;
    const before = await ask({});
    const janeToken = /\[(EMAIL_[0-9A-Z]{8})\]/.exec(before.find((d: any) => d.id === 'd1').text)![1]!;
    const cardToken = /\[(CARD_[0-9A-Z]{8})\]/.exec(before.find((d: any) => d.id === 'd1').text)![1]!;

    const byValue = await call(gw, 'POST', '/veil/erase', key.admin, { type: 'EMAIL', value: JANE });
    expect(byValue).toEqual({ status: 200, json: { object: 'veil.erasure', erased: 1, chunks: 2, fields: 2 } });
    const after = Object.fromEntries((await ask({ restore: true })).map((d: any) => [d.id, d]));
    expect(after.d1.text).toBe(`Invoice dispute: write to [EMAIL_ERASED] about the refund on card ${CARD}.`);
    expect(after.d1.metadata).toEqual({ customer: CUSTOMER, category: 'billing', year: 2024 });
    expect(after.d3.text).toBe('Password reset requested by [EMAIL_ERASED] from the mobile app.');
    expect(after.d3.metadata).toEqual({ customer: CUSTOMER, category: 'account', year: 2023 });
    expect(await ask({ filter: { owner: JANE } })).toEqual([]);
    expect((await ask({ filter: { customer: CUSTOMER } })).map((d: any) => d.id).sort()).toEqual(['d1', 'd3']);
    const left = await s.db.query<{ n: number }>("select count(*)::int as n from veil_rag_chunks where text like '%' || $1 || '%' or sealed::text like '%' || $1 || '%'", [janeToken]);
    expect(left[0]!.n).toBe(0);
    // tenant B's chunk holds the same value under its own placeholder: untouched
    const b = await ask({ restore: true }, key.other);
    expect(b[0].text).toBe(`Refund for ${JANE} on card ${CARD}, tenant B.`);

    // by placeholder; and by value with no mapping, through the blind index of a field sealed by encrypt_fields
    expect((await call(gw, 'POST', '/veil/erase', key.admin, { token: `[${cardToken}]` })).json).toEqual({ object: 'veil.erasure', erased: 1, chunks: 1, fields: 0 });
    expect((await ask({ restore: true })).find((d: any) => d.id === 'd1').text).toBe('Invoice dispute: write to [EMAIL_ERASED] about the refund on card [CARD_ERASED].');
    expect((await call(gw, 'POST', '/veil/erase', key.admin, { type: 'PERSON', value: 'Orlando Vexley' })).json).toEqual({ object: 'veil.erasure', erased: 0, chunks: 1, fields: 1 });
    expect((await ask({ restore: true })).find((d: any) => d.id === 'd4').metadata).toEqual({ category: 'calls' });
    expect(await ask({ filter: { customer: 'Orlando Vexley' } })).toEqual([]);
    // shredding a tenant deletes its chunks
    await shredTenant(gw.services.compliance!.erase!, tenantB, { via: 'test' });
    expect(await s.db.query('select id from veil_rag_chunks where tenant_id = $1', [tenantB])).toEqual([]);
    expect((await s.db.query('select id from veil_rag_chunks where tenant_id = $1', [tenantA])).length).toBe(3);
  });
}, 240_000);

const pg = DRIVERS.find((d) => d.name === 'postgres');
describe.skipIf(!pg)('RAG collections on a PostgreSQL without pgvector', () => {
  it('fails with a clear message naming the extension', async () => {
    const h = await pg!.open();
    try {
      const err = await createPgVectorStore(h.db).query('t', 'c', [1, 2, 3], 1, { plain: {}, blind: [] }).catch((e) => e);
      expect(err.code).toBe('veil_pgvector_missing');
      expect(err.status).toBe(503);
      expect(err.message).toContain('pgvector');
      expect(err.message).toContain('CREATE EXTENSION vector');
    } finally {
      await h.cleanup();
    }
  }, 60_000);
});
