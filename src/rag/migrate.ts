/**
 * Migration of an existing collection into an encrypted Veil collection (`veil collections
 * migrate`, issue 13): the progress table shared by both sources, and the pgvector-table source.
 *
 * Progress lives in `veil_rag_migrations` (drizzle/0007_rag_migrations.sql), one row per tenant,
 * collection and source, updated after every committed batch, so a killed or paused run resumes
 * where it stopped; a batch redone after a kill replaces the same ids (idempotent).
 *
 * {@link migrateTable}: reads `id`, `text`, `metadata` (jsonb, optional) and `embedding` (pgvector)
 * columns of a table in Veil's own database in id order (`id::text`, C collation), `batchSize`
 * rows at a time after the last migrated id, and stores each batch through the same path as
 * `POST /v1/veil/collections/{name}/documents` (text sanitized, PII metadata sealed, blind
 * indexes), keeping the row's vector or re-embedding the sanitized text (`reEmbed`). Nested
 * metadata values are stored as their JSON text. While it runs (and while paused) the table is
 * registered as the collection's pending source: queries also return its not-yet-migrated rows,
 * sanitized (src/rag/pending.ts). The source table is only read. Errors name the row's position,
 * never its content. Workers-safe (database only).
 */
import type { RequestContext } from '../core/types.js';
import type { Db } from '../db/client.js';
import type { MaskServices } from '../sanitize/sanitize.js';
import type { Collections, DocumentIn, Embedder } from './collections.js';
import { flatMetadata, quoteIdent, quoteTable, validIdent, validTable, type TableSource } from './pending.js';

export class MigrationError extends Error {}

export interface Progress {
  readonly done: number;
  readonly total: number;
  readonly finished: boolean;
  readonly lastId: string | null;
}

export interface MigrateResult {
  readonly startedAt: number;
  readonly done: number;
  readonly total: number;
  readonly batches: number;
  /** True when the run stopped on its signal before the end (run again to resume). */
  readonly paused: boolean;
}

export interface BatchOptions {
  readonly collection: string;
  readonly batchSize: number;
  /** Re-embed the sanitized text through the upstream instead of keeping the source's vector. */
  readonly reEmbed: boolean;
  readonly encryptFields?: readonly string[];
  /** Stops after the batch in progress (pause); run again to resume. */
  readonly signal?: AbortSignal;
  /** Called once with the starting point, then after every committed batch. */
  onProgress?(done: number, total: number): void;
}

export type SourceDoc = DocumentIn & { readonly embedding?: readonly number[] | null };

export async function migrationProgress(db: Db, tenantId: string, collection: string, source: string): Promise<Progress | null> {
  const rows = await db.query<{ lines_done: string | number; total: string | number; finished: boolean; last_id: string | null }>(
    'select lines_done, total, finished, last_id from veil_rag_migrations where tenant_id = $1 and collection = $2 and source = $3',
    [tenantId, collection, source],
  );
  const r = rows[0];
  return r ? { done: Number(r.lines_done), total: Number(r.total), finished: r.finished, lastId: r.last_id } : null;
}

/** Registers (or re-opens) a migration; returns where it stands. */
export async function startProgress(db: Db, tenantId: string, collection: string, source: string, total: number, table?: TableSource): Promise<Progress> {
  await db.query(
    `insert into veil_rag_migrations (tenant_id, collection, source, total, source_table, id_col, text_col, metadata_col, embedding_col)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     on conflict (tenant_id, collection, source) do update set total = excluded.total, finished = veil_rag_migrations.finished and veil_rag_migrations.lines_done >= excluded.total, updated_at = now()`,
    [tenantId, collection, source, total, table?.table ?? null, table?.idCol ?? null, table?.textCol ?? null, table?.metadataCol ?? null, table?.embeddingCol ?? null],
  );
  return (await migrationProgress(db, tenantId, collection, source))!;
}

export async function saveProgress(db: Db, tenantId: string, collection: string, source: string, done: number, finished: boolean, lastId: string | null): Promise<void> {
  await db.query('update veil_rag_migrations set lines_done = $4, finished = $5, last_id = $6, updated_at = now() where tenant_id = $1 and collection = $2 and source = $3', [
    tenantId,
    collection,
    source,
    done,
    finished,
    lastId,
  ]);
}

/** Stores one batch through the collections path; `first` is the 1-based position of its first record. */
export async function storeBatch(rag: Collections, ctx: RequestContext, mask: MaskServices, upstream: Embedder | null, opts: BatchOptions, docs: readonly SourceDoc[], first: number): Promise<void> {
  const embedder: Embedder = opts.reEmbed
    ? upstream!
    : async () =>
        docs.map((d, i) => {
          if (!d.embedding) throw new MigrationError(`record ${first + i} has no embedding (use --re-embed to compute it)`);
          return [...d.embedding];
        });
  await rag.add(ctx, mask, embedder, opts.collection, docs.map((d) => ({ id: d.id, text: d.text, ...(d.metadata ? { metadata: d.metadata } : {}) })), opts.encryptFields ?? []);
}

export function checkTableSource(s: TableSource): void {
  if (!validTable(s.table)) throw new MigrationError('--from-table must be a table name (letters, digits, "_"; optionally schema.table)');
  for (const [flag, c] of [['--id-col', s.idCol], ['--text-col', s.textCol], ['--embedding-col', s.embeddingCol], ['--metadata-col', s.metadataCol ?? 'x']] as const) {
    if (!validIdent(c)) throw new MigrationError(`${flag} must be a column name (letters, digits, "_")`);
  }
}

export async function migrateTable(db: Db, rag: Collections, ctx: RequestContext, mask: MaskServices, upstream: Embedder | null, src: TableSource, opts: BatchOptions): Promise<MigrateResult> {
  checkTableSource(src);
  if (opts.reEmbed && !upstream) throw new MigrationError('--re-embed needs the upstream embeddings API (VEIL_UPSTREAM_URL and VEIL_UPSTREAM_API_KEY) and --model');
  const tenant = ctx.principal.tenantId;
  const source = `table:${src.table}`;
  const t = quoteTable(src.table);
  const id = quoteIdent(src.idCol);
  let total: number;
  try {
    total = Number((await db.query<{ n: string | number }>(`select count(*) as n from ${t}`, []))[0]!.n);
  } catch (e) {
    throw new MigrationError(`cannot read table ${src.table}: ${(e as Error).message}`);
  }
  const start = await startProgress(db, tenant, opts.collection, source, total, src);
  opts.onProgress?.(start.done, total);
  let done = start.done;
  let lastId = start.lastId;
  let batches = 0;
  const select = `select ${id}::text as id, ${quoteIdent(src.textCol)}::text as text,
      ${src.metadataCol ? `${quoteIdent(src.metadataCol)}::jsonb` : 'null::jsonb'} as metadata,
      ${opts.reEmbed ? 'null::real[]' : `${quoteIdent(src.embeddingCol)}::real[]`} as embedding
    from ${t} where $1::text is null or ${id}::text collate "C" > $1::text collate "C"
    order by ${id}::text collate "C" limit $2`;
  for (;;) {
    if (opts.signal?.aborted) return { startedAt: start.done, done, total, batches, paused: true };
    const rows = await db.query<{ id: string | null; text: string | null; metadata: unknown; embedding: number[] | null }>(select, [lastId, opts.batchSize]);
    if (rows.length === 0) break;
    const docs: SourceDoc[] = rows.map((r, i) => {
      if (r.id === null) throw new MigrationError(`row ${done + i + 1} has no id`);
      const md = flatMetadata(r.metadata);
      return { id: r.id, text: r.text ?? '', ...(Object.keys(md).length > 0 ? { metadata: md } : {}), embedding: r.embedding };
    });
    await storeBatch(rag, ctx, mask, upstream, opts, docs, done + 1);
    done += docs.length;
    lastId = docs.at(-1)!.id;
    batches++;
    await saveProgress(db, tenant, opts.collection, source, done, false, lastId);
    opts.onProgress?.(done, Math.max(total, done));
  }
  await saveProgress(db, tenant, opts.collection, source, done, true, lastId);
  return { startedAt: start.done, done, total: Math.max(total, done), batches, paused: false };
}
