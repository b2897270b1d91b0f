/**
 * HTTP routes of the extra client surfaces, registered by createApp after its `/v1/*` auth
 * middleware (so `principal` and `forwardBearer` are set): the OpenAI Responses API here, the
 * Anthropic Messages API in ./messages-route.ts. Each route reads the body under the gateway's
 * limits (src/http/middleware/body.ts), sanitizes with the shared core (sanitizeWith + the
 * surface's slot description), forwards, and restores plain bodies or streams (the one driver,
 * src/restore/stream.ts). Errors are thrown as VeilErrors and rendered by createApp's error handler.
 */
import type { Context, Hono } from 'hono';
import type { Services } from '../http/app.js';
import { DEFAULT_DETECT_TIMEOUT_MS, DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_SSE_EVENT_BYTES } from '../http/app.js';
import { type Env, requestContext, upstreamAbort } from '../http/context.js';
import { readJson } from '../http/middleware/body.js';
import type { Metrics } from '../http/metrics.js';
import { refusePiiInPath } from '../http/routes/models.js';
import { ClientAbortedError, mapUpstreamError, passthroughHeaders } from '../http/upstream.js';
import { isVeilError, upstreamBadResponse, vaultUnavailable } from '../core/errors.js';
import type { RequestContext } from '../core/types.js';
import { Restorer } from '../restore/restorer.js';
import { type EventRestorer, restoreEventStream } from '../restore/stream.js';
import { type JsonObject, type SanitizeResult, type SlotCollector, sanitizeWith } from '../sanitize/sanitize.js';
import { findPlaceholders, tokenType } from '../core/token.js';
import { maskValue, type Policy, restoreAction } from '../policy/index.js';
import type { Token } from '../vault/types.js';
import { createRestoreAuditor } from '../audit/restore.js';
import { registerMessages } from './messages-route.js';
import { collectResponsesSlots, jsonOutput, ResponsesStream, restoreResponseObject } from './responses.js';

/** A surface request once read and sanitized: what the route forwards and restores with. */
export interface Sanitized {
  readonly s: SanitizeResult<unknown>;
  /** Fired when the caller leaves; aborts the upstream call. */
  readonly controller: AbortController;
  readonly ctx: RequestContext;
}

export interface SurfaceKit {
  readonly services: Services;
  /** Reads the body under the gateway's limits and sanitizes it with the surface's slot description. */
  sanitize(c: Context<Env>, collect: (body: JsonObject) => SlotCollector, endpoint: string): Promise<Sanitized>;
  /** The upstream's SSE body restored through `restoration`, with the gateway's stream limits, metrics and logs. */
  restoredStream(body: ReadableStream<Uint8Array>, restoration: EventRestorer, req: Sanitized): ReadableStream<Uint8Array>;
  /** A Restorer for the strict placeholders in `root` that belong to the caller's tenant, per role. */
  restorerForStored(ctx: RequestContext, policy: Policy, root: unknown): Promise<Restorer>;
}

export function surfaceKit(services: Services, metrics: Metrics): SurfaceKit {
  // the audit trail (src/audit) when the gateway has one: restore events as on the chat paths
  const audit = services.compliance ? createRestoreAuditor(services.compliance.audit, services.compliance.known) : undefined;
  const { limits, logger: log } = services;
  return {
    services,
    async sanitize(c, collect, endpoint) {
      const body = await readJson(c, { maxBodyBytes: limits.maxBodyBytes, maxJsonDepth: limits.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH });
      const controller = upstreamAbort(c);
      const ctx = requestContext(c, controller.signal);
      const policy = await services.policyFor(ctx.principal.tenantId);
      const t0 = performance.now();
      const mask = { detector: services.detector, vault: services.vault, policy, detectTimeoutMs: limits.detectTimeoutMs ?? DEFAULT_DETECT_TIMEOUT_MS, ...(audit ? { audit } : {}) };
      const s = await sanitizeWith(collect, body, mask, ctx, endpoint);
      metrics.observeSanitize(performance.now() - t0, s.counts);
      return { s, controller, ctx };
    },
    restoredStream(body, restoration, { controller, ctx }) {
      const requestId = ctx.requestId;
      return restoreEventStream(body, restoration, {
        idleTimeoutMs: limits.streamIdleTimeoutMs,
        abortUpstream: () => controller.abort(),
        maxEventChars: limits.maxSseEventBytes ?? DEFAULT_MAX_SSE_EVENT_BYTES,
        onEnd: (o) => {
          metrics.observeStream(o.status);
          if (o.status !== 'done') log.warn('stream ended early', { requestId, status: o.status, events: o.events });
        },
      });
    },
    async restorerForStored(ctx, policy, root) {
      const tokens = new Set<Token>();
      const walk = (v: unknown, depth: number) => {
        if (depth > 128) return;
        if (typeof v === 'string') for (const p of findPlaceholders(v)) tokens.add(p.token);
        else if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
        else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) walk(x, depth + 1);
      };
      walk(root, 0);
      if (tokens.size === 0) return new Restorer(new Map());
      // stored values are decrypted only once the restore event is committed
      if (audit) await audit({ ctx, endpoint: 'responses.stored', policy, minted: [], presented: [...tokens] });
      // placeholders the role may not see are never decrypted (they stay placeholders)
      const visible = [...tokens].filter((t) => restoreAction(policy, ctx.principal.role, tokenType(t)) !== 'placeholder');
      if (visible.length === 0) return new Restorer(new Map());
      let values: Map<Token, string>;
      try {
        // tenant-scoped: another tenant's tokens do not resolve and stay placeholders
        values = await services.vault.resolve(ctx, visible);
      } catch (e) {
        throw isVeilError(e) ? e : vaultUnavailable(e);
      }
      const display = new Map<Token, string>();
      for (const [token, value] of values) {
        const type = tokenType(token);
        const action = restoreAction(policy, ctx.principal.role, type);
        if (action === 'value') display.set(token, value);
        else if (action === 'masked') display.set(token, maskValue(type, value));
      }
      return new Restorer(display);
    },
  };
}

export const STREAM_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };

async function upstreamJson(response: Response, controller: AbortController): Promise<unknown | 'aborted'> {
  try {
    return await response.json();
  } catch (e) {
    const mapped = mapUpstreamError(e);
    if (controller.signal.aborted) return 'aborted';
    throw isVeilError(mapped) ? mapped : upstreamBadResponse();
  }
}

/** With an audit trail: the restore event must be committed before anything is restored. */
export async function awaitAudit(audited: Promise<void> | undefined, response: Response): Promise<void> {
  if (!audited) return;
  try {
    await audited;
  } catch (e) {
    await response.body?.cancel().catch(() => {});
    throw e;
  }
}

/** Registers `/v1/responses` (and, from ./messages-route.ts, `/v1/messages`) on the gateway app. */
export function registerSurfaces(app: Hono<Env>, services: Services, metrics: Metrics): void {
  const kit = surfaceKit(services, metrics);

  app.post('/v1/responses', async (c) => {
    const client = services.upstream.client(c.get('forwardBearer'));
    const req = await kit.sanitize(c, collectResponsesSlots, 'responses');
    const { s, controller } = req;
    const streaming = (s.body as { stream?: unknown }).stream === true;
    const structured = jsonOutput(s.body);
    let response: Response;
    try {
      response = await client.post('/responses', { body: s.body as Record<string, unknown>, signal: controller.signal, stream: streaming }).asResponse();
    } catch (e) {
      const mapped = mapUpstreamError(e);
      if (mapped instanceof ClientAbortedError) return new Response(null, { status: 499 });
      throw mapped;
    }
    await awaitAudit(s.audited, response);
    const headers = passthroughHeaders(response.headers);
    if (streaming && response.body && (response.headers.get('content-type') ?? '').includes('text/event-stream')) {
      const out = kit.restoredStream(response.body, new ResponsesStream(s.restorer, structured), req);
      return new Response(out, { status: 200, headers: { ...headers, ...STREAM_HEADERS } });
    }
    const json = await upstreamJson(response, controller);
    if (json === 'aborted') return new Response(null, { status: 499 });
    restoreResponseObject(json, s.restorer, structured);
    return c.newResponse(JSON.stringify(json), response.status as 200, { ...headers, 'content-type': 'application/json' });
  });

  // Stored responses: the upstream holds only sanitized text; placeholders of the caller's
  // tenant are restored as the caller's role may see them, any other text passes as stored.
  const stored = (method: 'get' | 'post' | 'delete', suffix: string) => async (c: Context<Env>) => {
    const id = c.req.param('id') ?? '';
    const client = services.upstream.client(c.get('forwardBearer'));
    const controller = upstreamAbort(c);
    const ctx = requestContext(c, controller.signal);
    const policy = await services.policyFor(ctx.principal.tenantId);
    await refusePiiInPath(services.detector, policy, id, ctx.signal);
    const query = new URL(c.req.url).search;
    const path = `/responses/${encodeURIComponent(id)}${suffix}`;
    let response: Response;
    try {
      const opts = { signal: controller.signal, ...(query ? { query: Object.fromEntries(new URLSearchParams(query)) } : {}) };
      response = await (method === 'get' ? client.get(path, opts) : method === 'post' ? client.post(path, opts) : client.delete(path, opts)).asResponse();
    } catch (e) {
      const mapped = mapUpstreamError(e);
      if (mapped instanceof ClientAbortedError) return new Response(null, { status: 499 });
      throw mapped;
    }
    const json = await upstreamJson(response, controller);
    if (json === 'aborted') return new Response(null, { status: 499 });
    const r = await kit.restorerForStored(ctx, policy, json);
    restoreResponseObject(json, r);
    return c.newResponse(JSON.stringify(json), response.status as 200, { ...passthroughHeaders(response.headers), 'content-type': 'application/json' });
  };
  app.get('/v1/responses/:id', stored('get', ''));
  app.delete('/v1/responses/:id', stored('delete', ''));
  app.post('/v1/responses/:id/cancel', stored('post', '/cancel'));
  app.get('/v1/responses/:id/input_items', stored('get', '/input_items'));

  registerMessages(app, kit);
}
