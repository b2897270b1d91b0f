/**
 * Cloudflare Workers entry (edge preview). The same `createApp` as on Node, with what runs on
 * Workers today: the pattern detector (no NER model: ONNX in worker threads is Node-only) and
 * a vault scoped to one isolate (placeholders are restored within a request; they are not
 * stable across isolates). For the full product (NER, encrypted PostgreSQL vault, KMS) run the
 * Node server.
 *
 * Authentication is the Node gateway's (`vk_…` keys, the same 401s, checked by the same
 * middleware in src/http/app.ts), with the keys configured as a secret instead of a database:
 * `VEIL_API_KEY_HASHES` (src/tenants/static-keys.ts). Fail closed: with no key configured every
 * request is refused with 500 `veil_auth_not_configured`, unless `VEIL_OPEN_MODE=true` (local
 * development only: any caller is accepted). A configuration error answers every request with
 * 500 `veil_misconfigured`, naming the variable, never its value.
 */
import { createApp, limitsFromConfig } from '../http/app.js';
import { createUpstreamFromConfig } from '../http/upstream.js';
import { closedAuthenticator, createStaticKeyAuthenticator, parseApiKeyHashes } from '../tenants/static-keys.js';
import { openAuthenticator, type Authenticator } from '../tenants/auth.js';
import { loadConfig, type Config } from '../core/config.js';
import { misconfigured } from '../core/errors.js';
import { silentLogger } from '../core/types.js';
import { createPatternDetector } from '../detect/patterns/index.js';
import { DEFAULT_POLICY } from '../policy/index.js';
import { createMemoryVault } from '../vault/memory.js';

type WorkerEnv = Record<string, unknown>;
type App = { fetch(request: Request, env?: unknown, ctx?: never): Response | Promise<Response> };

const apps = new WeakMap<object, App>();

/** The authenticator the configuration asks for: keys, explicit open mode, or refuse all. */
export function workerAuthenticator(config: Config): Authenticator {
  if (config.VEIL_API_KEY_HASHES) return createStaticKeyAuthenticator(parseApiKeyHashes(config.VEIL_API_KEY_HASHES));
  return config.VEIL_OPEN_MODE ? openAuthenticator : closedAuthenticator;
}

/** Answers every request with one OpenAI-shaped configuration error. */
function misconfiguredApp(message: string): App {
  const body = JSON.stringify(
    misconfigured(message).toBody(),
  );
  return { fetch: () => new Response(body, { status: 500, headers: { 'content-type': 'application/json', 'x-should-retry': 'false' } }) };
}

function appFor(env: WorkerEnv): App {
  let app = apps.get(env);
  if (app) return app;
  const strings: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') strings[k] = v; // bindings that are not text are not configuration
  try {
    const config = loadConfig(strings);
    const auth = workerAuthenticator(config);
    app = createApp({
      detector: createPatternDetector(),
      vault: createMemoryVault(),
      auth,
      upstream: createUpstreamFromConfig(config),
      anthropic: { baseURL: config.VEIL_ANTHROPIC_UPSTREAM_URL, apiKey: config.VEIL_ANTHROPIC_UPSTREAM_API_KEY, timeoutMs: config.VEIL_UPSTREAM_TIMEOUT_MS },
      policyFor: () => DEFAULT_POLICY,
      logger: silentLogger,
      limits: limitsFromConfig(config),
      metricsAccess: config.VEIL_METRICS,
      async ready() {
        if (auth === closedAuthenticator) throw new Error('no API keys configured');
      },
    });
  } catch (e) {
    // Our own messages name the variable (loadConfig, parseApiKeyHashes), never a secret's value.
    app = misconfiguredApp(e instanceof Error && /^(Invalid configuration|VEIL_API_KEY_HASHES)/.test(e.message) ? e.message : 'Invalid configuration.');
  }
  apps.set(env, app);
  return app;
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: unknown): Response | Promise<Response> {
    return appFor(env).fetch(request, env, ctx as never);
  },
};
