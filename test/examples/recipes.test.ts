/**
 * The framework recipes in examples/ run end to end against a real Veil gateway over HTTP
 * (createApp on loopback, the real DB vault, API-key store and pgvector collections on PGlite),
 * with the real LangChain JS (`@langchain/openai`, `@langchain/core`) and Vercel AI SDK (`ai`,
 * `@ai-sdk/openai`) clients. The only fake is the upstream on loopback (test/fakes/upstream.ts),
 * speaking the OpenAI wire format: embeddings are a bag-of-words vector (test/rag), and the chat
 * model answers with the first EMAIL placeholder of the question and the first CARD placeholder
 * of the context it was given. It records every body: the tests prove no value reached it, and
 * that the answer the recipe returns is restored exactly.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDocuments, answer } from '../../examples/langchain-rag.js';
import { ask, buildIndex } from '../../examples/ai-sdk-rag.js';
import type { Db } from '../../src/db/client.js';
import { fromPglite } from '../../src/db/open.node.js';
import { randomBytes } from '../../src/keys/crypto.js';
import { nodeVaultCrypto } from '../../src/keys/crypto.node.js';
import { createLocalProvider } from '../../src/keys/local.js';
import { createCollections } from '../../src/rag/collections.js';
import { createPgVectorStore } from '../../src/rag/store.js';
import { createApiKeyStore } from '../../src/tenants/api-keys.js';
import { createDbVault } from '../../src/vault/db-vault.js';
import { chatCompletion, type FakeUpstream, type Received, startFakeUpstream } from '../fakes/upstream.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { embeddingUpstream } from '../rag/embedding-upstream.js';

const JANE = 'jane.roe@example.com';
const BOB = 'bob.stone@example.org';
const CARD = '4111 1111 1111 1111';
const OTHER_CARD = '5555 5555 5555 4444';
const DOCS = [
  `Refund for ${JANE} approved, paid back to card ${CARD}.`,
  `Shipping for ${BOB} is delayed by the storm; card ${OTHER_CARD} not charged yet.`,
  'The office is closed on public holidays.',
];
const QUESTION = `What happened to the refund of ${JANE}?`;
const EXPECTED = `The refund of ${JANE} was approved and paid back to card ${CARD}.`;

function texts(body: any): { question: string; all: string } {
  const msgs = (body?.messages ?? []) as any[];
  const text = (m: any) => (typeof m.content === 'string' ? m.content : (m.content ?? []).map((p: any) => p.text ?? '').join(''));
  return { question: text([...msgs].reverse().find((m) => m.role === 'user') ?? {}), all: msgs.map(text).join('\n') };
}

/** Embeddings, and a chat model that answers from the placeholders it was given. */
function upstream(req: Received) {
  if (req.path !== '/chat/completions') return embeddingUpstream(req);
  const { question, all } = texts(req.body);
  const email = /\[EMAIL_[0-9A-Z]{8}\]/.exec(question)?.[0] ?? 'nobody';
  const card = /\[CARD_[0-9A-Z]{8}\]/.exec(all)?.[0] ?? 'no card';
  return { kind: 'json' as const, body: chatCompletion([`The refund of ${email} was approved and paid back to card ${card}.`]) };
}

let db: Db;
let up: FakeUpstream;
let gw: Gateway;
let apiKey: string;

beforeAll(async () => {
  db = fromPglite(await PGlite.create({ extensions: { vector } }));
  await db.migrate();
  up = await startFakeUpstream(upstream);
  const keys = createApiKeyStore(db, { cacheTtlMs: 50 });
  const vault = createDbVault({ db, provider: createLocalProvider(randomBytes(32)), crypto: nodeVaultCrypto, timeoutMs: 20_000 });
  const rag = createCollections({ store: createPgVectorStore(db), keyring: vault.keyring, crypto: nodeVaultCrypto });
  const tenant = (await keys.createTenant('recipes')).id;
  apiKey = (await keys.issueKey({ tenantId: tenant, name: 'admin', role: 'admin' })).key;
  gw = await startGateway(up.url, { vault, auth: keys, rag, limits: { maxBodyBytes: 1024 * 1024, streamIdleTimeoutMs: 5_000 } });
}, 120_000);
afterAll(async () => {
  await gw?.close();
  await up?.close();
  await db?.close();
});

function expectNoValueUpstream() {
  const seen = up.allRaw();
  for (const v of [JANE, BOB, CARD, OTHER_CARD, CARD.replace(/ /g, ''), 'jane.roe']) expect(seen).not.toContain(v);
}

describe('recipes (examples/)', () => {
  it('LangChain JS: Veil collection as retriever, ChatOpenAI through Veil; the answer is restored exactly', async () => {
    const opts = { baseURL: gw.url, apiKey, collection: 'support', embeddingModel: 'emb', chatModel: 'gpt-fake', k: 1 };
    await addDocuments(opts, DOCS.map((text, i) => ({ id: `doc-${i}`, text, metadata: { n: i } })));
    const before = up.received.length;
    expect(await answer(opts, QUESTION)).toBe(EXPECTED);
    const chat = up.received.slice(before).filter((r) => r.path === '/chat/completions');
    expect(chat).toHaveLength(1);
    // the model got the retrieved document (with its placeholders) and the sanitized question
    expect(texts(chat[0]!.body).all).toMatch(/Refund for \[EMAIL_[0-9A-Z]{8}\] approved, paid back to card \[CARD_[0-9A-Z]{8}\]\./);
    expectNoValueUpstream();
  });

  it('Vercel AI SDK: sanitize + embedMany through Veil into your own store, generateText through Veil; restored exactly', async () => {
    const opts = { baseURL: gw.url, apiKey, embeddingModel: 'emb', chatModel: 'gpt-fake' };
    const index = await buildIndex(opts, DOCS);
    for (const c of index) for (const v of [JANE, BOB, CARD, OTHER_CARD]) expect(c.text).not.toContain(v);
    expect(await ask(opts, index, QUESTION, 1)).toBe(EXPECTED);
    expectNoValueUpstream();
  });
});
