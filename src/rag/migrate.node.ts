/**
 * Migration of an existing collection from a JSONL export into an encrypted Veil collection
 * (`veil collections migrate`, issue 13). One record per line:
 * `{"id": "…", "text": "…", "metadata": {…}, "embedding": [..]}`. Each batch goes through the
 * same path as `POST /v1/veil/collections/{name}/documents` (text sanitized, PII metadata
 * sealed, blind indexes) and keeps the record's embedding, or re-embeds the sanitized text
 * (`reEmbed`: the safe choice, old vectors can be inverted back to text — README "RAG").
 * Progress (lines done) is persisted in `veil_rag_migrations` after every batch, so a killed or
 * paused run resumes where it stopped; a batch re-done after a kill replaces the same ids
 * (idempotent). Bounded: one batch in memory at a time, lines over {@link MAX_LINE_CHARS} are
 * refused. Errors name the line number, never its content. Node only (reads a file).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { RequestContext } from '../core/types.js';
import type { Db } from '../db/client.js';
import type { MaskServices } from '../sanitize/sanitize.js';
import type { Collections, DocumentIn, Embedder, Metadata } from './collections.js';

export const MAX_LINE_CHARS = 4 * 1024 * 1024;

const Record_ = z.object({
  id: z.string().min(1).max(256),
  text: z.string().min(1),
  metadata: z.record(z.string().min(1).max(128), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  embedding: z.array(z.number()).min(1).max(16_000).optional(),
});

export interface MigrateOptions {
  readonly file: string;
  readonly collection: string;
  /** Names this source in the progress table (default: the file path). */
  readonly source?: string;
  readonly batchSize: number;
  /** Re-embed the sanitized text through `embedder` instead of keeping the record's vector. */
  readonly reEmbed: boolean;
  readonly encryptFields?: readonly string[];
  readonly signal?: AbortSignal;
  /** Called once with the starting point, then after every committed batch. */
  onProgress?(done: number, total: number): void;
}

export interface MigrateResult {
  readonly startedAt: number;
  readonly done: number;
  readonly total: number;
  readonly batches: number;
}

export class MigrationError extends Error {}

async function countLines(file: string): Promise<number> {
  let n = 0;
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim().length > 0) n++;
  return n;
}

async function ensureTable(db: Db): Promise<void> {
  await db.query(
    `create table if not exists veil_rag_migrations (
      tenant_id text not null, collection text not null, source text not null,
      lines_done bigint not null default 0, total bigint not null default 0, finished boolean not null default false,
      updated_at timestamptz not null default now(), primary key (tenant_id, collection, source))`,
    [],
  );
}

export async function migrationProgress(db: Db, tenantId: string, collection: string, source: string): Promise<{ done: number; total: number; finished: boolean } | null> {
  await ensureTable(db);
  const rows = await db.query<{ lines_done: string | number; total: string | number; finished: boolean }>(
    'select lines_done, total, finished from veil_rag_migrations where tenant_id = $1 and collection = $2 and source = $3',
    [tenantId, collection, source],
  );
  return rows[0] ? { done: Number(rows[0].lines_done), total: Number(rows[0].total), finished: rows[0].finished } : null;
}

export async function migrateJsonl(db: Db, rag: Collections, ctx: RequestContext, mask: MaskServices, upstream: Embedder | null, opts: MigrateOptions): Promise<MigrateResult> {
  const tenant = ctx.principal.tenantId;
  const source = opts.source ?? opts.file;
  if (opts.reEmbed && !upstream) throw new MigrationError('--re-embed needs the upstream embeddings API (VEIL_UPSTREAM_BASE_URL and VEIL_UPSTREAM_API_KEY) and --model');
  await ensureTable(db);
  const total = await countLines(opts.file);
  const prev = await migrationProgress(db, tenant, opts.collection, source);
  const startedAt = prev?.done ?? 0;
  await db.query(
    `insert into veil_rag_migrations (tenant_id, collection, source, lines_done, total) values ($1, $2, $3, $4, $5)
     on conflict (tenant_id, collection, source) do update set total = excluded.total, updated_at = now()`,
    [tenant, opts.collection, source, startedAt, total],
  );
  opts.onProgress?.(startedAt, total);

  let done = startedAt;
  let batches = 0;
  let lineNo = 0;
  let batch: (DocumentIn & { embedding?: number[] })[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const docs = batch;
    batch = [];
    const embedder: Embedder = opts.reEmbed
      ? upstream!
      : async () =>
          docs.map((d, i) => {
            if (!d.embedding) throw new MigrationError(`record ${done + i + 1} has no "embedding" (use --re-embed to compute it)`);
            return d.embedding;
          });
    await rag.add(ctx, mask, embedder, opts.collection, docs.map((d) => ({ id: d.id, text: d.text, ...(d.metadata ? { metadata: d.metadata } : {}) })), opts.encryptFields ?? []);
    done += docs.length;
    batches++;
    await db.query('update veil_rag_migrations set lines_done = $4, finished = $5, updated_at = now() where tenant_id = $1 and collection = $2 and source = $3', [tenant, opts.collection, source, done, done >= total]);
    opts.onProgress?.(done, total);
  };

  const rl = createInterface({ input: createReadStream(opts.file, { encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    for await (const line of rl) {
      if (line.trim().length === 0) continue;
      lineNo++;
      if (lineNo <= startedAt) continue;
      if (opts.signal?.aborted) break;
      if (line.length > MAX_LINE_CHARS) throw new MigrationError(`record ${lineNo} is longer than ${MAX_LINE_CHARS} characters`);
      let parsed;
      try {
        parsed = Record_.safeParse(JSON.parse(line));
      } catch {
        throw new MigrationError(`record ${lineNo} is not valid JSON`);
      }
      if (!parsed.success) throw new MigrationError(`record ${lineNo}: ${parsed.error.issues[0]!.path.join('.') || 'record'}: ${parsed.error.issues[0]!.message}`);
      batch.push({ id: parsed.data.id, text: parsed.data.text, ...(parsed.data.metadata ? { metadata: parsed.data.metadata as Metadata } : {}), ...(parsed.data.embedding ? { embedding: parsed.data.embedding } : {}) });
      if (batch.length >= opts.batchSize) await flush();
    }
    if (!opts.signal?.aborted) await flush();
  } finally {
    rl.close();
  }
  if (done >= total) await db.query('update veil_rag_migrations set finished = true where tenant_id = $1 and collection = $2 and source = $3', [tenant, opts.collection, source]);
  return { startedAt, done, total, batches };
}
