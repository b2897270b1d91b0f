/**
 * Cloudflare Workers entry (edge preview). The same `createApp` as on Node, with what runs on
 * Workers today: the pattern detector (no NER model: ONNX in worker threads is Node-only) and
 * a vault scoped to one isolate (placeholders are restored within a request; they are not
 * stable across isolates). Configure with `wrangler secret put VEIL_UPSTREAM_API_KEY`.
 * For the full product (NER, encrypted PostgreSQL vault, KMS) run the Node server.
 */
import { createApp, limitsFromConfig } from './api/app.js';
import { createUpstreamFromConfig } from './api/upstream.js';
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
    upstream: createUpstreamFromConfig(config),
    policyFor: () => DEFAULT_POLICY,
    logger: silentLogger,
    limits: limitsFromConfig(config),
  });
  apps.set(env, app);
  return app;
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: unknown): Response | Promise<Response> {
    return appFor(env).fetch(request, env, ctx as never);
  },
};
