/**
 * The gateway as a Hono app: `createApp(services)` wires the middleware (src/http/middleware/:
 * request id + access log, errors, auth, body limits) and the routes (src/http/routes/: health,
 * metrics, /openapi.json, the /v1 proxy, model listing, and with a database the audited reveal and erasure). No module state: every dependency comes in
 * `services`, so tests build as many independent gateways as they like, and the same factory
 * serves Node (src/runtime/node/main.ts) and Workers (src/runtime/workers.ts).
 */
import { Hono } from 'hono';
import type { Authenticator } from '../tenants/auth.js';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/types.js';
import type { Detector } from '../detect/types.js';
import type { Policy } from '../policy/index.js';
import type { Vault } from '../vault/types.js';
import { createRestoreAuditor } from '../audit/restore.js';
import type { Compliance } from '../compliance/index.js';
import { registerEraseRoute } from './routes/erase.js';
import { registerRevealRoute } from './routes/reveal.js';
import { anthropicErrors, type AnthropicUpstreamOptions } from '../surfaces/messages-route.js';
import { registerSurfaces } from '../surfaces/routes.js';
import { registerRagRoutes } from '../rag/routes.js';
import type { Env } from './context.js';
import { createMetrics, type Metrics } from './metrics.js';
import { accessLog } from './middleware/access-log.js';
import { requireCaller } from './middleware/auth.js';
import { onError, unknownEndpoint } from './middleware/errors.js';
import { healthRoutes } from './routes/health.js';
import { type MetricsAccess, metricsRoute } from './routes/metrics.js';
import { modelRoutes } from './routes/models.js';
import { openApiRoute } from './routes/openapi.js';
import { proxyRoutes } from './routes/proxy.js';
import type { Upstream } from './upstream.js';

export type { MetricsAccess } from './routes/metrics.js';

/** Everything the HTTP layer needs, built by the runtime entry (src/runtime/node/services.ts on Node). */
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
  /** Encrypted RAG collections (src/rag); absent without a database vault. */
  readonly rag?: import('../rag/collections.js').Collections;
  /** Extra readiness checks (database, model) for /readyz. */
  ready?(): Promise<void>;
  /**
   * Who may read GET /metrics (`VEIL_METRICS`): `admin` (default) an admin-role API key, or anyone
   * in open mode (no keys exist); `public` anyone; `off` nobody (404).
   */
  readonly metricsAccess?: MetricsAccess;
}

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

export function createApp(services: Services): Hono<Env> {
  const app = new Hono<Env>();
  const log = services.logger;
  const metrics = services.metrics ?? createMetrics();
  const { limits } = services;
  const maxJsonDepth = limits.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const audit = services.compliance ? createRestoreAuditor(services.compliance.audit, services.compliance.known) : undefined;

  app.use('*', accessLog(log, metrics));
  app.onError(onError(log));
  app.notFound(unknownEndpoint);

  healthRoutes(app, { detector: services.detector, ready: async () => services.ready?.(), log });
  metricsRoute(app, { metrics, auth: services.auth, access: services.metricsAccess ?? 'admin' });
  openApiRoute(app, {
    reveal: services.compliance !== undefined,
    erase: services.compliance?.erase !== undefined,
    collections: services.rag !== undefined,
    metrics: services.metricsAccess ?? 'admin',
  });

  // Everything under /v1 needs a caller (open mode, or a valid Veil key).
  app.use('/v1/messages/*', anthropicErrors); // Anthropic-shaped errors there (src/surfaces)
  app.use('/v1/*', requireCaller(services.auth, services.upstream.forwardsCallerKey));
  if (services.compliance) {
    const body = { maxBodyBytes: limits.maxBodyBytes, maxJsonDepth };
    registerRevealRoute(app, { vault: services.vault, compliance: services.compliance, policyFor: (t) => services.policyFor(t), ...body });
    const erase = services.compliance.erase;
    if (erase) registerEraseRoute(app, { erase, ...body });
  }
  proxyRoutes(app, {
    detector: services.detector,
    vault: services.vault,
    upstream: services.upstream,
    policyFor: (t) => services.policyFor(t),
    log,
    metrics,
    ...(audit ? { audit } : {}),
    limits: {
      maxBodyBytes: limits.maxBodyBytes,
      maxJsonDepth,
      streamIdleTimeoutMs: limits.streamIdleTimeoutMs,
      maxSseEventBytes: limits.maxSseEventBytes ?? DEFAULT_MAX_SSE_EVENT_BYTES,
      detectTimeoutMs: limits.detectTimeoutMs ?? DEFAULT_DETECT_TIMEOUT_MS,
    },
  });
  registerSurfaces(app, services, metrics); // /v1/responses, /v1/messages (src/surfaces)
  registerRagRoutes(app, services); // /v1/veil/sanitize, /v1/veil/restore, collections (src/rag)
  modelRoutes(app, { detector: services.detector, upstream: services.upstream, policyFor: (t) => services.policyFor(t) });
  return app;
}
