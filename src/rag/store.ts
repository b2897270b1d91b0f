/**
 * `VectorStore`: the small interface the RAG collections need from a vector database — tenant-
 * scoped upsert, nearest-neighbour query with exact filters, delete — so a Milvus or Qdrant
 * adapter is one file later. {@link createPgVectorStore} implements it on pgvector through the
 * gateway's `Db` (PGlite with `@electric-sql/pglite-pgvector`, or PostgreSQL through `pg`).
 * Every statement is scoped by `tenant_id` (the caller's tenant, never the body's); a batch of
 * chunks is upserted with one statement (per 500), so a batch costs one round trip. Its table
 * is created on first use, not by a drizzle migration: the migrations must keep running on a
 * PostgreSQL without pgvector (collections are optional); there it fails with 503
 * `veil_pgvector_missing`, naming the extension. Cosine distance; one HNSW index per embedding
 * size (partial expression index, pgvector's way to mix sizes in one table; up to 2000 dims,
 * larger embeddings are searched exactly; on PGlite, which has no autovacuum, the table is
 * analyzed as autovacuum would, or the planner never uses the index). What is stored is already
 * sanitized/encrypted by src/rag/collections.ts: this file never sees a PII value.
 */
import type { Db } from '../db/client.js';
import { pgvectorMissing, VeilError, vectorStoreUnavailable } from '../core/errors.js';

export { pgvectorMissing, vectorStoreUnavailable };

export interface StoredChunk {
  readonly id: string;
  /** Sanitized text (placeholders). */
  readonly text: string;
  /** Metadata fields without PII, as given. */
  readonly metadata: Record<string, unknown>;
  /** Encrypted metadata fields (opaque to the store). */
  readonly sealed: Record<string, unknown>;
  /** Blind indexes of encrypted fields (for exact filters). */
  readonly blind: Uint8Array[];
  readonly embedding: readonly number[];
  /** false: imported and not yet sanitized (see `veil collections migrate`). */
  readonly migrated?: boolean;
}

export interface Filter {
  /** Plain metadata fields that must be equal (JSON containment). */
  readonly plain: Record<string, unknown>;
  /** Blind indexes every hit must carry. */
  readonly blind: Uint8Array[];
}

export interface Hit extends Omit<StoredChunk, 'embedding' | 'blind'> {
  /** Cosine distance (0 = same direction). */
  readonly distance: number;
}

export interface VectorStore {
  upsert(tenantId: string, collection: string, chunks: readonly StoredChunk[]): Promise<void>;
  query(tenantId: string, collection: string, embedding: readonly number[], k: number, filter: Filter): Promise<Hit[]>;
  delete(tenantId: string, collection: string, id: string): Promise<boolean>;
}

export const MAX_DIMS = 16_000;
const HNSW_MAX_DIMS = 2_000;
/** Chunks per upsert statement (8 parameters each: far below PostgreSQL's 65,535). */
const UPSERT_ROWS = 500;

const DDL = [
  `create table if not exists veil_rag_chunks (
    tenant_id text not null,
    collection text not null,
    id text not null,
    text text not null,
    metadata jsonb not null default '{}'::jsonb,
    sealed jsonb not null default '{}'::jsonb,
    blind bytea[] not null default '{}',
    dims integer not null,
    embedding vector not null,
    migrated boolean not null default true,
    updated_at timestamptz not null default now(),
    primary key (tenant_id, collection, id))`,
  'create index if not exists veil_rag_chunks_blind on veil_rag_chunks using gin (blind)',
];

const vec = (e: readonly number[]) => `[${e.join(',')}]`;

function isMissingExtension(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  const msg = e instanceof Error ? e.message : '';
  return code === '0A000' || code === '58P01' || /extension "vector" (is not available|does not exist)|could not open extension control file/i.test(msg);
}

export function createPgVectorStore(db: Db): VectorStore {
  let ready: Promise<void> | null = null;
  const indexed = new Map<number, Promise<void>>();

  const ensure = () =>
    (ready ??= (async () => {
      try {
        const have = await db.query<{ n: number }>("select count(*)::int as n from pg_extension where extname = 'vector'", []);
        if (!have[0]?.n) await db.query('create extension if not exists vector', []);
      } catch (e) {
        if (isMissingExtension(e)) throw pgvectorMissing(e);
        throw vectorStoreUnavailable(e);
      }
      for (const s of DDL) await db.query(s, []);
    })().catch((e) => {
      ready = null;
      throw e instanceof VeilError ? e : vectorStoreUnavailable(e);
    }));

  const ensureIndex = (dims: number) => {
    if (dims > HNSW_MAX_DIMS) return Promise.resolve();
    let p = indexed.get(dims);
    if (!p) {
      // `dims` is a validated integer: typmods cannot be parameters
      p = db
        .query(`create index if not exists veil_rag_hnsw_${dims} on veil_rag_chunks using hnsw ((embedding::vector(${dims})) vector_cosine_ops) where dims = ${dims}`, [])
        .then(() => undefined);
      p.catch(() => indexed.delete(dims));
      indexed.set(dims, p);
    }
    return p;
  };

  // PGlite runs no autovacuum: without statistics the planner never uses the HNSW index and
  // every query reads the whole collection. Analyze as autovacuum would (after 50 + 10 % of the
  // rows changed); PostgreSQL's own autovacuum does this there.
  let changed = 0;
  let rowsSeen = 0;
  const maybeAnalyze = async (n: number) => {
    if (db.kind !== 'pglite') return;
    changed += n;
    if (changed < 50 + 0.1 * rowsSeen) return;
    rowsSeen += changed;
    changed = 0;
    await db.query('analyze veil_rag_chunks', []);
  };

  const checkDims = (e: readonly number[]) => {
    const d = e.length;
    if (!Number.isInteger(d) || d < 1 || d > MAX_DIMS || !e.every(Number.isFinite)) throw vectorStoreUnavailable(new Error('bad embedding'));
    return d;
  };

  return {
    async upsert(tenantId, collection, chunks) {
      await ensure();
      // One statement per UPSERT_ROWS chunks (atomic, one round trip); an id given twice in a
      // batch keeps its last version, as one statement may not update a row twice.
      const last = new Map<string, StoredChunk>();
      for (const ch of chunks) {
        last.delete(ch.id);
        last.set(ch.id, ch);
      }
      const rows = [...last.values()];
      const dims = rows.map((ch) => checkDims(ch.embedding));
      for (const d of new Set(dims)) await ensureIndex(d);
      for (let at = 0; at < rows.length; at += UPSERT_ROWS) {
        const part = rows.slice(at, at + UPSERT_ROWS);
        const params: unknown[] = [tenantId, collection];
        const values = part.map((ch, i) => {
          const n = params.length;
          params.push(ch.id, ch.text, JSON.stringify(ch.metadata), JSON.stringify(ch.sealed), ch.blind, dims[at + i], vec(ch.embedding), ch.migrated ?? true);
          return `($1, $2, $${n + 1}, $${n + 2}, $${n + 3}::jsonb, $${n + 4}::jsonb, $${n + 5}::bytea[], $${n + 6}::int, $${n + 7}::vector, $${n + 8}::boolean)`;
        });
        await db.query(
          `insert into veil_rag_chunks (tenant_id, collection, id, text, metadata, sealed, blind, dims, embedding, migrated)
           values ${values.join(', ')}
           on conflict (tenant_id, collection, id) do update set text = excluded.text, metadata = excluded.metadata, sealed = excluded.sealed,
             blind = excluded.blind, dims = excluded.dims, embedding = excluded.embedding, migrated = excluded.migrated, updated_at = now()`,
          params,
        );
      }
      await maybeAnalyze(rows.length);
    },

    async query(tenantId, collection, embedding, k, filter) {
      await ensure();
      const dims = checkDims(embedding);
      // Filters only when given: an empty containment test still costs every scanned row.
      const params: unknown[] = [tenantId, collection, vec(embedding), k];
      let filters = '';
      if (filter.blind.length > 0) {
        params.push(filter.blind);
        filters += ` and blind @> $${params.length}::bytea[]`;
      }
      if (Object.keys(filter.plain).length > 0) {
        params.push(JSON.stringify(filter.plain));
        filters += ` and metadata @> $${params.length}::jsonb`;
      }
      const rows = await db.query<{ id: string; text: string; metadata: Record<string, unknown>; sealed: Record<string, unknown>; migrated: boolean; distance: number }>(
        `select id, text, metadata, sealed, migrated, (embedding::vector(${dims}) <=> $3::vector(${dims}))::float8 as distance
           from veil_rag_chunks
          where tenant_id = $1 and collection = $2 and dims = ${dims}${filters}
          order by embedding::vector(${dims}) <=> $3::vector(${dims})
          limit $4`,
        params,
      );
      return rows.map((r) => ({ id: r.id, text: r.text, metadata: r.metadata, sealed: r.sealed, migrated: r.migrated, distance: Number(r.distance) }));
    },

    async delete(tenantId, collection, id) {
      await ensure();
      const rows = await db.query<{ id: string }>('delete from veil_rag_chunks where tenant_id = $1 and collection = $2 and id = $3 returning id', [tenantId, collection, id]);
      return rows.length > 0;
    },
  };
}
