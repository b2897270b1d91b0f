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
import type { Services } from '../api/app.js';
import { readBody, type BodyLimits } from './body.js';
import { restoreTexts, sanitizeTexts } from './primitives.js';
import type { MaskServices } from '../mask/sanitize.js';

export const RAG_MAX_TEXTS = 2048;
export const RAG_MAX_TEXT_CHARS = 1_000_000;

export const TextsBody = z.object({
  texts: z.array(z.string().max(RAG_MAX_TEXT_CHARS)).min(1).max(RAG_MAX_TEXTS),
});

/** Variables the gateway's middleware sets (src/api/app.ts). */
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

export async function maskServices(services: Services, ctx: RequestContext): Promise<MaskServices> {
  const policy = await services.policyFor(ctx.principal.tenantId);
  return { detector: services.detector, vault: services.vault, policy, detectTimeoutMs: services.limits.detectTimeoutMs ?? 30_000 };
}

export function registerRagRoutes(app: Hono<RagEnv>, services: Services): void {
  const limits = ragLimits(services);
  const log = services.logger;

  app.post('/v1/veil/sanitize', async (c) => {
    const body = await readBody(c, TextsBody, limits, 'sanitize');
    const ctx = ragContext(c);
    const r = await sanitizeTexts(body.texts, await maskServices(services, ctx), ctx);
    log.debug('rag sanitized', { requestId: ctx.requestId, texts: body.texts.length, types: Object.keys(r.counts) });
    return c.json({ object: 'list', data: r.items.map((it, index) => ({ index, text: it.text, entities: it.entities })) });
  });

  app.post('/v1/veil/restore', async (c) => {
    const body = await readBody(c, TextsBody, limits, 'restore');
    const ctx = ragContext(c);
    const out = await restoreTexts(body.texts, await maskServices(services, ctx), ctx);
    log.debug('rag restored', { requestId: ctx.requestId, texts: body.texts.length });
    return c.json({ object: 'list', data: out.map((text, index) => ({ index, text })) });
  });
}
