import { Hono, type Context } from 'hono';
import type { AuthResult, Authenticator } from '../auth/types.js';
import type { Config } from '../core/config.js';
import { badRequest, detectionUnavailable, forbidden, internalError, isVeilError, NotReadyError, payloadTooLarge, piiInPath, tooDeep, unauthorized, VeilError } from '../core/errors.js';
import { jsonDeeperThan } from '../core/json-depth.js';
import type { EntityType, Logger, Principal, RequestContext } from '../core/types.js';
import type { Detector } from '../detect/types.js';
import { restoreChatCompletion, restoreTextCompletion } from '../mask/response.js';
import { type Endpoint, sanitizeRequest } from '../mask/sanitize.js';
import { type Policy, shouldMask } from '../policy/index.js';
import type { Vault } from '../vault/types.js';
import { anthropicErrors, type AnthropicUpstreamOptions } from '../surfaces/messages-route.js';
import { registerSurfaces } from '../surfaces/routes.js';
import { registerRagRoutes } from '../rag/routes.js';
import { createMetrics, type Metrics, routePattern } from './metrics.js';
import { completionAsSse, restoreSseStream } from './stream.js';
import { ClientAbortedError, connectionFailure, mapUpstreamError, passthroughHeaders, type Upstream } from './upstream.js';
import { createRestoreAuditor } from '../audit/restore.js';
import type { Compliance } from '../compliance/index.js';
import { registerRevealRoute } from './reveal.js';
import { registerEraseRoute } from './erase.js';

/** Everything the HTTP layer needs, built by the runtime entry (src/node/services.node.ts on Node). */
export interface Services {
  readonly detector: Detector;
  readonly vault: Vault;
  readonly auth: Authenticator;
  readonly upstream: Upstream;
  /** The tenant's policy (sensitivity, masking, what each role sees). */
  policyFor(tenantId: string): Policy | Promise<Policy>;
  readonly logger: Logger;
  readonly limits: {
    readonly maxBodyBytes: number;
    readonly streamIdleTimeoutMs: number;
    /** Deepest JSON nesting accepted in a request body (default 64). */
    readonly maxJsonDepth?: number;
    /** Largest single SSE event accepted from the upstream (default 16 MiB). */
    readonly maxSseEventBytes?: number;
    /** Per-request detection deadline (default 30 s); past it 503 veil_detection_timeout. */
    readonly detectTimeoutMs?: number;
  };
  readonly metrics?: Metrics;
  /** Audit trail, reveal and erasure (src/audit, src/compliance); absent with the memory vault. */
  readonly compliance?: Compliance;
  /** The Anthropic Messages upstream (`VEIL_ANTHROPIC_UPSTREAM_*`); default https://api.anthropic.com, caller's key. */
  readonly anthropic?: AnthropicUpstreamOptions;
  /** Extra readiness checks (database, model) for /readyz. */
  ready?(): Promise<void>;
  /**
   * Who may read GET /metrics (`VEIL_METRICS`): `admin` (default) an admin-role API key, or anyone
   * in open mode (no keys exist); `public` anyone; `off` nobody (404).
   */
  readonly metricsAccess?: MetricsAccess;
  /** Encrypted RAG collections (src/rag); absent without a database vault. */
  readonly rag?: import('../rag/collections.js').Collections;
}

export type MetricsAccess = 'admin' | 'public' | 'off';

export const DEFAULT_MAX_JSON_DEPTH = 64;
export const DEFAULT_DETECT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_SSE_EVENT_BYTES = 16 * 1024 * 1024;

/** Request limits as configured by the environment. */
export function limitsFromConfig(config: Config): Services['limits'] {
  return {
    maxBodyBytes: config.VEIL_MAX_BODY_BYTES,
    streamIdleTimeoutMs: config.VEIL_STREAM_IDLE_TIMEOUT_MS,
    maxJsonDepth: config.VEIL_MAX_JSON_DEPTH,
    maxSseEventBytes: config.VEIL_MAX_SSE_EVENT_BYTES,
    detectTimeoutMs: config.VEIL_DETECT_TIMEOUT_MS,
  };
}

type Env = {
  Variables: {
    requestId: string;
    principal: Principal;
    /** The caller's bearer token, only in open mode (forwarded upstream when no upstream key is set). */
    forwardBearer: string | null;
  };
};

const UPSTREAM_PATH: Record<Endpoint, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
};

function newRequestId(): string {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return `req_${[...b].map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

function errorResponse(c: Context, err: VeilError): Response {
  const headers: Record<string, string> = { ...err.headers, 'content-type': 'application/json' };
  if (err.retryable === false) headers['x-should-retry'] = 'false';
  // The rest of an oversized body is not read: close the connection so it cannot be reused mid-upload.
  if (err.status === 413) headers.connection = 'close';
  return c.newResponse(JSON.stringify(err.toBody()), err.status as 400, headers);
}

function bearerOf(c: Context): string | null {
  const h = c.req.header('authorization');
  if (!h) return c.req.header('x-api-key')?.trim() || null; // the header Anthropic's SDK sends
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1]!.trim() : null;
}

function deniedError(reason: Extract<AuthResult, { kind: 'denied' }>['reason']): VeilError {
  return unauthorized(
    reason === 'missing'
      ? 'Missing Veil API key: send "Authorization: Bearer vk_…".'
      : reason === 'revoked'
        ? 'This Veil API key has been revoked.'
        : 'Invalid Veil API key.',
  );
}

function countTotal(counts: Partial<Record<EntityType, number>>): number {
  let n = 0;
  for (const v of Object.values(counts)) n += v ?? 0;
  return n;
}

/**
 * The gateway as a Hono app. No module state: every dependency comes in `services`, so tests
 * build as many independent gateways as they like, and the same factory serves Node and Workers.
 */
export function createApp(services: Services): Hono<Env> {
  const app = new Hono<Env>();
  const log = services.logger;
  const metrics = services.metrics ?? createMetrics();
  const audit = services.compliance ? createRestoreAuditor(services.compliance.audit, services.compliance.known) : undefined;

  app.use('*', async (c, next) => {
    const requestId = newRequestId();
    c.set('requestId', requestId);
    const started = performance.now();
    await next();
    c.res.headers.set('x-request-id', requestId);
    const ms = performance.now() - started;
    // the route pattern, never the raw path: a path can hold PII (`/v1/models/219-09-9999`)
    const route = routePattern(c.req.path);
    metrics.observeRequest(route, c.res.status, ms);
    log.info('request', { requestId, method: c.req.method, route, status: c.res.status, ms: Math.round(ms * 10) / 10 });
  });

  app.onError((err, c) => {
    const requestId = c.get('requestId');
    // The caller went away (detection or the vault then fail with an abort): not a server error.
    if (c.req.raw.signal.aborted) {
      log.info('client closed request', { requestId, route: routePattern(c.req.path) });
      return new Response(null, { status: 499 });
    }
    if (isVeilError(err)) {
      if (err.code === 'upstream_unreachable' || err.code === 'upstream_timeout') {
        log.error('request failed', { requestId, code: err.code, status: err.status, ...connectionFailure(err.cause) });
      } else if (err.status >= 500) {
        log.error('request failed', { requestId, code: err.code, status: err.status, cause: causeName(err.cause) });
      }
      return errorResponse(c, err);
    }
    log.error('unhandled error', { requestId, error: causeName(err) });
    return errorResponse(c, internalError());
  });

  const unknownUrl = (c: Context) =>
    errorResponse(c, new VeilError(`Unknown endpoint ${c.req.method} ${safePath(c.req.path)}.`, { status: 404, type: 'invalid_request_error', code: 'unknown_url', retryable: false }));
  app.notFound(unknownUrl);

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    try {
      await services.detector.ready?.();
      await services.ready?.();
      return c.json({ status: 'ready' });
    } catch (e) {
      const reason = e instanceof NotReadyError ? e.reason : undefined;
      log.warn('not ready', { error: causeName(e), ...(reason ? { reason } : {}) });
      return c.json({ status: 'not_ready', ...(reason ? { reason } : {}) }, 503);
    }
  });
  // Metrics count entity types across every tenant: an admin key (or open mode) by default.
  app.get('/metrics', async (c) => {
    const access = services.metricsAccess ?? 'admin';
    if (access === 'off') return unknownUrl(c);
    if (access === 'admin') {
      const auth = await services.auth.authenticate(bearerOf(c));
      if (auth.kind === 'denied') throw deniedError(auth.reason);
      if (auth.kind === 'key' && auth.principal.role !== 'admin') throw forbidden('GET /metrics needs an admin-role Veil API key.', 'veil_admin_required');
    }
    return c.text(metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4' });
  });

  app.use('/v1/messages/*', anthropicErrors); // Anthropic-shaped errors there (src/surfaces)
  // Everything under /v1 needs a caller (open mode, or a valid Veil key).
  app.use('/v1/*', async (c, next) => {
    const bearer = bearerOf(c);
    const auth = await services.auth.authenticate(bearer);
    if (auth.kind === 'denied') throw deniedError(auth.reason);
    c.set('principal', auth.principal);
    c.set('forwardBearer', auth.kind === 'open' ? bearer : null);
    if (auth.kind === 'key' && services.upstream.forwardsCallerKey && !c.req.path.startsWith('/v1/messages')) {
      // A Veil key must never be forwarded, and there is no upstream key to use instead.
      throw new VeilError('This Veil gateway uses API keys but has no VEIL_UPSTREAM_API_KEY configured.', {
        status: 500,
        type: 'server_error',
        code: 'veil_misconfigured',
        retryable: false,
      });
    }
    await next();
  });

  const context = (c: Context<Env>, signal: AbortSignal): RequestContext => {
    const purpose = c.req.header('x-veil-purpose');
    return {
      principal: c.get('principal'),
      requestId: c.get('requestId'),
      signal,
      ...(purpose ? { purpose: purpose.slice(0, 200) } : {}),
    };
  };

  async function readJson(c: Context<Env>): Promise<unknown> {
    const type = c.req.header('content-type') ?? '';
    if (type && !/^application\/json\b/i.test(type)) {
      throw badRequest('The request body must be JSON (Content-Type: application/json).');
    }
    const text = await readBody(c.req.raw, c.req.header('content-length'), services.limits.maxBodyBytes);
    // before anything recursive (clone, stringify, walks) sees it
    const maxDepth = services.limits.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
    if (jsonDeeperThan(text, maxDepth)) throw tooDeep(maxDepth);
    try {
      return JSON.parse(text);
    } catch {
      throw badRequest('We could not parse the JSON body of your request. Make sure it is valid JSON.', null, 'invalid_json');
    }
  }

  /** Links the caller's connection to the upstream call: when the caller leaves, upstream is cancelled. */
  function upstreamAbort(c: Context<Env>): AbortController {
    const controller = new AbortController();
    const signal = c.req.raw.signal;
    if (signal.aborted) controller.abort();
    else signal.addEventListener('abort', () => controller.abort(), { once: true });
    return controller;
  }

  async function proxy(c: Context<Env>, endpoint: Endpoint): Promise<Response> {
    const client = services.upstream.client(c.get('forwardBearer'));
    const body = await readJson(c);
    const controller = upstreamAbort(c);
    const ctx = context(c, controller.signal);
    const policy = await services.policyFor(ctx.principal.tenantId);
    const t0 = performance.now();
    const s = await sanitizeRequest(
      endpoint,
      body,
      { detector: services.detector, vault: services.vault, policy, detectTimeoutMs: services.limits.detectTimeoutMs ?? DEFAULT_DETECT_TIMEOUT_MS, ...(audit ? { audit } : {}) },
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
        idleTimeoutMs: services.limits.streamIdleTimeoutMs,
        abortUpstream: () => controller.abort(),
        jsonContent,
        maxEventChars: services.limits.maxSseEventBytes ?? DEFAULT_MAX_SSE_EVENT_BYTES,
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
      throw isVeilError(mapped)
        ? mapped
        : new VeilError('The upstream API sent a response that is not JSON.', { status: 502, type: 'upstream_error', code: 'upstream_bad_response' });
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

  if (services.compliance) {
    registerRevealRoute(app as unknown as Parameters<typeof registerRevealRoute>[0], { vault: services.vault, compliance: services.compliance, policyFor: services.policyFor, maxBodyBytes: services.limits.maxBodyBytes });
    const erase = services.compliance.erase;
    if (erase) registerEraseRoute(app as unknown as Parameters<typeof registerEraseRoute>[0], { erase, maxBodyBytes: services.limits.maxBodyBytes });
  }
  app.post('/v1/chat/completions', (c) => proxy(c, 'chat'));
  app.post('/v1/completions', (c) => proxy(c, 'completions'));
  app.post('/v1/embeddings', (c) => proxy(c, 'embeddings'));
  registerSurfaces(app, services, metrics); // /v1/responses, /v1/messages (src/surfaces)
  registerRagRoutes(app, services); // /v1/veil/sanitize, /v1/veil/restore, collections (src/rag)

  // Model listing carries no user text: passed through as the upstream answers it.
  const models = async (c: Context<Env>, path: string) => {
    const client = services.upstream.client(c.get('forwardBearer'));
    const controller = upstreamAbort(c);
    try {
      const res = await client.get(path, { signal: controller.signal }).asResponse();
      return c.newResponse(await res.text(), res.status as 200, { ...passthroughHeaders(res.headers), 'content-type': 'application/json' });
    } catch (e) {
      const mapped = mapUpstreamError(e);
      if (mapped instanceof ClientAbortedError) return new Response(null, { status: 499 });
      throw mapped;
    }
  };
  app.get('/v1/models', (c) => models(c, '/models'));
  app.get('/v1/models/:model{.+}', async (c) => {
    const id = c.req.param('model');
    await refusePiiInPath(c, id);
    return models(c, `/models/${encodeURIComponent(id)}`);
  });

  /**
   * A path parameter is not masked (a placeholder would not name the model); one that holds a
   * validated identifier (pattern spans: email, SSN, card, phone, IBAN, IP) of a type the
   * tenant's policy masks is refused with 400 `veil_pii_in_path`, never forwarded. NER spans
   * are ignored here: model ids are not prose, and the model reads `claude-3-5-sonnet` as a
   * name. Fail closed: no detection, no forwarding.
   */
  async function refusePiiInPath(c: Context<Env>, value: string): Promise<void> {
    const ctx = context(c, upstreamAbort(c).signal);
    const policy = await services.policyFor(ctx.principal.tenantId);
    let spans;
    try {
      [spans] = await services.detector.detect([value], ctx.signal);
    } catch (e) {
      throw isVeilError(e) ? e : detectionUnavailable(e);
    }
    const types = [...new Set((spans ?? []).filter((sp) => sp.source === 'pattern' && shouldMask(policy, sp.type)).map((sp) => sp.type))];
    if (types.length > 0) throw piiInPath(types);
  }

  return app;
}

/**
 * The body as text, refusing more than `max` bytes: at once from Content-Length, else while
 * reading a chunked body (it is never buffered past the limit).
 */
export async function readBody(req: Request, contentLength: string | undefined, max: number): Promise<string> {
  if (contentLength !== undefined) {
    const n = Number(contentLength);
    if (!Number.isFinite(n) || n < 0) throw badRequest('Invalid Content-Length.');
    if (n > max) throw payloadTooLarge(max);
    return req.text();
  }
  if (!req.body) return '';
  const reader = req.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw payloadTooLarge(max);
    }
    parts.push(value);
  }
  const all = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.byteLength;
  }
  return new TextDecoder().decode(all);
}

/**
 * A path safe to quote in an error: segments of letters, `_`, `-` and `.` (and `v1`) as they
 * are, every other segment as `:param` (it may hold PII, and the caller's logs keep errors).
 */
function safePath(path: string): string {
  return path
    .slice(0, 512)
    .split('/')
    .map((seg) => (seg === '' || /^(?:v\d{1,2}|[A-Za-z_.-]{1,64})$/.test(seg) ? seg : ':param'))
    .join('/');
}

/** Error class names only: messages of foreign errors may quote input. */
function causeName(e: unknown): string {
  if (e instanceof VeilError) return `VeilError(${e.code ?? e.status})`;
  if (e instanceof Error) return e.name;
  return typeof e;
}
