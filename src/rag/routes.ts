/**
 * HTTP routes of the RAG path, registered by `createApp` behind its /v1 authentication:
 * - `POST /v1/veil/sanitize` `{"texts": [...]}` → `{"object":"list","data":[{"index","text","entities":[{type,placeholder,start,end}]}]}`
 * - `POST /v1/veil/restore`  `{"texts": [...]}` → `{"object":"list","data":[{"index","text"}]}`
 * Bounded: at most {@link RAG_MAX_TEXTS} texts of at most {@link RAG_MAX_TEXT_CHARS} characters,
 * inside the gateway's body limit. Errors are OpenAI-shaped (src/core/errors.ts); logs carry ids,
 * counts and types only.
 */
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { Principal, RequestContext } from '../core/types.js';
import type { Services } from '../http/app.js';
import { createRestoreAuditor } from '../audit/restore.js';
import { parseWith, readJson, type BodyLimits } from '../http/middleware/body.js';
import { badCollection, notFound, piiInId } from '../core/errors.js';
import { restoreTexts, sanitizeTexts } from './primitives.js';
import type { MaskServices } from '../sanitize/sanitize.js';
import { embed, type Metadata } from './collections.js';

export const RAG_MAX_TEXTS = 2048;
export const RAG_MAX_TEXT_CHARS = 1_000_000;

export const RAG_MAX_DOCUMENTS = 256;
export const RAG_MAX_K = 100;
const COLLECTION = /^[A-Za-z0-9_.-]{1,64}$/;
const metaValue = z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]);
const metadata = z.record(z.string().min(1).max(128), metaValue).refine((m) => Object.keys(m).length <= 64, 'at most 64 fields');

export const DocumentsBody = z.object({
  model: z.string().min(1).max(256),
  documents: z
    .array(z.object({ id: z.string().min(1).max(256), text: z.string().min(1).max(RAG_MAX_TEXT_CHARS), metadata: metadata.optional() }))
    .min(1)
    .max(RAG_MAX_DOCUMENTS)
    .refine((ds) => new Set(ds.map((d) => d.id)).size === ds.length, 'document ids must be unique'),
  encrypt_fields: z.array(z.string().min(1).max(128)).max(64).optional(),
});

export const QueryBody = z.object({
  model: z.string().min(1).max(256),
  query: z.string().min(1).max(RAG_MAX_TEXT_CHARS),
  k: z.number().int().min(1).max(RAG_MAX_K).default(10),
  filter: metadata.optional(),
  restore: z.boolean().default(false),
});

export const TextsBody = z.object({
  texts: z.array(z.string().max(RAG_MAX_TEXT_CHARS)).min(1).max(RAG_MAX_TEXTS),
});

/** Variables the gateway's middleware sets (src/http/app.ts). */
export type RagEnv = { Variables: { requestId: string; principal: Principal; forwardBearer: string | null } };

export function ragLimits(services: Services): BodyLimits {
  return { maxBodyBytes: services.limits.maxBodyBytes, maxJsonDepth: services.limits.maxJsonDepth ?? 64 };
}

/** The request's context; its signal fires when the caller goes away. */
export function ragContext(c: Context<RagEnv>): RequestContext {
  const purpose = c.req.header('x-veil-purpose');
  return {
    principal: c.get('principal'),
    requestId: c.get('requestId'),
    signal: c.req.raw.signal,
    ...(purpose ? { purpose: purpose.slice(0, 200) } : {}),
  };
}

/**
 * The masking services of one request, with the same restore auditor as chat (src/audit) when
 * the gateway has an audit trail: every restore through these routes is audited before
 * anything is decrypted.
 */
export async function maskServices(services: Services, ctx: RequestContext): Promise<MaskServices> {
  const policy = await services.policyFor(ctx.principal.tenantId);
  const audit = services.compliance ? createRestoreAuditor(services.compliance.audit, services.compliance.known) : undefined;
  return { detector: services.detector, vault: services.vault, policy, detectTimeoutMs: services.limits.detectTimeoutMs ?? 30_000, ...(audit ? { audit } : {}) };
}

export function registerRagRoutes(app: Hono<RagEnv>, services: Services): void {
  const limits = ragLimits(services);
  const log = services.logger;

  app.post('/v1/veil/sanitize', async (c) => {
    const body = parseWith(TextsBody, await readJson(c, limits), 'sanitize');
    const ctx = ragContext(c);
    const r = await sanitizeTexts(body.texts, await maskServices(services, ctx), ctx);
    log.debug('rag sanitized', { requestId: ctx.requestId, texts: body.texts.length, types: Object.keys(r.counts) });
    return c.json({ object: 'list', data: r.items.map((it, index) => ({ index, text: it.text, entities: it.entities })) });
  });

  app.post('/v1/veil/restore', async (c) => {
    const body = parseWith(TextsBody, await readJson(c, limits), 'restore');
    const ctx = ragContext(c);
    const out = await restoreTexts(body.texts, await maskServices(services, ctx), ctx);
    log.debug('rag restored', { requestId: ctx.requestId, texts: body.texts.length });
    return c.json({ object: 'list', data: out.map((text, index) => ({ index, text })) });
  });

  const rag = services.rag;
  if (!rag) return;
  const collectionOf = (c: Context<RagEnv>) => {
    const name = c.req.param('name') ?? '';
    if (!COLLECTION.test(name)) throw badCollection();
    return name;
  };
  /** Document ids are stored as given: one holding a validated identifier (email, card…) is refused. */
  const refusePiiIds = async (ids: string[], mask: MaskServices, signal: AbortSignal) => {
    const spans = await services.detector.detect(ids, signal);
    if (spans.some((ss) => ss.some((sp) => sp.source === 'pattern'))) {
      throw piiInId();
    }
    void mask;
  };

  app.post('/v1/veil/collections/:name/documents', async (c) => {
    const collection = collectionOf(c);
    const body = parseWith(DocumentsBody, await readJson(c, limits), 'documents');
    const ctx = ragContext(c);
    const mask = await maskServices(services, ctx);
    await refusePiiIds(body.documents.map((d) => d.id), mask, c.req.raw.signal);
    const client = services.upstream.client(c.get('forwardBearer'));
    const r = await rag.add(ctx, mask, (t) => embed(client, body.model, t, ctx.signal), collection, body.documents.map((d) => ({ id: d.id, text: d.text, ...(d.metadata ? { metadata: d.metadata as Metadata } : {}) })), body.encrypt_fields ?? []);
    log.debug('rag documents stored', { requestId: ctx.requestId, documents: r.ids.length, entities: r.entities, sealed: r.sealed });
    return c.json({ object: 'list', data: r.ids.map((id) => ({ id, stored: true })) });
  });

  app.post('/v1/veil/collections/:name/query', async (c) => {
    const collection = collectionOf(c);
    const body = parseWith(QueryBody, await readJson(c, limits), 'query');
    const ctx = ragContext(c);
    const mask = await maskServices(services, ctx);
    const client = services.upstream.client(c.get('forwardBearer'));
    const results = await rag.query(ctx, mask, client, body.model, collection, { query: body.query, k: body.k, restore: body.restore, ...(body.filter ? { filter: body.filter as Metadata } : {}) });
    log.debug('rag query', { requestId: ctx.requestId, hits: results.length, restore: body.restore });
    return c.json({ object: 'list', data: results });
  });

  app.delete('/v1/veil/collections/:name/documents/:id', async (c) => {
    const collection = collectionOf(c);
    const ctx = ragContext(c);
    const id = c.req.param('id');
    if (!(await rag.delete(ctx, collection, id))) throw notFound('No document with this id in this collection.');
    return c.json({ id, deleted: true });
  });
}
