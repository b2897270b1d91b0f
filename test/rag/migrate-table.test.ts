/**
 * Migration from an existing pgvector table (src/rag/migrate.ts, `veil collections migrate
 * --from-table`) and queries during it (src/rag/pending.ts), on PGlite + pgvector and through the
 * `pg` driver against PGlite + pgvector over the wire (test/rag/harness.ts). Real components: the
 * DB vault under one local master key shared by the gateway and the CLI, the API-key store, the
 * pgvector store, the pattern detector. The only fake is the loopback OpenAI-compatible upstream
 * (test/fakes/upstream.ts) answering embeddings with a bag-of-words vector; it records every
 * input, so the test proves no PII reached it.
 *
 * The migration is paused after its first batch (its signal), a query then returns migrated and
 * not-yet-migrated chunks together — each once, sanitized, restored per role on request — and the
 * CLI resumes it to the end; the source table is left as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyStore } from '../../src/tenants/api-keys.js';
import { randomBytes, toBase64 } from '../../src/keys/crypto.js';
import { createLocalProvider } from '../../src/keys/local.js';
import { nodeVaultCrypto } from '../../src/keys/crypto.node.js';
import { createDbVault } from '../../src/vault/db-vault.js';
import { createCollections } from '../../src/rag/collections.js';
import { createPgVectorStore } from '../../src/rag/store.js';
import { createPendingReader, SOURCES_TTL_MS } from '../../src/rag/pending.js';
import { migrateTable, migrationProgress } from '../../src/rag/migrate.js';
import { createPatternDetector } from '../../src/detect/patterns/index.js';
import { DEFAULT_POLICY } from '../../src/policy/index.js';
import { runCli } from '../../src/runtime/node/cli/index.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { bagOfWords, embeddingUpstream } from './embedding-upstream.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { call, SETUPS, type Setup } from './harness.js';

const PEOPLE = ['jane.roe@example.com', 'bob.stone@example.org', 'ann.lee@example.net'];
const N = 12;
const rowText = (i: number) => `Ticket ${i}: shipping delay reported by ${PEOPLE[i % 3]} for parcel ${i}.`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(SETUPS)('migration from a pgvector table ($name)', (setup) => {
  let s: Setup;
  let up: FakeUpstream;
  let gw: Gateway;
  let tenant: string;
  const master = randomBytes(32);
  const key = {} as { admin: string; restricted: string; other: string };

  beforeAll(async () => {
    s = await setup.open();
    up = await startFakeUpstream(embeddingUpstream);
    // the existing collection: raw text, metadata with PII (one nested value), raw-text vectors
    await s.db.query('create extension if not exists vector', []);
    await s.db.query('create table legacy_docs (doc_id integer primary key, body text, meta jsonb, emb vector(64))', []);
    for (let i = 1; i <= N; i++) {
      await s.db.query('insert into legacy_docs values ($1, $2, $3::jsonb, $4::vector)', [i, rowText(i), JSON.stringify({ owner: PEOPLE[i % 3], n: i, loc: { page: i } }), `[${bagOfWords(rowText(i)).join(',')}]`]);
    }
    const keys = createApiKeyStore(s.db, { cacheTtlMs: 50 });
    const vault = createDbVault({ db: s.db, provider: createLocalProvider(master), crypto: nodeVaultCrypto, timeoutMs: 20_000 });
    const rag = createCollections({ store: createPgVectorStore(s.db), keyring: vault.keyring, crypto: nodeVaultCrypto, pending: createPendingReader(s.db) });
    tenant = (await keys.createTenant('A')).id;
    const b = (await keys.createTenant('B')).id;
    for (const role of ['admin', 'restricted'] as const) key[role] = (await keys.issueKey({ tenantId: tenant, name: `a-${role}`, role })).key;
    key.other = (await keys.issueKey({ tenantId: b, name: 'b-admin', role: 'admin' })).key;
    gw = await startGateway(up.url, { vault, auth: keys, rag, limits: { maxBodyBytes: 1024 * 1024, streamIdleTimeoutMs: 5_000 } });

    // first batch only: the signal pauses the run once a batch is committed
    const ac = new AbortController();
    const ctx = { principal: { tenantId: tenant, principalId: 'test', role: 'admin' }, requestId: 'test' };
    const source = { table: 'legacy_docs', idCol: 'doc_id', textCol: 'body', metadataCol: 'meta', embeddingCol: 'emb' };
    const r = await migrateTable(s.db, rag, ctx, { detector: createPatternDetector(), vault, policy: DEFAULT_POLICY }, null, source, {
      collection: 'kb',
      batchSize: 4,
      reEmbed: false,
      signal: ac.signal,
      onProgress: (done) => done > 0 && ac.abort(),
    });
    expect(r).toMatchObject({ startedAt: 0, done: 4, total: N, batches: 1, paused: true });
    await sleep(SOURCES_TTL_MS + 50);
  }, 180_000);
  afterAll(async () => {
    await gw?.close();
    await up?.close();
    await s?.close();
  });

  const query = (k: string, body: Record<string, unknown> = {}) => call(gw, 'POST', '/veil/collections/kb/query', k, { model: 'emb', query: 'shipping delay parcel', k: 50, ...body });

  it('while paused: every chunk once, migrated or not, sanitized, with stable placeholders; PII metadata left out', async () => {
    const migrated = (await s.db.query<{ id: string }>("select id from veil_rag_chunks where collection = 'kb'", [])).map((r) => r.id).sort();
    expect(migrated).toEqual(['1', '10', '11', '12']); // ids in text order: 1, 10, 11, 12, 2, …
    const r = await query(key.admin);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const ids = r.json.data.map((d: any) => d.id);
    expect([...ids].sort((a: string, b: string) => Number(a) - Number(b))).toEqual(Array.from({ length: N }, (_, i) => String(i + 1)));
    for (const p of PEOPLE) expect(JSON.stringify(r.json)).not.toContain(p);
    const placeholderOf = new Map<string, Set<string>>();
    for (const d of r.json.data) {
      const i = Number(d.id);
      expect(d.text).toMatch(new RegExp(`^Ticket ${i}: shipping delay reported by \\[EMAIL_[0-9A-Z]{8}\\] for parcel ${i}\\.$`));
      expect(d.encrypted_fields).toEqual(['owner']);
      expect(d.metadata).toEqual({ n: i, loc: JSON.stringify({ page: i }) });
      const who = PEOPLE[i % 3]!;
      if (!placeholderOf.has(who)) placeholderOf.set(who, new Set());
      placeholderOf.get(who)!.add(/\[EMAIL_[0-9A-Z]{8}\]/.exec(d.text)![0]);
    }
    // the same person has one placeholder in migrated chunks and unmigrated ones alike
    expect([...placeholderOf.values()].map((v) => v.size)).toEqual([1, 1, 1]);
    expect(up.allRaw()).not.toMatch(/@example\./);
  });

  it('while paused: restore as the role allows, exact filters on both kinds, other tenants see nothing, an unreadable source is a 503', async () => {
    const admin = await query(key.admin, { restore: true });
    for (const d of admin.json.data) {
      expect(d.text).toBe(rowText(Number(d.id)));
      expect(d.metadata.owner).toBe(PEOPLE[Number(d.id) % 3]);
      expect(d.encrypted_fields).toEqual([]);
    }
    const restricted = await query(key.restricted, { restore: true });
    expect(restricted.json.data).toHaveLength(N);
    for (const p of PEOPLE) expect(JSON.stringify(restricted.json)).not.toContain(p);
    expect(restricted.json.data.find((d: any) => d.id === '3').text).toBe('Ticket 3: shipping delay reported by j•••@example.com for parcel 3.');
    const jane = await query(key.admin, { filter: { owner: PEOPLE[0] } });
    // 3, 6, 9, 12 are Jane's; 12 is migrated, the others are not
    expect(jane.json.data.map((d: any) => d.id).sort()).toEqual(['12', '3', '6', '9']);
    const other = await call(gw, 'POST', '/veil/collections/kb/query', key.other, { model: 'emb', query: 'shipping delay parcel', k: 50 });
    expect(other.json.data).toEqual([]);
    // a pending source that cannot be read fails the query rather than answering without its rows
    // (in process only: pglite-socket drops its one connection after a failed statement)
    if (setup.name !== 'pglite') return;
    await s.db.query('alter table legacy_docs rename to legacy_docs_away', []);
    try {
      const gone = await query(key.admin);
      expect(gone.status).toBe(503);
      expect(gone.json.error.code).toBe('veil_vector_store_unavailable');
    } finally {
      await s.db.query('alter table legacy_docs_away rename to legacy_docs', []);
    }
  });

  it('the CLI resumes to the end; then the collection holds every chunk sanitized and the source is untouched', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const env = { VEIL_DATA_DIR: '/nonexistent', VEIL_MASTER_KEY: toBase64(master), VEIL_NER: 'false' };
    const args = ['collections', 'migrate', '--tenant', tenant, '--collection', 'kb', '--from-table', 'legacy_docs', '--id-col', 'doc_id', '--text-col', 'body', '--metadata-col', 'meta', '--embedding-col', 'emb', '--batch', '3'];
    const code = await runCli(args, { env, out: (l) => out.push(l), err: (l) => err.push(l), db: s.db });
    expect(code, err.join('\n')).toBe(0);
    expect(out.join('\n')).toMatch(/^migrated 8 chunks into "kb" \(12\/12 done, resumed at 4; \d+ chunks\/s\)$/);
    expect(await migrationProgress(s.db, tenant, 'kb', 'table:legacy_docs')).toEqual({ done: N, total: N, finished: true, lastId: '9' });
    const rows = await s.db.query<{ id: string; text: string; metadata: unknown; sealed: Record<string, unknown> }>('select id, text, metadata, sealed from veil_rag_chunks where tenant_id = $1 and collection = $2', [tenant, 'kb']);
    expect(rows).toHaveLength(N);
    for (const r of rows) {
      expect(r.text).toMatch(/^Ticket \d+: shipping delay reported by \[EMAIL_[0-9A-Z]{8}\] for parcel \d+\.$/);
      expect(Object.keys(r.sealed)).toEqual(['owner']);
      expect(JSON.stringify(r)).not.toMatch(/@example\./);
    }
    const source = await s.db.query<{ n: number }>("select count(*)::int as n from legacy_docs where body like '%@example.%'", []);
    expect(source[0]!.n).toBe(N);
    await sleep(SOURCES_TTL_MS + 50);
    const r = await query(key.admin, { restore: true });
    expect(r.json.data.map((d: any) => d.text).sort()).toEqual(Array.from({ length: N }, (_, i) => rowText(i + 1)).sort());
    // a bad table name is a usage error before anything runs
    const bad = await runCli(['collections', 'migrate', '--tenant', tenant, '--collection', 'kb', '--from-table', 'x; drop table y', '--id-col', 'a', '--text-col', 'b', '--embedding-col', 'c'], { env, out: () => {}, err: (l) => err.push(l), db: s.db });
    expect(bad).toBe(1);
    expect(err.at(-1)).toBe('error: --from-table must be a table name (letters, digits, "_"; optionally schema.table)');
  }, 120_000);
}, 240_000);
