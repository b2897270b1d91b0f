/**
 * `POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings`: the gateway's main path.
 * body (limited, parsed) → the tenant's policy → sanitize (detect, tokenize; src/sanitize/sanitize.ts)
 * → the upstream with the sanitized body → restore: a stream event by event
 * (src/restore/stream.ts), a JSON body field by field (src/restore/response.ts). A caller that leaves
 * cancels the upstream call (499, nothing sent).
 */
import type { Context, Hono } from 'hono';
import { isVeilError, upstreamBadResponse } from '../../core/errors.js';
import type { EntityType, Logger } from '../../core/types.js';
import type { Detector } from '../../detect/types.js';
import { restoreChatCompletion, restoreTextCompletion } from '../../restore/response.js';
import { type Endpoint, sanitizeRequest } from '../../sanitize/sanitize.js';
import type { Policy } from '../../policy/index.js';
import type { RestoreAuditor } from '../../audit/restore.js';
import type { Vault } from '../../vault/types.js';
import { type Env, requestContext, upstreamAbort } from '../context.js';
import type { Metrics } from '../metrics.js';
import { readJson } from '../middleware/body.js';
import { completionAsSse, restoreSseStream } from '../../restore/stream.js';
import { ClientAbortedError, mapUpstreamError, passthroughHeaders, type Upstream } from '../upstream.js';

export interface ProxyDeps {
  readonly detector: Detector;
  readonly vault: Vault;
  readonly upstream: Upstream;
  policyFor(tenantId: string): Policy | Promise<Policy>;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Records restores in the audit trail (src/audit/restore.ts); absent with the memory vault. */
  readonly audit?: RestoreAuditor;
  readonly limits: {
    readonly maxBodyBytes: number;
    readonly maxJsonDepth: number;
    readonly streamIdleTimeoutMs: number;
    readonly maxSseEventBytes: number;
    readonly detectTimeoutMs: number;
  };
}

const UPSTREAM_PATH: Record<Endpoint, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
};

function countTotal(counts: Partial<Record<EntityType, number>>): number {
  let n = 0;
  for (const v of Object.values(counts)) n += v ?? 0;
  return n;
}

export function proxyRoutes(app: Hono<Env>, deps: ProxyDeps): void {
  const { log, metrics, limits } = deps;

  async function proxy(c: Context<Env>, endpoint: Endpoint): Promise<Response> {
    const client = deps.upstream.client(c.get('forwardBearer'));
    const body = await readJson(c, limits);
    const controller = upstreamAbort(c);
    const ctx = requestContext(c, controller.signal);
    const policy = await deps.policyFor(ctx.principal.tenantId);
    const t0 = performance.now();
    const s = await sanitizeRequest(
      endpoint,
      body,
      { detector: deps.detector, vault: deps.vault, policy, detectTimeoutMs: limits.detectTimeoutMs, ...(deps.audit ? { audit: deps.audit } : {}) },
      ctx,
    );
    metrics.observeSanitize(performance.now() - t0, s.counts);
    log.debug('sanitized', { requestId: ctx.requestId, entities: countTotal(s.counts), types: Object.keys(s.counts), reused: s.reused });

    const streaming = endpoint !== 'embeddings' && (s.body as { stream?: unknown }).stream === true;
    const format = (s.body as { response_format?: { type?: unknown } }).response_format?.type;
    const jsonContent = format === 'json_object' || format === 'json_schema';
    let response: Response;
    try {
      response = await client.post(UPSTREAM_PATH[endpoint], { body: s.body, signal: controller.signal, stream: streaming }).asResponse();
    } catch (e) {
      const mapped = mapUpstreamError(e);
      if (mapped instanceof ClientAbortedError) return new Response(null, { status: 499 });
      throw mapped;
    }
    if (s.audited) {
      // The restore event was committed while the upstream worked; without it, restore nothing.
      try {
        await s.audited;
      } catch (e) {
        await response.body?.cancel().catch(() => {});
        throw e;
      }
    }
    const headers = passthroughHeaders(response.headers);

    if (streaming && response.body && (response.headers.get('content-type') ?? '').includes('text/event-stream')) {
      const requestId = ctx.requestId;
      const out = restoreSseStream(response.body, s.restorer, {
        idleTimeoutMs: limits.streamIdleTimeoutMs,
        abortUpstream: () => controller.abort(),
        jsonContent,
        maxEventChars: limits.maxSseEventBytes,
        onEnd: (o) => {
          metrics.observeStream(o.status);
          if (o.status !== 'done') log.warn('stream ended early', { requestId, status: o.status, events: o.events });
        },
      });
      return new Response(out, {
        status: 200,
        headers: { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' },
      });
    }

    let json: unknown;
    try {
      json = await response.json();
    } catch (e) {
      const mapped = mapUpstreamError(e);
      if (controller.signal.aborted) return new Response(null, { status: 499 });
      throw isVeilError(mapped) ? mapped : upstreamBadResponse();
    }
    if (endpoint === 'chat') restoreChatCompletion(json, s.restorer, { jsonContent });
    else if (endpoint === 'completions') restoreTextCompletion(json, s.restorer);
    if (streaming) {
      // Asked to stream, the upstream answered one JSON body: restored as above, then sent as
      // the stream the caller's SDK expects (one chunk per choice, then [DONE]). A JSON body
      // sent as is would read as an empty stream to the SDK, with no error.
      log.warn('upstream answered a stream request with JSON', { requestId: ctx.requestId });
      return new Response(completionAsSse(json), {
        status: 200,
        headers: { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
      });
    }
    return c.newResponse(JSON.stringify(json), response.status as 200, { ...headers, 'content-type': 'application/json' });
  }

  app.post('/v1/chat/completions', (c) => proxy(c, 'chat'));
  app.post('/v1/completions', (c) => proxy(c, 'completions'));
  app.post('/v1/embeddings', (c) => proxy(c, 'embeddings'));
}
