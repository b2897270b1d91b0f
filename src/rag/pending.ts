/**
 * Chunks not yet migrated (issue 13): while `veil collections migrate --from-table` runs (or is
 * paused), the source pgvector table it reads from is registered in `veil_rag_migrations`
 * (`source_table` set, `finished` false), and a collection query also searches it for the rows
 * whose id is not yet in `veil_rag_chunks` — so a query sees every chunk exactly once, migrated or
 * not. Those rows come back raw (`migrated: false`): src/rag/collections.ts sanitizes their text
 * and metadata before anything leaves. Only sources in Veil's own database can be read here.
 *
 * Table and column names come from the operator's command line, are checked against
 * {@link IDENT} and always quoted. The list of active sources is cached per tenant and
 * collection for {@link SOURCES_TTL_MS}, so a migration started less than that ago may be missed
 * by a query for that long (never a duplicate: migrated ids are excluded in SQL). A source that
 * cannot be read (dropped, no privilege) fails the query with 503 `veil_vector_store_unavailable`.
 */
import { LRUCache } from 'lru-cache';
import type { Db } from '../db/client.js';
import { vectorStoreUnavailable } from '../core/errors.js';
import type { Hit } from './store.js';

/** `name` or `schema.name`: letters, digits, `_`, not starting with a digit. */
export const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
export const SOURCES_TTL_MS = 1_000;

export interface TableSource {
  readonly table: string;
  readonly idCol: string;
  readonly textCol: string;
  readonly metadataCol?: string | null | undefined;
  readonly embeddingCol: string;
}

export function validIdent(name: string): boolean {
  return IDENT.test(name);
}

export function validTable(name: string): boolean {
  const parts = name.split('.');
  return parts.length <= 2 && parts.every(validIdent);
}

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
export const quoteTable = (name: string) => name.split('.').map(quoteIdent).join('.');

/** Source metadata as collections store it: flat scalars; nested values become their JSON text. */
export function flatMetadata(m: unknown): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  if (!m || typeof m !== 'object' || Array.isArray(m)) return out;
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
    out[k] = v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
  }
  return out;
}

export interface PendingReader {
  /** Nearest not-yet-migrated rows of the collection's active table sources (raw, `migrated: false`). */
  nearest(tenantId: string, collection: string, embedding: readonly number[], k: number, filter?: Record<string, unknown>): Promise<Hit[]>;
}

export function createPendingReader(db: Db): PendingReader {
  const cache = new LRUCache<string, TableSource[]>({ max: 10_000, ttl: SOURCES_TTL_MS });

  async function sources(tenantId: string, collection: string): Promise<TableSource[]> {
    const key = `${tenantId}\u0000${collection}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const rows = await db.query<{ source_table: string; id_col: string; text_col: string; metadata_col: string | null; embedding_col: string }>(
      'select source_table, id_col, text_col, metadata_col, embedding_col from veil_rag_migrations where tenant_id = $1 and collection = $2 and finished = false and source_table is not null',
      [tenantId, collection],
    );
    const list = rows
      .map((r) => ({ table: r.source_table, idCol: r.id_col, textCol: r.text_col, metadataCol: r.metadata_col, embeddingCol: r.embedding_col }))
      .filter((s) => validTable(s.table) && [s.idCol, s.textCol, s.embeddingCol].every(validIdent) && (!s.metadataCol || validIdent(s.metadataCol)));
    cache.set(key, list);
    return list;
  }

  return {
    async nearest(tenantId, collection, embedding, k, filter) {
      const list = await sources(tenantId, collection);
      if (list.length === 0) return [];
      const dims = embedding.length;
      const out: Hit[] = [];
      for (const s of list) {
        const filtered = filter && Object.keys(filter).length > 0;
        if (filtered && !s.metadataCol) continue;
        const id = `s.${quoteIdent(s.idCol)}`;
        const emb = `s.${quoteIdent(s.embeddingCol)}::vector`;
        const meta = s.metadataCol ? `s.${quoteIdent(s.metadataCol)}::jsonb` : `'{}'::jsonb`;
        // `dims` is the length of a validated embedding: typmods cannot be parameters
        // a source that cannot be read fails the query (503): never a silently partial answer
        const rows = await db.query<{ id: string; text: string | null; metadata: unknown; distance: number }>(
          `select ${id}::text as id, ${`s.${quoteIdent(s.textCol)}`}::text as text, ${meta} as metadata, (${emb} <=> $1::vector)::float8 as distance
             from ${quoteTable(s.table)} s
            where vector_dims(${emb}) = ${Number(dims) | 0}
              and not exists (select 1 from veil_rag_chunks c where c.tenant_id = $2 and c.collection = $3 and c.id = ${id}::text)
              ${filtered ? `and ${meta} @> $5::jsonb` : ''}
            order by ${emb} <=> $1::vector
            limit $4`,
          [`[${embedding.join(',')}]`, tenantId, collection, k, ...(filtered ? [JSON.stringify(filter)] : [])],
        ).catch((e: unknown) => {
          throw vectorStoreUnavailable(e);
        });
        for (const r of rows) out.push({ id: r.id, text: r.text ?? '', metadata: flatMetadata(r.metadata), sealed: {}, migrated: false, distance: Number(r.distance) });
      }
      return out.sort((a, b) => a.distance - b.distance).slice(0, k);
    },
  };
}
