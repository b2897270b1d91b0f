/**
 * Cloudflare Workers entry (edge preview). The same `createApp` as on Node, with what runs on
 * Workers today: the pattern detector (no NER model: ONNX in worker threads is Node-only) and
 * a vault scoped to one isolate (placeholders are restored within a request; they are not
 * stable across isolates). Configure with `wrangler secret put VEIL_UPSTREAM_API_KEY`.
 * For the full product (NER, encrypted PostgreSQL vault, KMS) run the Node server.
 */
import { createApp } from './api/app.js';
import { createUpstream } from './api/upstream.js';
import { openAuthenticator } from './auth/types.js';
import { loadConfig } from './core/config.js';
import { silentLogger } from './core/types.js';
import { createPatternDetector } from './detect/patterns/index.js';
import { DEFAULT_POLICY } from './policy/index.js';
import { createMemoryVault } from './vault/memory.js';

type WorkerEnv = Record<string, string | undefined>;

const apps = new WeakMap<object, ReturnType<typeof createApp>>();

function appFor(env: WorkerEnv): ReturnType<typeof createApp> {
  let app = apps.get(env);
  if (app) return app;
  const config = loadConfig(env);
  app = createApp({
    detector: createPatternDetector(),
    vault: createMemoryVault(),
    auth: openAuthenticator,
    upstream: createUpstream({
      baseURL: config.VEIL_UPSTREAM_URL,
      apiKey: config.VEIL_UPSTREAM_API_KEY,
      timeoutMs: config.VEIL_UPSTREAM_TIMEOUT_MS,
      maxRetries: config.VEIL_UPSTREAM_MAX_RETRIES,
    }),
    policyFor: () => DEFAULT_POLICY,
    logger: silentLogger,
    limits: { maxBodyBytes: config.VEIL_MAX_BODY_BYTES, streamIdleTimeoutMs: config.VEIL_STREAM_IDLE_TIMEOUT_MS },
  });
  apps.set(env, app);
  return app;
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: unknown): Response | Promise<Response> {
    return appFor(env).fetch(request, env, ctx as never);
  },
};
