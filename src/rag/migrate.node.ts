/**
 * Migration of an existing collection from a JSONL export into an encrypted Veil collection
 * (`veil collections migrate`, issue 13). One record per line:
 * `{"id": "…", "text": "…", "metadata": {…}, "embedding": [..]}`. Each batch goes through the
 * same path as `POST /v1/veil/collections/{name}/documents` (text sanitized, PII metadata
 * sealed, blind indexes) and keeps the record's embedding, or re-embeds the sanitized text
 * (`reEmbed`: the safe choice, old vectors can be inverted back to text — README "RAG").
 * Progress (lines done) is persisted in `veil_rag_migrations` (src/rag/migrate.ts) after every
 * batch, so a killed or paused run resumes where it stopped; a batch re-done after a kill replaces the same ids
 * (idempotent). Bounded: one batch in memory at a time, lines over {@link MAX_LINE_CHARS} are
 * refused. Errors name the line number, never its content. Node only (reads a file).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { RequestContext } from '../core/types.js';
import type { Db } from '../db/client.js';
import type { MaskServices } from '../sanitize/sanitize.js';
import type { Collections, Embedder, Metadata } from './collections.js';
import { MigrationError, saveProgress, startProgress, storeBatch, type BatchOptions, type MigrateResult, type SourceDoc } from './migrate.js';

export const MAX_LINE_CHARS = 4 * 1024 * 1024;

const Record_ = z.object({
  id: z.string().min(1).max(256),
  text: z.string().min(1),
  metadata: z.record(z.string().min(1).max(128), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  embedding: z.array(z.number()).min(1).max(16_000).optional(),
});

export interface MigrateOptions extends BatchOptions {
  readonly file: string;
  /** Names this source in the progress table (default: the file path). */
  readonly source?: string;
}

export { MigrationError, migrationProgress, type MigrateResult } from './migrate.js';

async function countLines(file: string): Promise<number> {
  let n = 0;
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim().length > 0) n++;
  return n;
}

export async function migrateJsonl(db: Db, rag: Collections, ctx: RequestContext, mask: MaskServices, upstream: Embedder | null, opts: MigrateOptions): Promise<MigrateResult> {
  const tenant = ctx.principal.tenantId;
  const source = opts.source ?? opts.file;
  if (opts.reEmbed && !upstream) throw new MigrationError('--re-embed needs the upstream embeddings API (VEIL_UPSTREAM_URL and VEIL_UPSTREAM_API_KEY) and --model');
  const total = await countLines(opts.file);
  const startedAt = (await startProgress(db, tenant, opts.collection, source, total)).done;
  opts.onProgress?.(startedAt, total);

  let done = startedAt;
  let batches = 0;
  let lineNo = 0;
  let batch: SourceDoc[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const docs = batch;
    batch = [];
    await storeBatch(rag, ctx, mask, upstream, opts, docs, done + 1);
    done += docs.length;
    batches++;
    await saveProgress(db, tenant, opts.collection, source, done, done >= total, null);
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
  if (done >= total) await saveProgress(db, tenant, opts.collection, source, done, true, null);
  return { startedAt, done, total, batches, paused: done < total };
}
